# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""mmdet's own detector configs wrapped as cascades: RTMDet (CSPNeXt) and
the DETR family (DETR, Deformable DETR, two-stage Deformable DETR, DINO),
shrunk for the CPU: build, joint loss, router loss and predict on real
images with mixed routes in a batch."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmdet_dynamic.registry import MODELS
from .conftest import preprocess, randomise_bn, raccoon_batch

R18 = dict(type='ResNet', depth=18, num_stages=4, norm_eval=False,
           frozen_stages=-1, norm_cfg=dict(type='BN', requires_grad=True),
           init_cfg=None)


def _mmdet_config(name):
    """One of the configs installed with mmdet (mmdet/.mim/configs)."""
    import mmdet
    return Config.fromfile(
        osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', name))


def _detr(name):
    cfg = _mmdet_config(name)
    model = copy.deepcopy(cfg.model)
    indices = model.backbone.out_indices
    model.backbone = dict(R18, out_indices=indices)
    model.neck.in_channels = [64 * 2**i for i in indices]
    model.encoder.num_layers = 1
    model.decoder.num_layers = 1
    model.num_queries = 20
    model.test_cfg.max_per_img = 20
    model.bbox_head.num_classes = 1
    if 'dn_cfg' in model:
        model.dn_cfg.group_cfg.num_dn_queries = 10
    return model


def _rtmdet():
    cfg = _mmdet_config('rtmdet/rtmdet_tiny_8xb32-300e_coco.py')
    model = copy.deepcopy(cfg.model)
    model.backbone.init_cfg = None
    model.bbox_head.num_classes = 1
    return model


FAMILIES = {
    'RTMDet-tiny': _rtmdet,
    'DETR': lambda: _detr('detr/detr_r50_8xb2-150e_coco.py'),
    'DeformableDETR': lambda: _detr(
        'deformable_detr/deformable-detr_r50_16xb2-50e_coco.py'),
    'DeformableDETR two-stage': lambda: _detr(
        'deformable_detr/deformable-detr-refine-twostage_r50_16xb2-50e_coco'
        '.py'),
    'DINO': lambda: _detr('dino/dino-4scale_r50_8xb2-12e_coco.py'),
}


def _r18(name, **head):
    """An mmdet config's detector on ResNet-18 (its own out_indices), one
    class; ``head`` updates its head (for a cheaper CPU run)."""
    model = copy.deepcopy(_mmdet_config(name).model)
    indices = model.backbone.get('out_indices', (0, 1, 2, 3))
    model.backbone = dict(R18, out_indices=indices)
    channels = [64 * 2**i for i in indices]
    model.neck.in_channels = (
        channels if isinstance(model.neck.in_channels, (list, tuple)) else
        channels[-1])
    if 'roi_head' in model:
        heads = model.roi_head.bbox_head
        for h in heads if isinstance(heads, list) else [heads]:
            h.num_classes = 1
    elif 'bbox_head' in model:
        model.bbox_head.num_classes = 1
    for key, value in head.items():
        model[key].update(value)
    return model


# Other mmdet families, each wrapped exactly as the README's wrap does it
# (detector=its model config): a lighter check than the one above.
MORE_FAMILIES = {
    'RetinaNet': lambda: _r18('retinanet/retinanet_r50_fpn_1x_coco.py'),
    'FCOS': lambda: _r18('fcos/fcos_r50-caffe_fpn_gn-head_1x_coco.py'),
    'ATSS': lambda: _r18('atss/atss_r50_fpn_1x_coco.py'),
    'GFL': lambda: _r18('gfl/gfl_r50_fpn_1x_coco.py'),
    'TOOD': lambda: _r18('tood/tood_r50_fpn_1x_coco.py'),
    'YOLOF': lambda: _r18('yolof/yolof_r50-c5_8xb8-1x_coco.py'),
    'CenterNet': lambda: _r18(
        'centernet/centernet-update_r50-caffe_fpn_ms-1x_coco.py'),
    'Cascade R-CNN': lambda: _r18(
        'cascade_rcnn/cascade-rcnn_r50_fpn_1x_coco.py',
        train_cfg=dict(rpn_proposal=dict(nms_pre=200, max_per_img=100)),
        test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=100))),
    'Sparse R-CNN': lambda: _r18(
        'sparse_rcnn/sparse-rcnn_r50_fpn_1x_coco.py',
        rpn_head=dict(num_proposals=20),
        test_cfg=dict(rcnn=dict(max_per_img=20))),
    'Conditional DETR': lambda: _detr(
        'conditional_detr/conditional-detr_r50_8xb2-50e_coco.py'),
    'DAB-DETR': lambda: _detr('dab_detr/dab-detr_r50_8xb2-50e_coco.py'),
}


# mmdet's Deformable DETR and DINO compute their loss in training mode
# only: their router learns the AP gain (DETR's loss works either way)
TARGETS = {'DeformableDETR': 'ap_gain', 'DeformableDETR two-stage': 'ap_gain',
           'DINO': 'ap_gain'}


def _cascade(detector, router_target='loss'):
    """The user's wrap: the detector config as it is, its backbone also at
    model.backbone (where mmdet's tools look for it)."""
    return dict(type='DynamicCascadeDetector',
                backbone=copy.deepcopy(detector['backbone']),
                detector=detector, router_target=router_target)


def _check_both_phases(model, batch):
    """Joint phase: both detectors' losses, finite, gradients reaching
    both backbones; router phase: the per-image losses of each detector and
    a finite router loss."""
    model.train()
    data = preprocess(model, batch, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert any(k.startswith('d1.') for k in losses)
    assert any(k.startswith('d2.') for k in losses)
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum()
                                                                for x in v)
                for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    for det in (model.detector1, model.detector2):
        assert any(p.grad is not None and p.grad.abs().sum() > 0
                   for p in det.backbone.parameters())
    model.phase = 'router'
    model.train()
    out = model.loss(data['inputs'], data['data_samples'])
    assert torch.isfinite(out['loss_router'])
    assert model.last_loss_diffs.shape == (len(batch['data_samples']), )


@pytest.mark.slow
@pytest.mark.parametrize('family', list(FAMILIES))
def test_family_trains_routes_and_predicts(family, raccoon_coco):
    torch.manual_seed(0)
    model = MODELS.build(
        _cascade(FAMILIES[family](), TARGETS.get(family, 'loss')))
    model.init_weights()
    randomise_bn(model)
    assert not model.share_heads and not model.two_stage
    batch = raccoon_batch(raccoon_coco, 4)
    _check_both_phases(model, batch)
    # predict with both routes in one batch, equal to each image alone
    model.eval()
    data = preprocess(model, batch, False)
    with torch.no_grad():
        logits = model.difficulty_logits(data['inputs'],
                                         data['data_samples'])
        model.set_threshold(float(logits.median().sigmoid()))
        mixed = model.predict(data['inputs'],
                              copy.deepcopy(data['data_samples']))
        assert {s.metainfo['route'] for s in mixed} == {'easy', 'hard'}
        for i in range(4):
            alone = model.predict(data['inputs'][i:i + 1],
                                  copy.deepcopy(data['data_samples'][i:i +
                                                                     1]))[0]
            assert alone.metainfo['route'] == mixed[i].metainfo['route']
            # untrained heads give many near-equal scores, whose order a
            # batch's float rounding may swap: compare the top scores
            top = [s.pred_instances.scores.sort(descending=True)[0][:10]
                   for s in (alone, mixed[i])]
            torch.testing.assert_close(top[0], top[1], atol=1e-4, rtol=1e-3)


def test_share_heads_is_refused_for_detr_like_detectors():
    with pytest.raises(ValueError, match='share_heads=True is not supported '
                       'for DETR-like detectors'):
        MODELS.build(dict(_cascade(FAMILIES['DETR']()), share_heads=True))


def test_loss_target_is_refused_where_mmdet_has_no_eval_loss():
    """DINO's loss exists only in training mode, the router phase scores
    frozen detectors: the switch names the option that works."""
    model = MODELS.build(_cascade(FAMILIES['DINO']()))
    with pytest.raises(ValueError, match="mmdet's DINO computes its loss "
                       "only in training mode.*router_target='ap_gain'"):
        model.phase = 'router'


@pytest.mark.slow
@pytest.mark.parametrize('family', list(MORE_FAMILIES))
def test_more_families_train_and_route(family, raccoon_coco):
    """Build, a joint step whose gradients reach both backbones, the router
    phase's loss, and a prediction with both routes in one batch."""
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info('epoch', 0)  # TOOD reads it
    torch.manual_seed(0)
    model = MODELS.build(_cascade(MORE_FAMILIES[family]()))
    model.init_weights()
    randomise_bn(model)
    batch = raccoon_batch(raccoon_coco, 2)
    _check_both_phases(model, batch)
    model.eval()
    data = preprocess(model, batch, False)
    with torch.no_grad():
        logits = model.difficulty_logits(data['inputs'],
                                         data['data_samples'])
        model.set_threshold(float(logits.mean().sigmoid()))
        results = model.predict(data['inputs'], data['data_samples'])
    assert {s.metainfo['route'] for s in results} == {'easy', 'hard'}


def test_detectors_of_no_supported_family_are_refused():
    """SOLO (a single-stage instance segmentor: no box head, its own
    feature path) is none of the single-stage, two-stage and DETR-like
    families: refused at build time, naming the families that work."""
    with pytest.raises(TypeError, match='got SOLO, which cannot be split'):
        MODELS.build(_cascade(_r18('solo/solo_r50_fpn_1x_coco.py')))
