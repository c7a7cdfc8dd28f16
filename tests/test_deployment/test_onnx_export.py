# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""ONNX export of dynamic detectors and the onnxruntime runner: equal to
PyTorch on the raccoon test images, the same route for every image, and
the errors of bad input."""
import copy
import csv
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose

from mmdet_dynamic.registry import MODELS
from ..conftest import PROJECT_ROOT, RACCOON_ROOT, tool_main

pytest.importorskip('onnxruntime')
pytestmark = pytest.mark.onnx
from mmdet_dynamic.deployment import (DynamicONNXRunner,  # noqa: E402
                                      UnsupportedExportError, export_onnx,
                                      read_metadata)
from mmdet_dynamic.models.layers.rep_conv import switch_to_deploy  # noqa
from mmdet_dynamic.utils.strict_checkpoint import \
    CheckpointMismatchError  # noqa: E402

DYN = osp.join(PROJECT_ROOT, 'configs', 'dynamicdet')
YOLOX_CFG = osp.join(DYN, 'dy-yolox_eelan-tiny_40i_raccoon.py')
FRCNN_CFG = osp.join(DYN, 'dy-faster-rcnn_r18_fpn_40i_raccoon.py')
YOLOV7_CFG = osp.join(DYN, 'dy-yolov7_tiny_40i_raccoon.py')
EFFDET_CFG = osp.join(PROJECT_ROOT, 'configs', 'efficientdet',
                      'efficientdet_d0_40i_raccoon.py')


def raccoon_test_images():
    with open(osp.join(RACCOON_ROOT, 'data', 'test_labels.csv')) as f:
        names = sorted({row['filename'] for row in csv.DictReader(f)})
    return [osp.join(RACCOON_ROOT, 'images', n) for n in names]


def trained_looking(cfg_path: str, seed: int = 0):
    """The config's model with BN statistics measured on raccoon images
    (as training leaves them) and score layers spread out, so that scores,
    boxes and routes are not the degenerate ones of a fresh init."""
    cfg = Config.fromfile(cfg_path)
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.Conv2d) and name.split('.')[-2] in (
                    'multi_level_conv_cls', 'multi_level_conv_obj',
                    'rpn_cls'):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) *
                               0.05)
                m.bias.copy_(torch.randn(m.bias.shape, generator=gen) - 1)
    pipeline = Compose([
        t for t in cfg.test_dataloader.dataset.pipeline
        if 'Annotations' not in t['type']
    ])
    data = [
        pipeline(dict(img_path=p, img_id=0))
        for p in raccoon_test_images()[-8:]
    ]
    batch = model.data_preprocessor(
        dict(
            inputs=[d['inputs'] for d in data],
            data_samples=[d['data_samples'] for d in data]), False)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None  # cumulative average
    model.train()
    with torch.no_grad():
        if hasattr(model, 'router'):
            for route in ('easy', 'hard'):
                model.test_cfg['tensor_route'] = route
                model._forward(batch['inputs'], batch['data_samples'])
            model.test_cfg['tensor_route'] = 'hard'
        else:
            model._forward(batch['inputs'], batch['data_samples'])
    model.eval()
    return model


# The comparison rule (README, Deployment). Float results differ slightly
# from one CPU (and onnxruntime build) to another, so:
# - a detection whose score is within BORDERLINE of the score threshold may
#   be present on one side only: it is reported, not failed;
# - an image whose detections differ because NMS met an exact score tie
#   (mmcv breaks ties in torch's sort order, ONNX NonMaxSuppression by
#   index) is allowed where the test names it (``tied_images``);
# - everything else matches: the same route, phi to 1e-5, as many
#   detections with the same labels, scores to 1e-4 and boxes to 1e-3 of
#   the image's size.
BORDERLINE = 1e-4


def assert_same_detections(ref, out, tied_images=0, score_thr=None):
    """The same route and difficulty score (to float rounding) and the same
    detections (the rule above): each PyTorch detection has its own runner
    detection of the same label, score to 1e-4 and box to 1e-3 of the
    image's size (or of the box's largest coordinate); at most
    ``tied_images`` images may differ otherwise. Detections are paired by
    score and box rather than by rank, since two detections whose scores
    differ by float rounding may come in either order.

    Returns:
        list[str]: The borderline detections found on one side only.
    """
    differ, borderline = [], []
    for r, o in zip(ref, out):
        assert o.metainfo.get('route') == r.metainfo.get('route'), \
            r.img_path
        if 'difficulty_score' in r:
            assert abs(o.difficulty_score - r.difficulty_score) < 1e-5
        ok, alone = _same_instances(r, o, score_thr)
        borderline += [f'{osp.basename(r.img_path)}: {a}' for a in alone]
        if not ok:
            differ.append(r.img_path)
    assert len(differ) <= tied_images, differ
    if borderline:
        print('borderline detections on one side only:', borderline)
    return borderline


def _same_instances(r, o, score_thr=None):
    """Each detection of ``r`` paired with its own of ``o``, and none of
    ``o`` left, but for borderline ones (score within BORDERLINE of
    ``score_thr``). Returns (ok, the borderline ones left alone)."""
    a, b = r.pred_instances, o.pred_instances

    def near_thr(score):
        return score_thr is not None and abs(
            float(score) - score_thr) <= BORDERLINE

    side = max(r.ori_shape)
    free = torch.ones(len(b), dtype=torch.bool)
    alone = []
    for box, score, label in zip(a.bboxes, a.scores, a.labels):
        dist = (b.bboxes - box).abs().max(1)[0]
        tol = 1e-3 * max(side, float(box.abs().max()))
        ok = free & (b.labels == label) & (
            (b.scores - score).abs() <= 1e-4) & (dist <= tol)
        if not ok.any():
            if near_thr(score):
                alone.append(f'PyTorch only, score {float(score):.6f}')
                continue
            return False, alone
        free[torch.where(ok, dist, torch.inf).argmin()] = False
    for i in torch.nonzero(free).flatten().tolist():
        if not near_thr(b.scores[i]):
            return False, alone
        alone.append(f'runner only, score {float(b.scores[i]):.6f}')
    return True, alone


@pytest.fixture(scope='module')
def tmp_module(tmp_path_factory):
    return tmp_path_factory.mktemp('onnx')


def export_and_compare(cfg_path, tmp, cfg_override=None, batch_size=4,
                       end2end=False, images=None, session_options=None):
    if cfg_override:
        path = osp.join(tmp, 'override.py')
        with open(path, 'w') as f:
            f.write(f'_base_ = {cfg_path!r}\n{cfg_override}\n')
        cfg_path = path
    model = trained_looking(cfg_path)
    ckpt = osp.join(tmp, 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    out_dir = osp.join(tmp, 'onnx')
    export_onnx(cfg_path, ckpt, out_dir, end2end=end2end, progress=None)
    runner = DynamicONNXRunner(out_dir, session_options=session_options)
    images = images or raccoon_test_images()
    inputs, samples = runner.preprocess(images)
    switch_to_deploy(model)
    if hasattr(model, 'router'):
        # a threshold between two images' scores: both routes are taken
        with torch.no_grad():
            logits = model.difficulty_logits(inputs, copy.deepcopy(samples))
        mid = logits.sort()[0][len(logits) // 2 - 1:len(logits) // 2 + 1]
        threshold = float(mid.mean().sigmoid())
        model.set_threshold(threshold)
        runner.set_threshold(threshold)
    ref = []
    for i in range(0, len(images), batch_size):
        part = runner.preprocess(images[i:i + batch_size])
        with torch.no_grad():
            ref += model.predict(*part)
    out = runner(images, batch_size=batch_size)
    return model, runner, ref, out, out_dir


@pytest.mark.slow
@pytest.mark.parametrize('cfg_path, override, tied_images', [
    (YOLOX_CFG, 'model = dict(detector=dict(test_cfg=dict(score_thr=0.15)))',
     0),
    (YOLOV7_CFG, None, 0),
    # RPN scores of the padding cells tie exactly; mmcv's NMS breaks ties
    # in torch's (unstable) sort order, ONNX NonMaxSuppression by index, so
    # one image (raccoon-125) may keep another proposal
    (FRCNN_CFG, None, 1),
])
def test_cascade_runner_equals_pytorch(cfg_path, override, tied_images,
                                       tmp_path):
    # 12 images: both routes at the mid threshold, 40 would add minutes
    model, runner, ref, out, out_dir = export_and_compare(
        cfg_path, str(tmp_path), override,
        images=raccoon_test_images()[:12])
    files = sorted(os.listdir(out_dir))
    # weights that two graphs hold are stored once (shared_weights.bin):
    # a share_heads model's neck and heads, or here any tensor the two
    # detectors still have in common after the test's initialisation
    assert files[:3] == ['easy.onnx', 'hard.onnx', 'router.onnx']
    assert files[3:] in ([], ['shared_weights.bin'])
    if model.share_heads:
        sizes = {f: osp.getsize(osp.join(out_dir, f)) for f in files}
        assert sizes['easy.onnx'] < 0.01 * sizes['shared_weights.bin']
    routes = [r.route for r in ref]
    assert 'easy' in routes and 'hard' in routes  # both routes compared
    assert sum(len(r.pred_instances) for r in ref) > 12
    assert_same_detections(ref, out, tied_images)
    # the threshold changes at run time: 0 sends every image hard
    runner.set_threshold(0.0)
    assert {s.route for s in runner(raccoon_test_images()[:3])} == {'hard'}
    runner.set_threshold(1.0)
    assert {s.route for s in runner(raccoon_test_images()[:3])} == {'easy'}


def test_metadata_and_batch_independence(tmp_path):
    model, runner, ref, _, out_dir = export_and_compare(
        YOLOX_CFG, str(tmp_path),
        'model = dict(detector=dict(test_cfg=dict(score_thr=0.15)))',
        batch_size=1)
    meta = read_metadata(osp.join(out_dir, 'router.onnx'))
    assert meta['graph'] == 'router' and meta['kind'] == 'cascade'
    assert meta['classes'] == ['raccoon']
    assert meta['threshold'] == 0.5
    pre = meta['preprocess']
    assert pre['input_size'] == [320, 320]
    assert pre['pad_size_divisor'] == 32
    assert meta['head_settings']['score_thr'] == 0.15
    assert meta['head_settings']['nms']['iou_threshold'] == 0.65
    assert meta['inputs'] == ['image', 'valid_hw']
    assert meta['input_shape'] is None  # dynamic height and width
    easy = read_metadata(osp.join(out_dir, 'easy.onnx'))
    assert easy['inputs'] == easy['easy_inputs'] == meta['easy_inputs']
    # batches of 8 mixed-size images give what images alone give
    runner.set_threshold(model.test_cfg['threshold'])
    assert_same_detections(ref, runner(raccoon_test_images(), batch_size=8))


def test_plain_detector_exports_one_graph(tmp_path):
    """Plain YOLOX (detector 1 of the Dy-YOLOX config on its own)."""
    cfg = Config.fromfile(YOLOX_CFG)
    cfg.model = dict(cfg.yolo, backbone=cfg.model.backbone)
    cfg.model.test_cfg.score_thr = 0.15
    cfg_path = str(tmp_path / 'yolox.py')
    cfg.dump(cfg_path)
    model = trained_looking(cfg_path)
    ckpt = str(tmp_path / 'yolox.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    files = export_onnx(cfg_path, ckpt, str(tmp_path / 'onnx'))
    assert [osp.basename(f) for f in files] == ['detector.onnx']
    runner = DynamicONNXRunner(str(tmp_path / 'onnx'))
    images = raccoon_test_images()[:6]
    with torch.no_grad():  # mmdet pads a batch; the runner runs each
        ref = [  # image at its own padded size, as mmdet does alone
            model.predict(*runner.preprocess([img]))[0] for img in images
        ]
    out = runner(images, batch_size=3)
    assert all('route' not in s for s in out)
    assert sum(len(r.pred_instances) for r in ref) > 0
    assert_same_detections(ref, out)
    with pytest.raises(ValueError, match='no routing threshold'):
        runner.set_threshold(0.5)


def test_size_bound_graph_is_refused(tmp_path):
    """EfficientDet's BiFPN takes its SAME padding from shapes at trace
    time: a dynamic-size export would be wrong at other sizes, so it stops
    (checked on a second input size), pointing to --input-shape; a
    fixed-size export works."""
    model = trained_looking(EFFDET_CFG)
    ckpt = str(tmp_path / 'd0.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    out_dir = tmp_path / 'onnx'
    with pytest.raises(UnsupportedExportError,
                       match=r'detector\.onnx: at input size .*--input-shape'):
        export_onnx(EFFDET_CFG, ckpt, str(out_dir))
    assert not os.listdir(out_dir)
    files = export_onnx(EFFDET_CFG, ckpt, str(out_dir), input_shape=(384, 384))
    assert [osp.basename(f) for f in files] == ['detector.onnx']


@pytest.fixture(scope='module')
def yolox_export(tmp_module):
    model = trained_looking(YOLOX_CFG)
    ckpt = osp.join(tmp_module, 'yolox.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    return ckpt


def test_fixed_shape_export_refuses_other_sizes(yolox_export, tmp_path):
    out_dir = str(tmp_path / 'fixed')
    export_onnx(YOLOX_CFG, yolox_export, out_dir, input_shape=(320, 320))
    assert read_metadata(osp.join(out_dir,
                                  'easy.onnx'))['input_shape'] == [320, 320]
    runner = DynamicONNXRunner(out_dir)
    # raccoon-105 is 720 x 960: resized to 240 x 320, padded to 256 x 320
    image = osp.join(RACCOON_ROOT, 'images', 'raccoon-105.jpg')
    with pytest.raises(ValueError, match=r'exported for input size '
                       r'\(320, 320\).*got \(320, 256\)'):
        runner([image])


def test_threshold_outside_unit_interval(yolox_export, tmp_path):
    out_dir = str(tmp_path / 'onnx')
    export_onnx(YOLOX_CFG, yolox_export, out_dir)
    with pytest.raises(ValueError, match=r'\[0, 1\].*got 1.5'):
        DynamicONNXRunner(out_dir, threshold=1.5)
    runner = DynamicONNXRunner(out_dir)
    with pytest.raises(ValueError, match=r'\[0, 1\].*got -0.1'):
        runner.set_threshold(-0.1)
    main = tool_main('deployment/onnx_infer.py')
    assert main([out_dir, raccoon_test_images()[0], '--threshold',
                 '2']) == 1


def test_mismatched_checkpoint_writes_nothing(yolox_export, tmp_path):
    """A checkpoint of another config stops the export, naming the first
    mismatched tensors; nothing is written."""
    out_dir = tmp_path / 'onnx'
    with pytest.raises(CheckpointMismatchError,
                       match=r'missing key.*detector1\.'):
        export_onnx(FRCNN_CFG, yolox_export, str(out_dir))
    assert not out_dir.exists() or not os.listdir(out_dir)
    main = tool_main('deployment/export_onnx.py')
    assert main([FRCNN_CFG, yolox_export, '--out-dir', str(out_dir)]) == 1
    assert not out_dir.exists() or not os.listdir(out_dir)


def _write_cfg(tmp_path, text):
    path = tmp_path / 'cfg.py'
    path.write_text(text)
    return str(path)


def test_op_without_standard_onnx_form_is_named(tmp_path):
    """A deformable conv (mmcv's ModulatedDeformConv2dPack) has no
    standard ONNX op: the export stops, naming it, and writes nothing."""
    base = osp.join(PROJECT_ROOT, 'configs', 'faster_rcnn',
                    'faster-rcnn_r18_fpn_40i_raccoon.py')
    cfg = _write_cfg(
        tmp_path, f'_base_ = {base!r}\nmodel = dict(backbone=dict('
        'depth=50, dcn=dict(type="DCNv2", deform_groups=1, '
        'fallback_on_stride=False), stage_with_dcn=(False, True, True, '
        'True)), neck=dict(in_channels=[256, 512, 1024, 2048]))\n')
    model = MODELS.build(Config.fromfile(cfg).model)
    ckpt = str(tmp_path / 'dcn.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    out_dir = tmp_path / 'onnx'
    with pytest.raises(UnsupportedExportError,
                       match=r'backbone\.layer2\.0\.conv2 is mmcv\.ops\.'
                       r'ModulatedDeformConv2dPack'):
        export_onnx(cfg, ckpt, str(out_dir))
    assert not out_dir.exists() or not os.listdir(out_dir)


def test_mask_branch_is_refused(tmp_path):
    cfg = osp.join(DYN, 'dy-mask-rcnn_r18_fpn_40i_balloon.py')
    model = MODELS.build(Config.fromfile(cfg).model)
    ckpt = str(tmp_path / 'mask.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    with pytest.raises(UnsupportedExportError, match='mask branch'):
        export_onnx(cfg, ckpt, str(tmp_path / 'onnx'))
    assert not (tmp_path / 'onnx').exists() or not os.listdir(
        tmp_path / 'onnx')


def test_infer_tool_writes_json(yolox_export, tmp_path):
    out_dir = str(tmp_path / 'onnx')
    assert tool_main('deployment/export_onnx.py')(
        [YOLOX_CFG, yolox_export, '--out-dir', out_dir]) == 0
    out_file = str(tmp_path / 'res.json')
    images = raccoon_test_images()[:3]
    assert tool_main('deployment/onnx_infer.py')(
        [out_dir, *images, '--threshold', '0', '--score-thr', '0',
         '--out-file', out_file]) == 0
    import json
    with open(out_file) as f:
        res = json.load(f)
    assert res['classes'] == ['raccoon']
    assert [r['route'] for r in res['results']] == ['hard'] * 3
    assert all(len(r['bboxes']) == len(r['scores']) for r in res['results'])
