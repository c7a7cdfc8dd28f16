# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Official YOLOv7 / DynamicDet checkpoint import: exact outputs, safe
unpickling, clear errors, nothing half-written."""
import copy
import os

import pytest
import torch
from mmengine.config import Config

from mmdet_dynamic.apis.yolov7_convert import (ConversionError,
                                               UnsafeCheckpointError,
                                               backbone_layers,
                                               convert_yolov7_checkpoint,
                                               head_layer, neck_layers)
from mmdet_dynamic.registry import MODELS
from ..conftest import PROJECT_ROOT, tool_main
from ..official_yolov7_format import build_official, save_official


def load_converted(ckpt, cfg_path):
    cfg = Config.fromfile(cfg_path)
    model = MODELS.build(copy.deepcopy(cfg.model)).eval()
    state = torch.load(ckpt, map_location='cpu')['state_dict']
    model.load_state_dict(state, strict=True)
    return model, cfg


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    """Official-format tiny and L checkpoints (fp16 Model pickles),
    converted with the tool."""
    root = tmp_path_factory.mktemp('yolov7')
    out = {}
    for arch in ('tiny', 'L'):
        official = build_official(arch, nc=3)
        src = str(root / f'yolov7-{arch}_training.pt')
        save_official(official, src)
        assert tool_main('model_converters/yolov7_to_mmdet.py')(
            [src, str(root / 'out')]) == 0
        stem = f'yolov7-{arch}_training'
        out[arch] = (official, str(root / 'out' / f'{stem}.pth'),
                     str(root / 'out' / f'{stem}.py'))
    return out


@pytest.mark.parametrize('arch', ['tiny', 'L'])
def test_converted_outputs_equal_the_official_model(converted, arch):
    official, ckpt, cfg_path = converted[arch]
    model, cfg = load_converted(ckpt, cfg_path)
    assert cfg.model.bbox_head.num_classes == 3
    assert cfg.model.backbone.arch == arch
    ref = copy.deepcopy(official).half().float().eval()  # as saved
    x = torch.rand(2, 3, 96, 128)
    with torch.no_grad():
        expected = ref(x)
        preds, _ = model._forward(x)
    got = [model.bbox_head._official_layout(p) for p in preds]
    assert len(got) == 3
    for e, g in zip(expected, got):
        assert e.shape == g.shape
        torch.testing.assert_close(g, e, atol=1e-4, rtol=1e-4)
    # the same detections after NMS
    head = model.bbox_head
    metas = [dict(batch_input_shape=(96, 128))] * 2
    ours = head.predict_by_feat(preds, [], metas, rescale=False)
    theirs = head.predict_by_feat([
        e.permute(0, 1, 4, 2, 3).reshape(2, -1, *e.shape[2:4])
        for e in expected
    ], [], metas, rescale=False)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.bboxes, b.bboxes, atol=1e-3, rtol=0)
        assert torch.equal(a.labels, b.labels)


def test_deploy_form_checkpoint(tmp_path):
    """The released yolov7.pt form: Detect without implicit layers."""
    official = build_official('tiny', nc=3, deploy=True)
    src = str(tmp_path / 'yolov7-tiny.pt')
    save_official(official, src)
    ckpt, cfg_path = convert_yolov7_checkpoint(src, str(tmp_path / 'out'))
    model, cfg = load_converted(ckpt, cfg_path)
    assert cfg.model.bbox_head.use_implicit is False
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = copy.deepcopy(official).half().float().eval()(x)
        preds, _ = model._forward(x)
    for e, p in zip(expected, preds):
        torch.testing.assert_close(model.bbox_head._official_layout(p), e,
                                   atol=1e-4, rtol=1e-4)


def test_converted_anchors_and_form(converted):
    _, ckpt, cfg_path = converted['L']
    cfg = Config.fromfile(cfg_path)
    assert cfg.model.bbox_head.anchors[0] == [[12, 16], [19, 36], [40, 28]]
    assert cfg.model.bbox_head.use_implicit
    meta = torch.load(ckpt, map_location='cpu')['meta']
    assert meta['source_format'] == 'yolov7' and meta['arch'] == 'L'


def test_loading_needs_no_official_source(converted):
    _, ckpt, _ = converted['tiny']
    import sys
    assert 'models.common' not in sys.modules
    assert 'models.yolo' not in sys.modules


class _Payload:
    """A pickle that runs a command when loaded the ordinary way."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f'touch {self.path}', ))


def test_hostile_pickle_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    src = tmp_path / 'evil.pt'
    torch.save({'model': _Payload(str(marker)), 'epoch': 1}, str(src))
    out = tmp_path / 'out'
    with pytest.raises(UnsafeCheckpointError, match='system'):
        convert_yolov7_checkpoint(str(src), str(out))
    assert not marker.exists()
    assert not out.exists() or not os.listdir(out)
    # the command line says so and fails
    assert tool_main('model_converters/yolov7_to_mmdet.py')(
        [str(src), str(out)]) == 1
    assert not marker.exists()


def _legacy_magic_payload(path, marker):
    """torch's legacy format with the payload where the magic number is
    read (its first pickle)."""
    import pickle
    with open(path, 'wb') as f:
        pickle.dump(_Payload(marker), f, protocol=2)


def _legacy_tar_payload(path, marker):
    """torch's legacy tar format, the payload in its ``storages``
    member."""
    import io
    import pickle
    import tarfile
    with tarfile.open(path, 'w:') as tar:
        for name, obj in (('sys_info', dict(protocol_version=1001)),
                          ('pickle', {}), ('tensors', 0),
                          ('storages', _Payload(marker))):
            data = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _plain_pickle_payload(path, marker):
    import pickle
    with open(path, 'wb') as f:
        pickle.dump({'model': _Payload(marker)}, f)


def _legacy_payload(path, marker):
    torch.save({'model': _Payload(marker)}, path,
               _use_new_zipfile_serialization=False)


@pytest.mark.parametrize('make', [
    _plain_pickle_payload, _legacy_payload, _legacy_magic_payload,
    _legacy_tar_payload
])
def test_hostile_files_of_every_format_run_nothing(make, tmp_path):
    """Every format torch.load reads goes through the restricted
    unpickler: the payload never runs, the converter exits 1 naming the
    global, and nothing is written."""
    marker = tmp_path / 'pwned'
    src = str(tmp_path / 'yolov7.pt')
    make(src, str(marker))
    out = tmp_path / 'out'
    with pytest.raises(UnsafeCheckpointError, match='system'):
        convert_yolov7_checkpoint(src, str(out))
    assert not marker.exists()
    assert tool_main('model_converters/yolov7_to_mmdet.py')(
        [src, str(out)]) == 1
    assert not marker.exists()
    assert not out.exists()


def test_official_namespace_function_is_refused_by_name(tmp_path, capsys):
    """A function in the official code's namespace (utils.*) is no model
    class: refused with the same clear error, naming it (the bytes: a
    protocol-2 pickle of {'model': attempt_download('yolov7x')})."""
    src = tmp_path / 'download.pt'
    data = (b'\x80\x02}q\x00X\x05\x00\x00\x00modelq\x01cutils.google_utils'
            b'\nattempt_download\nq\x02X\x07\x00\x00\x00yolov7xq\x03\x85q'
            b'\x04Rq\x05s.')
    src.write_bytes(data)
    with pytest.raises(UnsafeCheckpointError,
                       match='utils.google_utils.attempt_download'):
        convert_yolov7_checkpoint(str(src), str(tmp_path / 'out'))
    assert tool_main('model_converters/yolov7_to_mmdet.py')(
        [str(src), str(tmp_path / 'out')]) == 1
    err = capsys.readouterr().err
    assert 'utils.google_utils.attempt_download' in err
    assert 'Traceback' not in err


@pytest.mark.parametrize('content', [b'', b'\x00garbage' * 50, 'truncated'])
def test_unreadable_files_are_named(content, tmp_path, capsys):
    src = tmp_path / 'broken.pt'
    if content == 'truncated':
        torch.save({'model': {'w': torch.zeros(100)}}, str(src))
        content = src.read_bytes()[:200]
    src.write_bytes(content)
    assert tool_main('model_converters/yolov7_to_mmdet.py')(
        [str(src), str(tmp_path / 'out')]) == 1
    err = capsys.readouterr().err
    assert str(src) in err and 'Traceback' not in err
    assert not (tmp_path / 'out').exists()


def test_pickled_function_is_refused(tmp_path):
    src = tmp_path / 'fn.pt'
    torch.save({'model': copy.deepcopy}, str(src))
    with pytest.raises(UnsafeCheckpointError, match='copy.deepcopy'):
        convert_yolov7_checkpoint(str(src), str(tmp_path / 'out'))


def test_not_a_yolov7_checkpoint(tmp_path):
    src = tmp_path / 'resnet.pt'
    torch.save({'model': {'conv1.weight': torch.zeros(64, 3, 7, 7)}},
               str(src))
    with pytest.raises(ValueError, match='not a YOLOv7/DynamicDet'):
        convert_yolov7_checkpoint(str(src), str(tmp_path / 'out'))
    torch.save({'state_dict': {}}, str(src))
    with pytest.raises(ValueError, match="no 'model' or 'ema'"):
        convert_yolov7_checkpoint(str(src), str(tmp_path / 'out'))
    assert not (tmp_path / 'out').exists()


def test_unknown_arch(tmp_path):
    src = tmp_path / 'odd.pt'
    torch.save({'model': {'model.0.conv.weight': torch.zeros(48, 3, 3, 3)}},
               str(src))
    with pytest.raises(ValueError, match=r'unknown yolov7 arch: first conv '
                       r'\(48, 3, 3, 3\)'):
        convert_yolov7_checkpoint(str(src), str(tmp_path / 'out'))


def test_mismatch_names_tensors_and_shapes(tmp_path, converted):
    official, _, _ = converted['tiny']
    state = copy.deepcopy(official).state_dict()
    state['model.2.conv.weight'] = torch.zeros(16, 64, 1, 1)
    src = tmp_path / 'bad.pt'
    torch.save({'model': state}, str(src))
    with pytest.raises(ConversionError,
                       match=r'model\.2\.conv\.weight \(16, 64, 1, 1\) vs '
                       r'backbone\.stage1\.0\.branches\.0\.short_conv\.conv'
                       r'\.weight \(32, 64, 1, 1\)'):
        convert_yolov7_checkpoint(str(src), str(tmp_path / 'out'))
    assert not (tmp_path / 'out').exists()


def _dynamicdet_state(model):
    """Our Dy-YOLOv7-L as DynamicDet's official checkpoint stores it:
    model_b (B1), model_b2 (5 CBLinear, then B2), model_h / model_h2,
    router.layer1/2 (1x1 convs, easiness = -difficulty), fp16."""
    own = model.state_dict()
    out = {}

    def put(prefix, layers, start=0):
        for i, layer in enumerate(layers, start=start):
            for sub, ours in layer.items():
                if ours in own:
                    out[f'{prefix}{i}.{sub}'] = own[ours]

    # layer indices as the official cfg numbers them, only those that hold
    # weights matter to the converter (it sorts them)
    d1, d2 = model.detector1, model.detector2
    put('model_b.', backbone_layers(d1.backbone, 'detector1.backbone'))
    fusion = model.stages2.fusion_channels
    for j in range(5):
        ws = [own[f'composite.convs.{k}_{j}.conv.weight'] for k in
              range(j + 1)]
        bs = [own[f'composite.convs.{k}_{j}.conv.bias'] for k in
              range(j + 1)]
        assert [w.shape[0] for w in ws] == fusion[:j + 1]
        out[f'model_b2.{j}.conv.weight'] = torch.cat(ws)
        out[f'model_b2.{j}.conv.bias'] = torch.cat(bs)
    put('model_b2.', backbone_layers(d2.backbone, 'detector2.backbone'), 5)
    for prefix, det, name in (('model_h.', d1, 'detector1'),
                              ('model_h2.', d2, 'detector2')):
        layers = neck_layers(det.neck, f'{name}.neck') + \
            [head_layer(det.bbox_head, f'{name}.bbox_head')]
        put(prefix, layers)
        grid = torch.tensor(det.bbox_head.anchors).view(3, 1, 3, 1, 1, 2)
        out[f'{prefix}{len(layers) - 1}.anchor_grid'] = grid
        out[f'{prefix}{len(layers) - 1}.anchors'] = grid.view(3, 3, 2)
    out['router.layer1.weight'] = own['router.fc1.weight'][..., None, None]
    out['router.layer1.bias'] = own['router.fc1.bias']
    out['router.layer2.weight'] = -own['router.fc2.weight'][..., None, None]
    out['router.layer2.bias'] = -own['router.fc2.bias']
    return {k: v.half() if v.is_floating_point() else v
            for k, v in out.items()}


def test_dynamicdet_checkpoint_routes_as_the_official_router(tmp_path):
    torch.manual_seed(0)
    cfg = Config.fromfile(
        f'{PROJECT_ROOT}/configs/dynamicdet/dy-yolov7_l_step1_coco.py')
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    state = _dynamicdet_state(model)
    # the official Dy-YOLOv7 (step 2) size
    assert sum(v.numel() for k, v in state.items()
               if 'anchor' not in k and 'num_batches' not in k
               and 'running' not in k) == 80621333
    src = tmp_path / 'dy-yolov7-step2.pt'
    torch.save({'model': state, 'ema': None, 'epoch': 1}, str(src))
    ckpt, cfg_path = convert_yolov7_checkpoint(str(src), str(tmp_path))
    converted, ccfg = load_converted(ckpt, cfg_path)
    assert ccfg.model.layout == 'dynamicdet'
    assert ccfg.model.test_cfg.threshold == 0.5
    ours = converted.state_dict()
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            value = value.half().float()  # the official checkpoint's fp16
        torch.testing.assert_close(ours[key], value)
    # routes: official hard iff sigmoid(easiness) < 0.5
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        feats, _ = converted.run_backbone1(x)
        routed = [feats[k] for k in converted.stages1.routed]
        pooled = torch.cat([f.mean((2, 3)) for f in routed], 1)
        w1 = state['router.layer1.weight'].float().flatten(1)
        w2 = state['router.layer2.weight'].float().flatten(1)
        easiness = torch.relu(pooled @ w1.T + state['router.layer1.bias']
                              .float()) @ w2.T + state['router.layer2.bias'
                                                       ].float()
        official_hard = easiness.sigmoid().squeeze(1) < 0.5
        _, hard = converted.route(feats)
    assert torch.equal(hard, official_hard)
