# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The end-to-end ONNX graph (routing, post-processing and NMS inside):
equal to PyTorch under the comparison rule of ``test_onnx_export`` (README,
Deployment), with the threshold a run-time input, at batch 1 and in mixed
batches, masks included; and runnable without any Python glue."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch

from ..conftest import PROJECT_ROOT, tool_main
from .test_onnx_export import (DYN, FRCNN_CFG, YOLOV7_CFG,
                               assert_same_detections, export_and_compare,
                               raccoon_test_images)

pytest.importorskip('onnxruntime')
pytestmark = pytest.mark.onnx
from mmdet_dynamic.deployment import DynamicONNXRunner  # noqa: E402

MASK_CFG = osp.join(DYN, 'dy-mask-rcnn_r18_fpn_40i_balloon.py')
# the images compared: enough for both routes at a mid threshold, few
# enough for the suite's time
N_IMAGES = 12


def score_threshold(model) -> float:
    """The score threshold of a cascade's (or plain detector's) final
    detections."""
    det = getattr(model, 'detector1', model)
    cfg = det.test_cfg
    return float(cfg['rcnn']['score_thr'] if 'rcnn' in cfg else
                 cfg['score_thr'])


@pytest.fixture(scope='module')
def yolov7_end2end(tmp_path_factory):
    """Dy-YOLOv7-tiny exported end to end, PyTorch's and the runner's
    results on N_IMAGES raccoon test images (batches of 4, both routes)."""
    tmp = tmp_path_factory.mktemp('yolov7_end2end')
    return export_and_compare(YOLOV7_CFG, str(tmp), end2end=True,
                              images=raccoon_test_images()[:N_IMAGES])


def _check_equal_to_pytorch(exported, tied_images):
    model, runner, ref, out, out_dir = exported
    images = [r.img_path for r in ref]
    assert os.listdir(out_dir) == ['end2end.onnx']
    assert runner.end2end
    routes = [r.route for r in ref]
    assert 'easy' in routes and 'hard' in routes  # mixed batches
    assert sum(len(r.pred_instances) for r in ref) > 100
    thr = score_threshold(model)
    assert_same_detections(ref, out, tied_images, thr)
    # batch 1: each image alone, the routes that PyTorch takes
    one = [runner([p])[0] for p in images[:4]]
    assert_same_detections(ref[:4], one, tied_images, thr)
    # the run-time threshold moves images between routes as PyTorch does:
    # all hard, a quarter easy, all easy
    phis = sorted(r.difficulty_score for r in ref)
    calibrated = runner.threshold
    try:
        for t in (0.0, phis[len(phis) // 4], 1.0):
            model.set_threshold(t)
            runner.set_threshold(t)
            inputs, samples = runner.preprocess(images[:4])
            with torch.no_grad():
                want = model.predict(inputs, samples)
            got = runner(images[:4], batch_size=4)
            assert [g.route for g in got] == [w.route for w in want]
            assert_same_detections(want, got, tied_images, thr)
        assert {s.route for s in got} == {'easy'}  # t = 1
    finally:
        model.set_threshold(calibrated)
        runner.set_threshold(calibrated)


@pytest.mark.slow
def test_end2end_single_stage_equals_pytorch(yolov7_end2end):
    _check_equal_to_pytorch(yolov7_end2end, 0)


@pytest.mark.slow
def test_end2end_two_stage_equals_pytorch(tmp_path):
    # RPN scores of the padding cells tie exactly; mmcv's NMS breaks ties
    # in torch's (unstable) sort order, ONNX NonMaxSuppression by index, so
    # one image (raccoon-125) may keep another proposal
    _check_equal_to_pytorch(
        export_and_compare(FRCNN_CFG, str(tmp_path), end2end=True,
                           images=raccoon_test_images()[:N_IMAGES]), 1)


def test_end2end_graph_contract(yolov7_end2end):
    """The graph's inputs, outputs and metadata as documented (README),
    standard ONNX ops only, the threshold clamped into [0, 1]."""
    import onnx

    from mmdet_dynamic.deployment import read_metadata
    from mmdet_dynamic.deployment.onnx_export import ort_session
    model, runner, ref, _, out_dir = yolov7_end2end
    images = [r.img_path for r in ref]
    path = osp.join(out_dir, 'end2end.onnx')
    graph = onnx.load(path)
    onnx.checker.check_model(graph, full_check=True)
    assert {o.domain for o in graph.opset_import} <= {'', 'ai.onnx'}
    assert max(o.version for o in graph.opset_import) >= 17
    assert 'NonMaxSuppression' in {n.op_type for n in graph.graph.node}
    meta = read_metadata(path)
    assert meta['graph'] == 'end2end'
    assert meta['inputs'] == ['image', 'valid_hw', 'threshold']
    assert meta['outputs'] == ['dets', 'labels', 'num_dets', 'route', 'phi']
    assert meta['classes'] == ['raccoon']
    from mmengine.config import Config
    assert meta['threshold'] == Config.fromfile(
        YOLOV7_CFG).model.test_cfg.threshold  # the one it was exported with
    sess = ort_session(path)
    inputs, samples = runner.preprocess(images[:1])
    h, w = samples[0].img_shape
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32  # its own padded size
    feeds = dict(image=inputs[:, :, :ph, :pw].numpy(),
                 valid_hw=np.array([[h, w]], np.int64))
    for t, route in ((-3.0, 1), (7.0, 0)):  # clamped to 0 (hard), 1 (easy)
        outs = dict(zip(meta['outputs'], sess.run(
            None, dict(feeds, threshold=np.array(t, np.float32)))))
        assert outs['route'].tolist() == [route]
        k = meta['max_per_img']
        assert outs['dets'].shape == (1, k, 5)
        assert outs['labels'].dtype == np.int64
        n = int(outs['num_dets'][0])
        assert (outs['labels'][0, n:] == -1).all()
        assert abs(float(outs['phi'][0]) - ref[0].difficulty_score) < 1e-5


@pytest.mark.slow
@pytest.mark.skipif(
    not osp.isdir(osp.join(PROJECT_ROOT, '..', 'shared', 'datasets',
                           'balloon', 'val')),
    reason='balloon images (../shared/datasets/balloon) not found')
def test_end2end_masks_equal_pytorch(tmp_path):
    """Dy-Mask R-CNN: masks come out of the graph (probabilities on each
    box) and, pasted by the runner, equal PyTorch's masks but for pixels
    on the binarisation edge."""
    images = sorted(glob.glob(osp.join(PROJECT_ROOT, '..', 'shared',
                                       'datasets', 'balloon', 'val',
                                       '*.jpg')))[:2]
    model, runner, ref, out, _ = export_and_compare(
        MASK_CFG, str(tmp_path), end2end=True, images=images, batch_size=2)
    assert runner.meta['end2end']['outputs'][-3:] == ['masks', 'route',
                                                      'phi']
    assert_same_detections(ref, out, 0, score_threshold(model))
    checked = 0
    for r, o in zip(ref, out):
        a, b = r.pred_instances, o.pred_instances
        assert b.masks.shape == a.masks.shape
        for i in range(len(a)):  # paired by rank where the scores differ
            j = int((b.scores - a.scores[i]).abs().argmin())
            diff = (a.masks[i] ^ b.masks[j]).float().mean()
            assert diff < 1e-3, (r.img_path, i, float(diff))
            checked += 1
    assert checked > 10


MINIMAL = osp.join(PROJECT_ROOT, 'tools', 'deployment', 'ort_minimal.py')


def test_minimal_runner_needs_no_glue(yolov7_end2end, tmp_path):
    """tools/deployment/ort_minimal.py runs the end-to-end graph with
    numpy, cv2 and onnxruntime only (asserted in the subprocess), its
    preprocessing from the metadata, and gets PyTorch's detections."""
    model, runner, ref, _, out_dir = yolov7_end2end
    ref = ref[:3]
    images = [r.img_path for r in ref]
    out_json = str(tmp_path / 'dets.json')
    check = (
        'import runpy, sys\n'
        f'sys.argv = [{MINIMAL!r}, {osp.join(out_dir, "end2end.onnx")!r}, '
        f'*{images!r}, "--out", {out_json!r}, '
        f'"--threshold", "{runner.threshold!r}"]\n'
        'runpy.run_path(sys.argv[0], run_name="__main__")\n'
        'banned = [m for m in ("torch", "mmcv", "mmengine", "mmdet", '
        '"mmdet_dynamic") if m in sys.modules]\n'
        'assert not banned, banned\n')
    env = dict(os.environ, PYTHONPATH='')
    proc = subprocess.run([sys.executable, '-c', check], capture_output=True,
                          text=True, cwd=str(tmp_path), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out_json) as f:
        got = json.load(f)
    assert len(got) == len(images)
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData
    samples = []
    for r, g in zip(ref, got):
        s = DetDataSample(metainfo=dict(
            img_path=r.img_path, ori_shape=r.ori_shape, route=g['route'],
            difficulty_score=g['phi']))
        s.pred_instances = InstanceData(
            bboxes=torch.tensor(g['boxes']).reshape(-1, 4),
            scores=torch.tensor(g['scores']),
            labels=torch.tensor(g['labels'], dtype=torch.long))
        samples.append(s)
    assert_same_detections(ref, samples, 0, score_threshold(model))


def test_runner_refuses_two_exports(tmp_path):
    """A folder with an end-to-end graph and another export is ambiguous:
    the runner names both."""
    (tmp_path / 'end2end.onnx').write_bytes(b'')
    (tmp_path / 'detector.onnx').write_bytes(b'')
    with pytest.raises(ValueError, match='more than one export'):
        DynamicONNXRunner(str(tmp_path))


@pytest.mark.parametrize('name', ['yolov7_tiny', 'efficientdet_d0'])
def test_plain_detector_end2end_equals_pytorch(name, tmp_path):
    """Plain YOLOv7-tiny (its COCO config: a Pad to 640 x 640 in the test
    pipeline, boxes clamped to the original image by the runner) and
    EfficientDet-D0 (fixed input size: its BiFPN takes SAME padding from
    trace-time shapes) through ``export_onnx.py --end2end``: one graph, no
    routing, PyTorch's detections."""
    from mmengine.config import Config

    from .test_onnx_export import trained_looking
    args = []
    if name == 'yolov7_tiny':
        cfg_path = osp.join(PROJECT_ROOT, 'configs', 'yolov7',
                            'yolov7_tiny_8xb16-300e_coco.py')
    else:
        cfg = Config.fromfile(osp.join(PROJECT_ROOT, 'configs',
                                       'efficientdet',
                                       'efficientdet_d0_40i_raccoon.py'))
        pipeline = cfg.test_dataloader.dataset.pipeline
        pipeline.insert(2, dict(type='Pad', size=(384, 384)))
        cfg_path = str(tmp_path / 'd0_fixed.py')
        cfg.dump(cfg_path)
        args = ['--input-shape', '384', '384']
    model = trained_looking(cfg_path)
    if name == 'efficientdet_d0':  # spread the class scores out
        pointwise = model.bbox_head.cls_net['out'][-1]
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            pointwise.weight.copy_(
                torch.randn(pointwise.weight.shape, generator=gen) * 0.05)
            pointwise.bias.copy_(
                torch.randn(pointwise.bias.shape, generator=gen) - 1)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    out_dir = str(tmp_path / 'onnx')
    assert tool_main('deployment/export_onnx.py')(
        [cfg_path, ckpt, '--out-dir', out_dir, '--end2end'] + args) == 0
    assert os.listdir(out_dir) == ['end2end.onnx']
    runner = DynamicONNXRunner(out_dir)
    assert runner.meta['end2end']['outputs'] == ['dets', 'labels',
                                                 'num_dets']
    images = raccoon_test_images()[:4]
    with torch.no_grad():  # each image at its own padded size
        ref = [model.predict(*runner.preprocess([p]))[0] for p in images]
    out = runner(images, batch_size=2)
    assert sum(len(r.pred_instances) for r in ref) > 10
    assert_same_detections(ref, out, 0, score_threshold(model))
