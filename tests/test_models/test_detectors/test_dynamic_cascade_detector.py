# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""DynamicCascadeDetector: building, composite connection, router, routes,
mixed batches, phases and errors."""
import copy

import pytest
import torch
from mmengine.analysis import FlopAnalyzer
from mmengine.runner import save_checkpoint

from mmdet_dynamic.registry import MODELS
from mmdet_dynamic.models.detectors import wrapped_detector_cfg
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
        feats1, _ = model.run_backbone1(inputs)
        cascaded = model.run_backbone2(inputs, feats1)
        plain = model.detector2.backbone(inputs)
    for a, b in zip(cascaded, plain):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # and it is trainable: gradients reach the connection's norm weights
    model.train()
    feats1, _ = model.run_backbone1(inputs)
    sum(f.mean() for f in model.run_backbone2(inputs, feats1)).backward()
    assert all(c.norm.weight.grad is not None
               for c in model.composite.convs.values())


def test_router_flops_below_0_1_percent_of_detector1(batch4):
    model = build_model(FASTER).eval()
    data = preprocess(model, batch4, False)
    inputs, samples = data['inputs'][:1], data['data_samples'][:1]
    with torch.no_grad():
        _, out1 = model.run_backbone1(inputs)
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
        _, out1 = model.run_backbone1(data['inputs'])
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
    # each result's difficulty score is phi of the logit that the threshold
    # tools read (difficulty_logits)
    with torch.no_grad():
        logits = model.difficulty_logits(data['inputs'],
                                         data['data_samples'])
    torch.testing.assert_close(
        torch.tensor([r.difficulty_score for r in results]),
        logits.sigmoid().float(), rtol=0, atol=1e-5)
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


def _subsets(n):
    """Every mixed batch of ``n`` images (each set once), and the full set
    in reverse order too."""
    import itertools
    for k in range(2, n + 1):
        yield from itertools.combinations(range(n), k)
    yield tuple(reversed(range(n)))


@pytest.mark.parametrize('config', [FASTER, YOLO])
def test_route_and_detections_do_not_depend_on_batch_mates(
        config, raccoon_coco):
    """Images of different sizes (keep-ratio resize), each alone and in
    every mixed batch (each order): the same phi, route and detections.
    The batches are padded by the preprocessor as in a real run."""
    from mmengine.dataset import pseudo_collate
    packed = raccoon_batch(raccoon_coco, 40, keep_ratio=True)
    items = [dict(inputs=packed['inputs'][i],
                  data_samples=packed["data_samples"][i]) for i in range(40)]
    # three images whose padded sizes all differ
    chosen, pads = [], set()
    for item in items:
        h, w = item['data_samples'].img_shape
        pad = (-(-h // 32), -(-w // 32))
        if pad not in pads:
            pads.add(pad)
            chosen.append(item)
    chosen = chosen[:3]
    assert len(chosen) == 3, 'the raccoon images give three padded sizes'
    model = build_model(config)
    randomise_bn(model)
    model.eval()

    def data(indices):
        d = preprocess(model, pseudo_collate(
            [copy.deepcopy(chosen[i]) for i in indices]), False)
        return d['inputs'], d['data_samples']

    def run(indices):
        with torch.no_grad():
            return model.predict(*data(indices))

    # spread the fresh router's scores and put the threshold between them
    with torch.no_grad():
        alone_phi = [
            float(model.difficulty_scores(*data([i]))) for i in range(3)
        ]
    logits = torch.logit(torch.tensor(alone_phi, dtype=torch.float64))
    scale = 2.0 / float(logits.std())
    with torch.no_grad():
        fc2 = model.router.fc2
        fc2.weight.mul_(scale)
        fc2.bias.copy_(scale * (fc2.bias - float(logits.mean())))
    with torch.no_grad():
        alone_phi = [
            float(model.difficulty_scores(*data([i]))) for i in range(3)
        ]
    low, high = sorted(alone_phi)[:2]
    model.set_threshold((low + high) / 2)
    alone = [run([i])[0] for i in range(3)]
    assert sorted(r.route for r in alone) == ['easy', 'hard', 'hard']
    for indices in _subsets(3):
        results = run(indices)
        for i, result in zip(indices, results):
            ref = alone[i]
            assert result.route == ref.route
            assert result.difficulty_score == pytest.approx(
                ref.difficulty_score, abs=1e-5)
            for key in ('bboxes', 'scores', 'labels'):
                a, b = result.pred_instances[key], ref.pred_instances[key]
                assert a.shape == b.shape
                torch.testing.assert_close(
                    a.float(), b.float(), rtol=1e-4, atol=1e-4)


def test_router_pools_only_the_valid_region():
    """Padding added to the maps does not change the pooled vector."""
    from mmdet_dynamic.models.layers import AdaptiveRouter
    router = AdaptiveRouter([4, 8])
    torch.manual_seed(0)
    small = [torch.rand(1, 4, 4, 6), torch.rand(1, 8, 2, 3)]
    padded = [torch.nn.functional.pad(f, (0, f.shape[-1], 0, f.shape[-2]),
                                      value=5.0) for f in small]
    alone = router(small, [(16, 24)], (16, 24))
    in_batch = router(padded, [(16, 24)], (32, 48))
    torch.testing.assert_close(alone, in_batch)
    assert not torch.allclose(router(padded), alone)  # whole-map pooling


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


def test_yolox_mode_switch_hook_reaches_both_heads(batch4):
    """mmdet's YOLOXModeSwitchHook writes `model.bbox_head.use_l1`: it is
    detector 1's real head (no proxy), and detector 2's head follows it at
    the next step (`synced_head_attrs`)."""
    from types import SimpleNamespace

    from mmdet.engine.hooks import YOLOXModeSwitchHook
    model = build_model(YOLO)
    assert model.bbox_head is model.detector1.bbox_head
    head1, head2 = model.detector1.bbox_head, model.detector2.bbox_head
    assert not head1.use_l1 and not head2.use_l1
    dataset = SimpleNamespace(update_skip_type_keys=lambda keys: None)
    runner = SimpleNamespace(
        epoch=3, max_epochs=4, model=model,
        logger=SimpleNamespace(info=lambda msg: None),
        train_dataloader=SimpleNamespace(
            dataset=dataset, persistent_workers=False))
    YOLOXModeSwitchHook(num_last_epochs=1).before_train_epoch(runner)
    assert head1.use_l1 and not head2.use_l1
    data = preprocess(model.train(), batch4, True)
    losses = model.loss(data['inputs'], data['data_samples'])
    assert head2.use_l1
    # both heads now compute the L1 loss
    assert 'd1.loss_l1' in losses and 'd2.loss_l1' in losses


def test_cascade_patches_no_detector(batch4):
    """The cascade composes its detectors' parts: running it sets no
    instance attribute on them (no extract_feat replacement)."""
    model = build_model(FASTER)
    before = [dict(vars(d)) for d in (model.detector1, model.detector2)]
    data = preprocess(model.train(), batch4, True)
    model.loss(data['inputs'], data['data_samples'])
    model.eval()
    model.set_threshold(0.0)
    with torch.no_grad():
        model.predict(data['inputs'], data['data_samples'])
    for det, saved in zip((model.detector1, model.detector2), before):
        assert set(vars(det)) == set(saved)
        assert 'extract_feat' not in vars(det)


@pytest.mark.parametrize('threshold,route', [(1.0, 'easy'), (0.0, 'hard')])
def test_forward_hooks_on_backbones_fire(threshold, route, batch4):
    """A forward hook on `detector1.backbone` / `detector2.backbone` sees
    the call and the backbone's own outputs, as in the plain detector."""
    model = build_model(FASTER).eval()
    model.set_threshold(threshold)
    data = preprocess(model, batch4, False)
    seen = dict(b1=[], b2=[])
    handles = [
        model.detector1.backbone.register_forward_hook(
            lambda m, i, o: seen['b1'].append((i[0].shape, o))),
        model.detector2.backbone.register_forward_hook(
            lambda m, i, o: seen['b2'].append((i[0].shape, o))),
    ]
    with torch.no_grad():
        model.predict(data['inputs'], data['data_samples'])
        plain = model.detector1.backbone(data['inputs'])
    for h in handles:
        h.remove()
    assert len(seen['b1']) == 2  # the cascade's call and the plain one
    shape, outs = seen['b1'][0]
    assert shape == data['inputs'].shape
    assert isinstance(outs, tuple) and len(outs) == 4
    for a, b in zip(outs, plain):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert len(seen['b2']) == (1 if route == 'hard' else 0)


def test_detector_overriding_feature_extraction_is_refused():
    """The cascade runs the detector class's own loss/predict on backbone
    outputs it computes itself; a class whose extract_feat is not
    backbone-then-neck would get the wrong features: refused at build
    time, naming the method. One that overrides loss runs its own loss."""
    from mmdet.models.detectors import RetinaNet

    from mmdet_dynamic.models.detectors.detector_heads import (
        check_wrappable, heads_loss)

    class OwnLoss(RetinaNet):

        def loss(self, batch_inputs, batch_data_samples):
            x = self.extract_feat(batch_inputs)
            return dict(loss_sum=sum(f.sum() for f in x))

    class OwnFeatures(RetinaNet):

        def extract_feat(self, batch_inputs):
            return self.backbone(batch_inputs * 2)

    det = MODELS.build(wrapped_detector_cfg(load_cfg(YOLO).model))
    check_wrappable(det, 'YOLOX')
    det.__class__ = OwnLoss
    check_wrappable(det, 'OwnLoss')
    outs = [torch.ones(1, c, 8 // 2**i, 8 // 2**i)
            for i, c in enumerate(det.neck.in_channels)]
    loss = heads_loss(det, outs, [])['loss_sum']
    expected = sum(f.sum() for f in det.neck(tuple(outs)))
    torch.testing.assert_close(loss, expected)
    det.__class__ = OwnFeatures
    with pytest.raises(TypeError, match='OwnFeatures overrides '
                       'extract_feat'):
        check_wrappable(det, 'OwnFeatures')


def test_unknown_test_cfg_key_is_an_error():
    with pytest.raises(KeyError, match=r"\['treshold'\].*known keys: "
                       r"\['threshold', 'tensor_route'\]"):
        build_model(FASTER, test_cfg=dict(treshold=0.3))


def test_init_detectors_from_single_checkpoint(tmp_path):
    base = load_cfg(FASTER)
    single = MODELS.build(wrapped_detector_cfg(base.model))
    single.init_weights()
    ckpt = str(tmp_path / 'faster.pth')
    save_checkpoint(dict(state_dict=single.state_dict()), ckpt)
    model = build_model(FASTER, init_detectors_from=ckpt)
    # mmengine's Pretrained init does the loading
    assert model.detector1.init_cfg == dict(type='Pretrained',
                                            checkpoint=ckpt)
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
    twice = copy.deepcopy(cfg.model)
    twice.detector.backbone = copy.deepcopy(twice.backbone)
    MODELS.build(twice)  # the same backbone in both places: accepted
    twice.detector.backbone.depth = 34
    with pytest.raises(ValueError, match='two different backbones.*give it '
                       'once, or the same in both'):
        MODELS.build(twice)


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
    ('dy-rtmdet_tiny_8xb32-300e_coco.py', 'RTMDet', False),
    ('dy-rtmdet_tiny_router-2e_coco.py', 'RTMDet', False),
    ('dy-dino-4scale_r50_8xb2-14e_coco.py', 'DINO', False),
])
def test_coco_configs_build_from_scratch(name, detector, shared):
    cfg = load_cfg(name)
    init = cfg.model.backbone.get('init_cfg')
    assert not init or init.get('type') != 'Pretrained'  # nothing to fetch
    model = MODELS.build(cfg.model)
    assert type(model.detector1).__name__ == detector
    assert model.share_heads is shared
    assert model.test_cfg['threshold'] == 0.5


@pytest.mark.parametrize('backbone', [
    dict(type='CSPDarknet', deepen_factor=0.33, widen_factor=0.25),
    dict(type='ResNet', depth=18, init_cfg=None),
    dict(type='ResNetV1d', depth=50, init_cfg=None),
    dict(type='ResNeXt', depth=50, groups=32, base_width=4, init_cfg=None),
    dict(type='Res2Net', depth=50, init_cfg=None),
    dict(type='ResNeSt', depth=50, init_cfg=None),
    dict(type='RegNet', arch='regnetx_400mf', out_indices=(1, 2, 3),
         init_cfg=None),
    dict(type='EfficientNet', arch='b0', out_indices=(3, 4, 5),
         init_cfg=None),
    dict(type='LCNet', channels=(16, 32, 64, 96, 128)),
    dict(type='ShuffleNetV2Supernet', search_space='small'),
    dict(type='EELAN', arch='tiny', widen_factor=0.25),
])
def test_declared_stages_of_supported_backbones(backbone, batch4):
    """Every supported backbone declares stages that match what its own
    forward computes, runs in the cascade, and with the zero-initialised
    connection B2 equals the plain backbone."""
    from mmdet_dynamic.models.layers import backbone_stages, forward_stages
    plain = MODELS.build(copy.deepcopy(backbone))
    declared = backbone_stages(plain)
    plain.eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        outs, feats = forward_stages(plain, declared, x)
    assert [f.shape[1] for f in feats] == declared.channels
    assert [64 // f.shape[-1]
            for f in feats] == [s.stride for s in declared.stages]
    assert [tuple(o.shape) for o in outs] == [
        tuple(feats[i].shape) for i in declared.out_indices
    ]
    cfg = load_cfg(YOLO).model
    cfg.backbone = backbone
    cfg.detector.neck.in_channels = declared.out_channels
    cfg.detector.neck.num_csp_blocks = 1
    model = MODELS.build(cfg)
    model.init_weights()
    model.eval()
    inputs = preprocess(model, batch4, False)['inputs']
    with torch.no_grad():
        feats1, _ = model.run_backbone1(inputs)
        cascaded = model.run_backbone2(inputs, feats1)
        reference = model.detector2.backbone(inputs)
        results = model.predict(inputs, preprocess(model, batch4,
                                                   False)['data_samples'])
    for a, b in zip(cascaded, reference):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert len(results) == 4


@pytest.mark.parametrize('backbone,message', [
    (dict(type='MobileNetV2', out_indices=(2, 4, 6, 7)),
     r'MobileNetV2 declares no stages.*Supported backbones: \[.*RegNet'),
    (dict(type='DetectoRS_ResNet', depth=50, output_img=True),
     r'DetectoRS_ResNet declares no stages.*subclasses ResNet'),
])
def test_unsupported_backbones_fail_at_build(backbone, message):
    cfg = copy.deepcopy(load_cfg(FASTER).model)
    cfg.backbone = backbone
    with pytest.raises(TypeError, match=message):
        MODELS.build(cfg)


def test_config_builds_the_same_model_on_any_machine(monkeypatch):
    """SyncBN stays SyncBN whatever the machine (the CPU launch path, not
    the model, runs it as BN); on a single CPU process torch's SyncBN
    computes as BN."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = copy.deepcopy(load_cfg(FASTER).model)
    cfg.backbone.norm_cfg = dict(type='SyncBN', requires_grad=True)
    cpu_model = MODELS.build(copy.deepcopy(cfg))
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    gpu_model = MODELS.build(copy.deepcopy(cfg))
    assert isinstance(cpu_model.detector1.backbone.bn1,
                      torch.nn.SyncBatchNorm)
    assert [type(m) for m in cpu_model.modules()] == \
        [type(m) for m in gpu_model.modules()]


def _predictions(model, data):
    with torch.no_grad():
        out = model.predict(data['inputs'], copy.deepcopy(
            data['data_samples']))
    return [(s.metainfo['route'], s.pred_instances.bboxes,
             s.pred_instances.scores) for s in out]


def _assert_same_predictions(a, b):
    for (route_a, boxes_a, scores_a), (route_b, boxes_b, scores_b) in zip(
            a, b):
        assert route_a == route_b
        torch.testing.assert_close(boxes_a, boxes_b, atol=1e-3, rtol=1e-4)
        torch.testing.assert_close(scores_a, scores_b, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('surgery', ['sync_bn', 'fuse_conv_bn'])
def test_cascade_follows_norm_surgery(surgery, batch4):
    """The stages are found by name in the live model: converting BN to
    SyncBN and back, or folding BN into the convs, leaves predictions as
    they were (both routes)."""
    from mmcv.cnn import fuse_conv_bn
    from mmengine.model import revert_sync_batchnorm
    model = build_model(FASTER).eval()
    randomise_bn(model)
    data = preprocess(model, batch4, False)
    with torch.no_grad():  # a threshold between the images' scores
        logits = model.difficulty_logits(data['inputs'],
                                         data['data_samples'])
    model.set_threshold(float(logits.median().sigmoid()))
    before = _predictions(model, data)
    if surgery == 'sync_bn':
        # eval() again: torch < 2.2's convert_sync_batchnorm does not keep
        # the modules' eval mode
        model = revert_sync_batchnorm(
            torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)).eval()
        assert not any(isinstance(m, torch.nn.SyncBatchNorm)
                       for m in model.modules())
    else:
        model = fuse_conv_bn(model)
        assert not any(isinstance(m, torch.nn.BatchNorm2d)
                       for m in model.detector1.backbone.modules())
    _assert_same_predictions(before, _predictions(model, data))
    assert {r for r, _, _ in before} == {'easy', 'hard'}


def test_cascade_follows_repconv_fusion():
    """RepConv layers fused in place (switch_to_deploy) are the ones the
    cascade runs: the same outputs as before fusion."""
    from mmdet_dynamic.models.layers.rep_conv import switch_to_deploy
    cfg = copy.deepcopy(load_cfg(YOLO).model)
    cfg.backbone.use_repconv = True
    torch.manual_seed(0)
    model = MODELS.build(cfg).eval()
    randomise_bn(model)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        feats, outs = model.run_backbone1(x)
        hard = model.run_backbone2(x, feats)
    assert switch_to_deploy(model) > 0
    with torch.no_grad():
        feats_f, outs_f = model.run_backbone1(x)
        hard_f = model.run_backbone2(x, feats_f)
    for a, b in zip(list(outs) + list(hard), list(outs_f) + list(hard_f)):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_cascade_follows_a_replaced_stage(batch4):
    """A user replaces model.detector1.backbone.layer3: the router and the
    composite connection take the new layer's output (with the module
    objects captured at build time, the stage 'did not run')."""
    model = build_model(FASTER).eval()
    x = preprocess(model, batch4, False)['inputs']
    calls = []
    new = copy.deepcopy(model.detector1.backbone.layer3)
    new.register_forward_hook(lambda m, a, o: calls.append(o.shape))
    with torch.no_grad():
        for p in new.parameters():
            p.add_(0.01)
    model.detector1.backbone.layer3 = new
    with torch.no_grad():
        feats1, out1 = model.run_backbone1(x)
        plain = model.detector1.backbone(x)
    assert len(calls) == 2  # the cascade's run and the plain one
    stage = [s.module for s in model.stages1.stages].index('layer3')
    with torch.no_grad():
        torch.testing.assert_close(feats1[stage], new(feats1[stage - 1]))
    for a, b in zip(out1, plain):
        torch.testing.assert_close(a, b)


def test_stage_adapters_live_in_a_scoped_registry():
    """A project overrides the adapter of a backbone class in a child
    registry of its own scope; outside that scope ours applies."""
    from mmengine.registry import DefaultScope, Registry

    from mmdet.models.backbones import ResNet
    from mmdet_dynamic.models.layers import (STAGE_ADAPTERS, BackboneStage,
                                             backbone_stages,
                                             register_backbone_stages)
    assert 'ResNet' in STAGE_ADAPTERS.module_dict
    mine = Registry('backbone stage adapter', parent=STAGE_ADAPTERS,
                    scope='my_project')

    @register_backbone_stages(ResNet, registry=mine)
    def _three_stages(backbone):
        return [BackboneStage('maxpool', 64, 4),
                BackboneStage('layer1', 64, 4),
                BackboneStage('layer2', 128, 8)], [1, 2]

    backbone = ResNet(depth=18, out_indices=(0, 1))
    with DefaultScope.overwrite_default_scope('my_project'):
        assert len(backbone_stages(backbone).stages) == 3
    with DefaultScope.overwrite_default_scope('mmdet_dynamic'):
        assert len(backbone_stages(backbone).stages) == 5
