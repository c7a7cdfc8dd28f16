# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Dy-YOLOv7: DynamicDet's YOLO cascade layout (router levels, fusion
points) and the official parameter counts."""
import copy

import pytest
import torch

from mmdet_dynamic.models.layers import backbone_stages
from mmdet_dynamic.registry import MODELS
from .conftest import load_cfg


def count(module):
    return sum(p.numel() for p in module.parameters())


# official DynamicDet step-2 totals, router and composite connection
OFFICIAL = {
    'dy-yolov7_l_step1_coco.py': (80621333, 2075041, 3300928),
    'dy-yolov7_x_step1_coco.py': (151093149, 3241801, 5156560),
    'dy-yolov7_w6_step1_coco.py': (147364049, 1894753, 4609664),
}


@pytest.mark.parametrize('name', list(OFFICIAL))
def test_official_parameter_counts(name):
    total, router, composite = OFFICIAL[name]
    model = MODELS.build(copy.deepcopy(load_cfg(name).model))
    assert count(model) == total
    assert count(model.router) == router
    assert count(model.composite) == composite
    # step 1 of the official code has no router
    assert count(model) - count(model.router) == total - router


def test_l_parts():
    model = MODELS.build(copy.deepcopy(load_cfg('dy-yolov7_l_step1_coco.py')
                                       .model))
    for det in (model.detector1, model.detector2):
        assert count(det.backbone) == 13371808
        assert count(det.neck) + count(det.bbox_head) == 24250874
    assert model.detector1.bbox_head is not model.detector2.bbox_head
    # router FC 2880 -> 720 -> 1 over five levels
    assert model.router.fc1.in_features == 2880
    assert model.router.fc1.out_features == 720
    # 15 biased 1x1 convs, no norm, official (non-zero) init
    convs = list(model.composite.convs.values())
    assert len(convs) == 15
    assert all(c.norm_cfg is None and c.conv.bias is not None for c in convs)


@pytest.mark.parametrize('arch,strides,router,fusion', [
    ('L', [2, 4, 8, 16, 32], [64, 256, 512, 1024, 1024],
     [64, 128, 256, 512, 1024]),
    ('W6', [2, 4, 8, 16, 32, 64], [64, 128, 256, 512, 768, 1024],
     [128, 256, 512, 768, 1024]),
])
def test_dynamicdet_layout_levels(arch, strides, router, fusion):
    from mmdet_dynamic.models.backbones import EELAN
    backbone = EELAN(arch=arch)
    stages = backbone_stages(backbone, 'dynamicdet')
    assert [s.stride for s in stages.stages] == strides
    assert stages.router_channels == router
    assert stages.fusion_channels == fusion
    if arch == 'L':
        # official router inputs: layers 2 (stride-2 conv), 11, 24, 37, 50
        assert stages.stages[0].module == 'stem.2'
        # fusion right after each down-sampling layer: after the stem's
        # stride-2 conv, after the stride-4 conv, after each MP
        assert stages.stages[0].fusion_module == 'stem.2'
        assert stages.stages[1].fusion_module == 'stage1.0'
        for k in (2, 3, 4):
            assert stages.stages[k].fusion_module == f'stage{k}.1'
        assert stages.fused == [0, 1, 2, 3, 4]
    else:
        assert stages.fused == [1, 2, 3, 4, 5]
        assert stages.stages[1].fusion_module == 'stage1.1'
    for s in stages.stages:  # every declared name exists on the backbone
        backbone.get_submodule(s.module)
        if s.fusion_module is not None:
            backbone.get_submodule(s.fusion_module)
    # the CBNetV2 layout of the same backbone is unchanged
    cb = backbone_stages(backbone)
    assert cb.fused == list(range(1, len(cb.stages)))
    assert cb.routed == list(backbone.out_indices)


def test_layout_is_refused_for_other_backbones():
    from mmdet.models.backbones import ResNet
    with pytest.raises(ValueError, match="'dynamicdet' cascade layout"):
        backbone_stages(ResNet(18), 'dynamicdet')
    with pytest.raises(ValueError, match='unknown cascade layout'):
        backbone_stages(ResNet(18), 'cbnet')


def test_fusion_enters_after_each_downsampling():
    """In B2, each declared fusion module runs on its usual input plus the
    composite input of its level (sources j >= k), nothing else."""
    torch.manual_seed(0)
    cfg = copy.deepcopy(load_cfg('dy-yolov7_tiny_40i_raccoon.py').model)
    model = MODELS.build(cfg).eval()
    model.init_weights()
    x = torch.rand(1, 3, 64, 64)
    inputs, outputs, handles = {}, {}, []
    for k, s in enumerate(model.stages2.stages):
        fusion = model.detector2.backbone.get_submodule(s.fusion_module)
        handles.append(fusion.register_forward_pre_hook(
            lambda m, a, k=k: inputs.__setitem__(k, a[0])))
        handles.append(fusion.register_forward_hook(
            lambda m, a, o, k=k: outputs.__setitem__(k, o)))
    with torch.no_grad():
        feats1, _ = model.run_backbone1(x)
        inputs.clear(), outputs.clear()
        model.run_backbone2(x, feats1)
        for h in handles:
            h.remove()
        sources = [feats1[k] for k in model.stages1.fused]
        assert model.stages2.fused == [0, 1, 2, 3, 4]
        for k in model.stages2.fused:
            module = model.detector2.backbone.get_submodule(
                model.stages2.stages[k].fusion_module)
            # the hooks above run before the cascade's: they see the input
            # without the composite
            fused = inputs[k] + model.composite(k, sources,
                                                inputs[k].shape[-2:])
            torch.testing.assert_close(module(fused), outputs[k])
            assert not torch.allclose(module(inputs[k]), outputs[k])
    # tiny: the stride-2 level, then strides 4..32
    assert [s.stride for s in model.stages2.stages] == [2, 4, 8, 16, 32]


def test_tiny_cascade_routes_and_predicts():
    torch.manual_seed(0)
    cfg = copy.deepcopy(load_cfg('dy-yolov7_tiny_40i_raccoon.py').model)
    model = MODELS.build(cfg)
    model.init_weights()
    model.eval()
    from mmdet.testing import demo_mm_inputs
    data = demo_mm_inputs(2, [[3, 96, 96]] * 2, num_items=[2, 1],
                          num_classes=2)
    for s in data['data_samples']:
        s.gt_instances.labels[:] = 0
    data = model.data_preprocessor(data, False)
    for threshold, route in ((0.0, 'hard'), (1.0, 'easy')):
        model.set_threshold(threshold)
        with torch.no_grad():
            out = model.predict(data['inputs'],
                                copy.deepcopy(data['data_samples']))
        assert [s.route for s in out] == [route, route]
        assert all(0 < s.difficulty_score < 1 for s in out)
        assert all(s.pred_instances.bboxes.shape[1] == 4 for s in out)
