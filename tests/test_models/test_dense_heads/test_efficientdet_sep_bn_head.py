# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""EfficientDet: the separable-conv head with a BN per level, D0-D7 sizes
against the paper, and the cascade around EfficientDet-D0."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmdet.testing import demo_mm_inputs
from mmdet_dynamic.registry import MODELS
from ...conftest import PROJECT_ROOT

# paper's whole-detector params (M), rounded to two significant digits
PAPER_PARAMS = {0: 3.9, 1: 6.6, 2: 8.1, 3: 12, 4: 21, 5: 34, 6: 52, 7: 52}


def config(name):
    return Config.fromfile(osp.join(PROJECT_ROOT, 'configs', name))


def make_head(**kwargs):
    cfg = copy.deepcopy(
        config('efficientdet/efficientdet_d0_40i_raccoon.py').model.bbox_head)
    cfg.update(kwargs)
    head = MODELS.build(cfg)
    head.init_weights()
    return head.eval()


def test_head_shapes_and_shared_convs():
    head = make_head(num_classes=3)
    sizes = [16, 8, 4, 2, 1]
    feats = tuple(torch.rand(2, 64, s, s) for s in sizes)
    cls_scores, bbox_preds = head(feats)
    assert [tuple(c.shape) for c in cls_scores] == [(2, 9 * 3, s, s)
                                                    for s in sizes]
    assert [tuple(b.shape) for b in bbox_preds] == [(2, 9 * 4, s, s)
                                                    for s in sizes]
    # one set of conv weights for all levels, a BN per level and conv
    assert len(head.cls_net['convs']) == 3
    assert all(len(norms) == 5 for norms in head.cls_net['norms'])
    assert head.cls_net['norms'][0][0] is not head.cls_net['norms'][0][1]
    # depthwise without bias, pointwise with bias (SeparableConv2D)
    dw, pw = head.cls_net['convs'][0]
    assert dw.groups == 64 and dw.bias is None and pw.bias is not None


def test_per_level_bn_changes_only_its_level():
    head = make_head()
    feats = tuple(torch.rand(1, 64, s, s) for s in (8, 4, 2, 2, 1))
    with torch.no_grad():
        before, _ = head(feats)
        head.cls_net['norms'][1][2].running_mean.add_(1.0)
        after, _ = head(feats)
    changed = [not torch.allclose(a, b) for a, b in zip(after, before)]
    assert changed == [False, False, True, False, False]


def test_focal_prior_bias():
    head = make_head()
    bias = head.cls_net['out'][1].bias
    assert torch.allclose(bias, torch.full_like(bias, -4.59512), atol=1e-4)


@pytest.mark.parametrize('phi', list(PAPER_PARAMS))
def test_whole_detector_size_matches_the_paper(phi):
    cfg = config(f'efficientdet/efficientdet_d{phi}_8xb16-300e_coco.py')
    model = MODELS.build(copy.deepcopy(cfg.model))
    params = sum(p.numel() for p in model.parameters()) / 1e6
    # the paper rounds to two significant digits; within 2.5 %
    assert abs(params / PAPER_PARAMS[phi] - 1) < 0.025
    depth = 3 + phi // 3
    assert len(model.bbox_head.cls_net['convs']) == depth
    assert model.bbox_head.in_channels == model.neck.out_channels
    if phi >= 6:
        assert model.neck.fusion == 'sum'


def test_dynamic_cascade_wraps_efficientdet():
    torch.manual_seed(0)
    cfg = config('dynamicdet/dy-efficientdet_d0_40i_raccoon.py')
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    assert type(model.detector1).__name__ == 'EfficientDet'
    assert type(model.detector1.backbone).__name__ == 'EfficientNet'
    assert model.detector1.bbox_head is not model.detector2.bbox_head
    data = demo_mm_inputs(2, [[3, 128, 128]] * 2, num_items=[2, 1],
                          num_classes=2)
    for s in data['data_samples']:
        s.gt_instances.labels[:] = 0
    batch = model.data_preprocessor(copy.deepcopy(data), True)
    model.train()
    losses = model.loss(batch['inputs'], batch['data_samples'])
    assert {'d1.loss_cls', 'd2.loss_cls', 'd1.loss_bbox'} <= set(losses)
    model.eval()
    batch = model.data_preprocessor(copy.deepcopy(data), False)
    model.set_threshold(0.0)
    with torch.no_grad():
        out = model.predict(batch['inputs'], batch['data_samples'])
    assert [s.route for s in out] == ['hard', 'hard']
