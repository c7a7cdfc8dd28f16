# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""DynamicCascadeDetector: building, composite connection, router, routes,
mixed batches, phases and errors."""
import copy

import pytest
import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.runner import save_checkpoint

from mmdet.registry import MODELS
from .conftest import (build_model, load_cfg, preprocess, randomise_bn,
                       raccoon_batch)

FASTER = 'dy-faster-rcnn_r18_fpn_40i_raccoon.py'
YOLO = 'dy-yolox_eelan-tiny_40i_raccoon.py'
MASK = 'dy-mask-rcnn_r18_fpn_40i_balloon.py'


def test_structure_shared_and_separate_heads():
    faster = build_model(FASTER)
    assert faster.share_heads and faster.detector2.roi_head is \
        faster.detector1.roi_head
    assert faster.detector2.backbone is not faster.detector1.backbone
    yolo = build_model(YOLO)
    assert not yolo.share_heads
    assert yolo.detector2.bbox_head is not yolo.detector1.bbox_head
    # 4 backbone stages -> 4 + 3 + 2 + 1 composite convs
    assert len(faster.composite.convs) == 10


def test_composite_connection_starts_at_zero(batch4):
    """B2 with the zero-initialised connection equals a plain B2."""
    model = build_model(FASTER).eval()
    inputs = preprocess(model, batch4, False)['inputs']
    with torch.no_grad():
        feats1, _ = model.backbone1(inputs)
        cascaded = model.backbone2(inputs, feats1)
        plain = model.detector2.backbone(inputs)
    for a, b in zip(cascaded, plain):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # and it is trainable: gradients reach the connection's norm weights
    model.train()
    feats1, _ = model.backbone1(inputs)
    sum(f.mean() for f in model.backbone2(inputs, feats1)).backward()
    assert all(c.norm.weight.grad is not None
               for c in model.composite.convs.values())


def test_router_flops_below_0_1_percent_of_detector1(batch4):
    model = build_model(FASTER).eval()
    data = preprocess(model, batch4, False)
    inputs, samples = data['inputs'][:1], data['data_samples'][:1]
    with torch.no_grad():
        _, out1 = model.backbone1(inputs)
    router_flops = FlopAnalyzer(model.router, (out1, )).total()
    det1 = model.detector1
    det1_flops = FlopAnalyzer(
        _TensorMode(det1, samples), (inputs, )).total()
    assert 0 < router_flops < 1e-3 * det1_flops


class _TensorMode(torch.nn.Module):

    def __init__(self, det, samples):
        super().__init__()
        self.det, self.samples = det, samples

    def forward(self, x):
        return self.det(x, self.samples, mode='tensor')


def test_router_scores_in_unit_interval(batch4):
    model = build_model(FASTER).eval()
    data = preprocess(model, batch4, False)
    with torch.no_grad():
        _, out1 = model.backbone1(data['inputs'])
        phi = model.router(out1)
    assert phi.shape == (4, ) and torch.all((phi > 0) & (phi < 1))


def _route_counts(model, data):
    """Run predict while recording who ran on which images."""
    seen = dict(b2=[], d1=[], d2=[])
    hooks = [
        model.detector2.backbone.stem.register_forward_hook(
            lambda m, i, o: seen['b2'].append(i[0].detach().clone()))
        if hasattr(model.detector2.backbone, 'stem') else
        model.detector2.backbone.conv1.register_forward_hook(
            lambda m, i, o: seen['b2'].append(i[0].detach().clone())),
        model.detector1.bbox_head.register_forward_hook(
            lambda m, i, o: seen['d1'].append(i[0][0].shape[0])),
        model.detector2.bbox_head.register_forward_hook(
            lambda m, i, o: seen['d2'].append(i[0][0].shape[0])),
    ]
    with torch.no_grad():
        results = model.predict(data['inputs'], data['data_samples'])
    for h in hooks:
        h.remove()
    return results, seen


def _set_mixed_threshold(model, data):
    with torch.no_grad():
        _, out1 = model.backbone1(data['inputs'])
        # a fresh router scores every image near 0.5: centre and spread its
        # logits so that the four images get clearly different scores
        logits = torch.logit(model.router(out1).double())
        scale = 2.0 / float(logits.std())
        fc2 = model.router.fc2
        fc2.weight.mul_(scale)
        fc2.bias.copy_(scale * (fc2.bias - float(logits.mean())))
        phi = model.router(out1)
    low, high = phi.sort().values[1:3].tolist()
    # midway between the 2nd and 3rd score: 2 easy, 2 hard, and far enough
    # from both that batch vs single-image float noise cannot flip a route
    assert high - low > 1e-4
    model.set_threshold((low + high) / 2)
    hard = phi > model.test_cfg['threshold']
    assert hard.sum() == 2
    return hard


def test_easy_images_never_reach_b2_d2_hard_never_reach_d1(batch4):
    model = build_model(YOLO)
    randomise_bn(model)
    model.eval()
    data = preprocess(model, batch4, False)
    hard = _set_mixed_threshold(model, data)
    results, seen = _route_counts(model, data)
    assert [r.route for r in results] == [
        'hard' if h else 'easy' for h in hard.tolist()
    ]
    # B2 ran once, on exactly the hard images
    assert len(seen['b2']) == 1
    torch.testing.assert_close(seen['b2'][0], data['inputs'][hard],
                               rtol=0, atol=0)
    assert seen['d1'] == [2] and seen['d2'] == [2]

    model.set_threshold(1.0)  # all easy: B2 and D2 never run
    results, seen = _route_counts(model, data)
    assert {r.route for r in results} == {'easy'}
    assert seen['b2'] == [] and seen['d2'] == [] and seen['d1'] == [4]
    model.set_threshold(0.0)  # all hard: D1 never runs
    results, seen = _route_counts(model, data)
    assert {r.route for r in results} == {'hard'}
    assert seen['d1'] == [] and seen['d2'] == [4]
    assert all(0 < r.difficulty_score < 1 for r in results)


@pytest.mark.parametrize('config', [FASTER, YOLO])
def test_mixed_batch_equals_images_alone(config, batch4):
    model = build_model(config)
    randomise_bn(model)
    model.eval()
    data = preprocess(model, batch4, False)
    _set_mixed_threshold(model, data)
    with torch.no_grad():
        batch_results = model.predict(data['inputs'],
                                      copy.deepcopy(data['data_samples']))
        for i in range(4):
            alone = model.predict(data['inputs'][i:i + 1],
                                  copy.deepcopy(data['data_samples'][i:i +
                                                                     1]))[0]
            ref = batch_results[i]
            assert ref.route == alone.route
            assert ref.img_id == alone.img_id
            for key in ('bboxes', 'scores', 'labels'):
                a = ref.pred_instances[key]
                b = alone.pred_instances[key]
                assert a.shape == b.shape
                torch.testing.assert_close(
                    a.float(), b.float(), rtol=1e-5, atol=1e-5)


def test_tensor_mode_on_both_routes(batch4):
    model = build_model(YOLO).eval()
    data = preprocess(model, batch4, False)
    for route in ('easy', 'hard'):
        model.test_cfg['tensor_route'] = route
        with torch.no_grad():
            out = model(data['inputs'], data['data_samples'], mode='tensor')
        assert out[0].shape == (4, )  # router scores first
        cls_scores = out[1]
        assert [tuple(c.shape[-2:]) for c in cls_scores] == [
            (12, 12), (6, 6), (3, 3)]


def test_bbox_head_proxy_reaches_both_heads():
    """What mmdet's YOLOXModeSwitchHook does to `model.bbox_head`."""
    model = build_model(YOLO)
    assert not model.detector1.bbox_head.use_l1
    model.bbox_head.use_l1 = True
    assert model.detector1.bbox_head.use_l1
    assert model.detector2.bbox_head.use_l1


def test_init_detectors_from_single_checkpoint(tmp_path):
    base = load_cfg(FASTER)
    single = MODELS.build(copy.deepcopy(base.model.detector))
    single.init_weights()
    ckpt = str(tmp_path / 'faster.pth')
    save_checkpoint(dict(state_dict=single.state_dict()), ckpt)
    model = build_model(FASTER, init_detectors_from=ckpt)
    ref = single.state_dict()
    for det in (model.detector1, model.detector2):
        for key, value in det.state_dict().items():
            torch.testing.assert_close(value, ref[key], rtol=0, atol=0)


def test_router_phase_freezes_detectors():
    model = build_model(FASTER, phase='router')
    model.train()
    assert all(p.requires_grad for p in model.router.parameters())
    assert not any(p.requires_grad for p in model.detector1.parameters())
    assert not any(m.training for m in model.detector2.modules())
    model.phase = 'joint'
    model.train()
    assert all(p.requires_grad for p in model.detector1.parameters())
    assert model.detector2.backbone.training


def test_bad_input_messages():
    cfg = load_cfg(FASTER)
    with pytest.raises(ValueError, match=r'threshold must be in \[0, 1\]'):
        build_model(FASTER, test_cfg=dict(threshold=1.5))
    model = build_model(FASTER)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        model.set_threshold(-0.1)
    with pytest.raises(ValueError, match="'joint', 'router'"):
        model.phase = 'warmup'

    detr = dict(
        type='DynamicCascadeDetector',
        detector=dict(
            type='DETR',
            backbone=dict(type='ResNet', depth=18, out_indices=(3, ),
                          init_cfg=None),
            neck=dict(type='ChannelMapper', in_channels=[512], kernel_size=1,
                      out_channels=64, act_cfg=None, norm_cfg=None,
                      num_outs=1),
            encoder=dict(num_layers=1, layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=64, num_heads=2),
                ffn_cfg=dict(embed_dims=64, feedforward_channels=64))),
            decoder=dict(num_layers=1, layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=64, num_heads=2),
                cross_attn_cfg=dict(embed_dims=64, num_heads=2),
                ffn_cfg=dict(embed_dims=64, feedforward_channels=64))),
            positional_encoding=dict(num_feats=32, normalize=True),
            bbox_head=dict(type='DETRHead', num_classes=1, embed_dims=64),
            train_cfg=dict(assigner=dict(
                type='HungarianAssigner',
                match_costs=[dict(type='ClassificationCost', weight=1.)])),
            num_queries=10))
    with pytest.raises(TypeError, match='single-stage.*two-stage.*DETR'):
        MODELS.build(detr)

    no_adapter = copy.deepcopy(cfg.model)
    no_adapter.detector.backbone = dict(
        type='MobileNetV2', out_indices=(2, 4, 6, 7))
    no_adapter.detector.neck.in_channels = [24, 64, 160, 1280]
    with pytest.raises(TypeError, match=r'MobileNetV2 has no stage adapter'
                       r'.*Supported backbones'):
        MODELS.build(no_adapter)


def test_mask_rcnn_gives_masks(raccoon_coco):
    model = build_model(MASK).eval()
    packed = raccoon_batch(raccoon_coco, 2)
    data = preprocess(model, packed, False)
    for threshold in (0.0, 1.0):
        model.set_threshold(threshold)
        with torch.no_grad():
            results = model.predict(data['inputs'], data['data_samples'])
        for r in results:
            masks = r.pred_instances.masks
            assert masks.dtype == torch.bool
            assert masks.shape[0] == len(r.pred_instances.bboxes)
            assert tuple(masks.shape[1:]) == tuple(r.ori_shape)


@pytest.mark.parametrize('name,detector,shared', [
    ('dy-faster-rcnn_r50_fpn_1x_coco.py', 'FasterRCNN', True),
    ('dy-mask-rcnn_r50_fpn_1x_coco.py', 'MaskRCNN', True),
    ('dy-yolox_eelan-l_300e_coco.py', 'YOLOX', False),
    ('dy-yolox_eelan-l_router-2e_coco.py', 'YOLOX', False),
])
def test_coco_configs_build_from_scratch(name, detector, shared):
    cfg = load_cfg(name)
    init = cfg.model.detector.backbone.get('init_cfg')
    assert not init or init.get('type') != 'Pretrained'  # nothing to fetch
    model = MODELS.build(cfg.model)
    assert type(model.detector1).__name__ == detector
    assert model.share_heads is shared
    assert model.test_cfg['threshold'] == 0.5


@pytest.mark.parametrize('backbone', [
    dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.25),
    dict(type='LCNet', channels=(16, 32, 64, 96, 128)),
    dict(type='ShuffleNetV2Supernet', search_space='small'),
    dict(type='EELAN', arch='tiny', widen_factor=0.25),
])
def test_stage_adapters_of_supported_backbones(backbone, batch4):
    """Every adapted backbone runs in the cascade; with the zero-initialised
    connection B2 equals the plain backbone."""
    from mmdet_dynamic.models.layers.stage_adapters import stage_channels
    plain = MODELS.build(copy.deepcopy(backbone))
    cfg = load_cfg(YOLO).model
    cfg.detector.backbone = backbone
    cfg.detector.neck.in_channels = [
        stage_channels(plain)[i] for i in plain.out_indices
    ]
    model = MODELS.build(cfg)
    model.init_weights()
    model.eval()
    inputs = preprocess(model, batch4, False)['inputs']
    with torch.no_grad():
        feats1, _ = model.backbone1(inputs)
        cascaded = model.backbone2(inputs, feats1)
        reference = model.detector2.backbone(inputs)
        results = model.predict(inputs, preprocess(model, batch4,
                                                   False)['data_samples'])
    for a, b in zip(cascaded, reference):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert len(results) == 4


def test_sync_bn_falls_back_to_bn_without_cuda(batch4, monkeypatch):
    from mmdet_dynamic.models.detectors import dynamic_cascade_detector
    if torch.cuda.is_available():
        pytest.skip('with CUDA SyncBN is kept')
    messages = []
    monkeypatch.setattr(dynamic_cascade_detector, 'print_log',
                        lambda msg, *a, **k: messages.append(msg))
    cfg = copy.deepcopy(load_cfg(FASTER).model)
    cfg.detector.backbone.norm_cfg = dict(type='SyncBN', requires_grad=True)
    model = MODELS.build(cfg)
    assert any('SyncBN needs CUDA' in m for m in messages)
    assert not any(
        isinstance(m, torch.nn.SyncBatchNorm) for m in model.modules())
    assert isinstance(model.detector1.backbone.bn1,
                      torch.nn.modules.batchnorm._BatchNorm)
    # shared heads stay shared, and a training step runs
    assert model.detector2.roi_head is model.detector1.roi_head
    data = preprocess(model.train(), batch4, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert all(torch.isfinite(v).all() for k, v in losses.items()
               if 'loss' in k and isinstance(v, torch.Tensor))
