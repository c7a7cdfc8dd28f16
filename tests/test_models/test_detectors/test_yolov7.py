# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The YOLOv7 detector: official parameter counts, deploy form, predict and
loss through mmdet's SingleStageDetector."""
import copy
import math
import os.path as osp

import pytest
import torch
from mmcv.cnn import fuse_conv_bn
from mmengine.config import Config

from mmdet.testing import demo_mm_inputs
from mmdet_dynamic.models.layers import switch_to_deploy
from mmdet_dynamic.registry import MODELS
from ...conftest import PROJECT_ROOT

CONFIGS = {
    'tiny': 'yolov7_tiny_8xb16-300e_coco.py',
    'L': 'yolov7_l_8xb16-300e_coco.py',
    'X': 'yolov7_x_8xb16-300e_coco.py',
    'W6': 'yolov7_w6_8xb8-300e_coco.py',
    'E6': 'yolov7_e6_8xb8-300e_coco.py',
    'D6': 'yolov7_d6_8xb8-300e_coco.py',
    'E6E': 'yolov7_e6e_8xb8-300e_coco.py',
}
# official whole models, 80 classes: training cfg / deploy cfg as built
# (Detect, RepConv unfused) / deploy fused (RepConv, Conv + BN, IDetect)
OFFICIAL = {
    'tiny': (6228762, 6227101, 6219709),
    'L': (37622682, 37620125, 36905341),
    'X': (71347394, 71344389, 71311741),
    'W6': (82312436, 70426236, 70394300),
    'E6': (111898292, 97246652, 97202940),
    'D6': (154709364, 133810044, 133757052),
    'E6E': (166408884, 151757244, 151687420),
}


def model_cfg(arch):
    cfg = Config.fromfile(
        osp.join(PROJECT_ROOT, 'configs', 'yolov7', CONFIGS[arch]))
    return copy.deepcopy(cfg.model)


def count(model):
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('arch', list(CONFIGS))
def test_official_parameter_counts(arch):
    train, as_built, fused = OFFICIAL[arch]
    model = MODELS.build(model_cfg(arch))
    assert count(model) == train
    head = model.bbox_head
    extra = sum(p.numel() for n, p in model.named_parameters()
                if 'implicit' in n or 'aux_convs' in n)
    assert count(model) - extra == as_built
    switch_to_deploy(model)
    assert not head.use_implicit and not len(model.neck.aux_convs)
    fuse_conv_bn(model)
    assert count(model) == fused


def test_l_backbone_and_head_split():
    model = MODELS.build(model_cfg('L'))
    assert count(model.backbone) == 13371808
    assert count(model.neck) + count(model.bbox_head) == 24250874
    assert count(model.bbox_head) == 460282


def small_model(arch='tiny', num_classes=3, **head):
    torch.manual_seed(0)
    cfg = model_cfg(arch)
    cfg.bbox_head.num_classes = num_classes
    cfg.bbox_head.update(head)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def batch(size=128, n=2, training=False, model=None):
    data = demo_mm_inputs(
        n, [[3, size, size]] * n, num_items=[3, 2][:n], num_classes=3)
    return model.data_preprocessor(data, training)


@pytest.mark.parametrize('arch', ['tiny', 'L', 'W6'])
def test_deploy_form_gives_the_same_outputs(arch):
    model = small_model(arch).eval()
    for m in model.modules():  # non-trivial BN statistics and implicits
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        before = model._forward(x)[0]
        switch_to_deploy(model)
        after = model._forward(x)[0]
    assert len(before) == len(after) == len(model.bbox_head.strides)
    for b, a in zip(before, after):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # a deploy config builds the same structure and takes the weights
    cfg = model_cfg(arch)
    cfg.bbox_head.num_classes = 3
    for key in ('backbone', 'neck', 'bbox_head'):
        cfg[key]['deploy'] = True
    deployed = MODELS.build(cfg)
    deployed.load_state_dict(model.state_dict())


def test_predict_returns_det_data_samples():
    model = small_model().eval()
    data = batch(model=model)
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    assert len(results) == 2
    for r in results:
        inst = r.pred_instances
        assert inst.bboxes.shape[1] == 4
        assert len(inst.bboxes) == len(inst.scores) == len(inst.labels)
        assert len(inst.bboxes) <= 300
        assert (inst.scores > 0.001).all()
        assert inst.labels.max() < 3
        h, w = r.ori_shape
        assert (inst.bboxes[:, 0::2] <= w).all()
        assert (inst.bboxes[:, 1::2] <= h).all()


def test_decode_matches_the_official_formula():
    model = small_model().eval()
    head = model.bbox_head
    pred = torch.randn(1, 3 * 8, 4, 5)
    preds = [pred, torch.randn(1, 24, 2, 3), torch.randn(1, 24, 1, 2)]
    out = head.decode(preds)
    assert out.shape == (1, 3 * (20 + 6 + 2), 8)
    y = pred.view(1, 3, 8, 4, 5).permute(0, 1, 3, 4, 2).sigmoid()
    # anchor 1, row 2, column 3 of level 0 (stride 8)
    a, r, c = 1, 2, 3
    k = a * 20 + r * 5 + c
    cx = (y[0, a, r, c, 0] * 2 - 0.5 + c) * 8
    cy = (y[0, a, r, c, 1] * 2 - 0.5 + r) * 8
    w = (y[0, a, r, c, 2] * 2)**2 * head.anchors[0][a][0]
    h = (y[0, a, r, c, 3] * 2)**2 * head.anchors[0][a][1]
    torch.testing.assert_close(out[0, k, :4], torch.stack([cx, cy, w, h]))
    torch.testing.assert_close(out[0, k, 4:], y[0, a, r, c, 4:])


@pytest.mark.parametrize('arch', ['tiny', 'W6'])
def test_loss_and_backward(arch):
    model = small_model(arch).train()
    data = batch(128, model=model, training=True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert set(losses) == {'loss_bbox', 'loss_obj', 'loss_cls'}
    total = sum(losses.values())
    assert torch.isfinite(total) and total > 0
    total.backward()
    if arch == 'W6':  # the auxiliary head is trained
        assert model.bbox_head.aux_convs[0].weight.grad is not None
        assert model.neck.aux_convs[0].conv.weight.grad is not None


def test_bias_priors():
    model = small_model(num_classes=3)
    head = model.bbox_head
    b = head.convs[0].bias.view(3, -1)
    # default uniform init is within 1/sqrt(fan_in) of 0
    bound = 1 / 128**0.5
    assert (b[:, 4] - math.log(8 / (640 / 8)**2)).abs().max() <= bound
    assert (b[:, 5:] - math.log(0.6 / (3 - 0.99))).abs().max() <= bound
