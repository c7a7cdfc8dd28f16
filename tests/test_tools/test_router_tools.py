# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""tools/analysis_tools/router_threshold.py and dynamic_tradeoff.py on a
tiny Dy-Faster R-CNN (4 raccoon test images at 128 px)."""
import csv
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmdet_dynamic.registry import MODELS
from mmdet_dynamic.apis.variable_speed import threshold_for_hard_ratio
from ..conftest import PROJECT_ROOT, randomise_bn, tool_main

# runs the router tools on models: left out of make test-fast
pytestmark = pytest.mark.slow

CONFIG = osp.join(PROJECT_ROOT, 'configs', 'dynamicdet',
                  'dy-faster-rcnn_r18_fpn_joint-router_raccoon.py')


def _tool(name):
    return tool_main(f'analysis_tools/{name}.py')


def _write_config(path, raccoon_coco, ann_file=None, num_images=4):
    cfg = Config.fromfile(CONFIG)
    for key in ('val', 'test'):
        loader = cfg[f'{key}_dataloader']
        ds = loader.dataset
        ds.data_root = raccoon_coco['root']
        ds.ann_file = ann_file or raccoon_coco['test']
        ds.data_prefix = dict(img='images/')
        ds.indices = num_images
        for t in ds.pipeline:
            if t['type'] == 'Resize':
                t['scale'] = (128, 128)
        loader.update(num_workers=0, persistent_workers=False)
        cfg[f'{key}_evaluator'].ann_file = ann_file or raccoon_coco['test']
    cfg.dump(str(path))
    return str(path)


@pytest.fixture(scope='module')
def tiny(raccoon_coco, tmp_path_factory):
    """Config and checkpoint of an untrained cascade with varied BN."""
    tmp = tmp_path_factory.mktemp('router_tools')
    config = _write_config(tmp / 'tiny_dy.py', raccoon_coco)
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    randomise_bn(model)
    ckpt = str(tmp / 'tiny_dy.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    return dict(config=config, ckpt=ckpt, tmp=tmp)


def test_threshold_tool_hard_ratio(tiny, tmp_path, capsys):
    out = tmp_path / 'out'
    assert _tool('router_threshold')([
        tiny['config'], tiny['ckpt'], '--hard-ratio', '0.5', '--lat1', '10',
        '--lat2', '20', '--out-dir', str(out)
    ]) == 0
    res = json.loads((out / 'tiny_dy_threshold.json').read_text())
    assert len(res['scores']) == 4
    assert res['k'] == 0.5
    assert res['threshold'] == threshold_for_hard_ratio(res['scores'], 0.5)
    assert res['realised_hard_ratio'] == 0.5
    assert res['expected_latency_ms'] == 15.0
    written = Config.fromfile(str(out / 'tiny_dy_threshold.py'))
    assert written.model.test_cfg.threshold == res['threshold']
    assert written.model.type == 'DynamicCascadeDetector'
    printed = capsys.readouterr().out
    assert '| hard ratio | threshold |' in printed  # the quantile grid
    assert f"threshold={res['threshold']!r}" in printed  # --cfg-options


def test_threshold_tool_clips_target_latency(tiny, tmp_path, capsys):
    out = tmp_path / 'out'
    assert _tool('router_threshold')([
        tiny['config'], tiny['ckpt'], '--target-latency', '5', '--lat1',
        '10', '--lat2', '20', '--out-dir', str(out)
    ]) == 0
    assert 'below lat1' in capsys.readouterr().out
    res = json.loads((out / 'tiny_dy_threshold.json').read_text())
    assert res['k'] == 0.0 and res['realised_hard_ratio'] == 0.0


def test_threshold_tool_measures_latency(tiny, tmp_path):
    out = tmp_path / 'out'
    assert _tool('router_threshold')([
        tiny['config'], tiny['ckpt'], '--hard-ratio', '1',
        '--latency-images', '1', '--out-dir', str(out)
    ]) == 0
    res = json.loads((out / 'tiny_dy_threshold.json').read_text())
    assert res['latency_source'] == 'measured'
    assert res['lat1_ms'] > 0 and res['lat2_ms'] > 0
    assert res['threshold'] == 0.0


def test_threshold_tool_refuses_plain_detector(tmp_path, capsys):
    out = tmp_path / 'out'
    plain = osp.join(PROJECT_ROOT, 'configs', 'faster_rcnn',
                     'faster-rcnn_r18_fpn_40i_raccoon.py')
    assert _tool('router_threshold')(
        [plain, 'none.pth', '--hard-ratio', '0.5', '--out-dir',
         str(out)]) == 1
    assert 'DynamicCascadeDetector' in capsys.readouterr().err
    assert not out.exists()


def test_tools_refuse_empty_val_set(tiny, raccoon_coco, tmp_path, capsys):
    empty = tmp_path / 'empty.json'
    empty.write_text(
        json.dumps(
            dict(
                images=[],
                annotations=[],
                categories=[dict(id=1, name='raccoon')])))
    config = _write_config(tmp_path / 'empty_dy.py', raccoon_coco,
                           str(empty))
    out = tmp_path / 'out'
    for tool, extra in (('router_threshold', ['--hard-ratio', '0.5']),
                        ('dynamic_tradeoff', [])):
        assert _tool(tool)([config, tiny['ckpt'], '--out-dir',
                            str(out)] + extra) == 1
        assert 'has no images' in capsys.readouterr().err
        assert not out.exists()


def test_tradeoff_tool_writes_table_and_plot(tiny, tmp_path):
    out = tmp_path / 'tradeoff'
    assert _tool('dynamic_tradeoff')([
        tiny['config'], tiny['ckpt'], '--out-dir',
        str(out), '--ratios', '0', '0.5', '1', '--random-seeds', '2'
    ]) == 0
    with open(out / 'tradeoff.csv') as f:
        rows = list(csv.DictReader(f))
    assert [float(r['hard_ratio']) for r in rows] == [0.0, 0.5, 1.0]
    assert {'latency_ms', 'bbox_mAP', 'random_bbox_mAP'} <= set(rows[0])
    res = json.loads((out / 'tradeoff.json').read_text())
    first, last = res['rows'][0], res['rows'][-1]
    # hard ratio 0 and 1 are the same split for router, random and oracle
    for row in (first, last):
        assert row['bbox_mAP'] == row['random_bbox_mAP'] == \
            row['oracle_bbox_mAP']
        assert row['router_minus_random'] == row['ci_low'] == \
            row['ci_high'] == 0.0
        assert not row['significant']
    assert {'oracle_bbox_mAP', 'oracle_gain_share', 'ci_low', 'ci_high',
            'oracle_latency_ms'} <= set(res['rows'][1])
    assert first['latency_ms'] == pytest.approx(res['lat1_ms'])
    gain = res['cascade_minus_detector1']
    assert gain['ci_low'] <= gain['mean'] <= gain['ci_high']
    assert last['latency_ms'] == pytest.approx(res['lat2_ms'])
    png = (out / 'tradeoff.png').read_bytes()
    assert png[:8] == b'\x89PNG\r\n\x1a\n'
    import matplotlib.image
    assert matplotlib.image.imread(str(out / 'tradeoff.png')).shape[2] in (
        3, 4)


def test_tradeoff_plot_leaves_the_pyplot_backend_alone(tiny, tmp_path):
    import matplotlib

    from mmdet_dynamic.apis.dynamic_tradeoff import plot_tradeoff
    before = matplotlib.get_backend()
    rows = [
        dict(hard_ratio=k, latency_ms=10 + k, bbox_mAP=0.1 + k / 10,
             random_latency_ms=10 + k, random_bbox_mAP=0.1)
        for k in (0.0, 0.5, 1.0)
    ]
    plot_tradeoff(rows, ['bbox_mAP'], str(tmp_path / 'p.png'))
    assert matplotlib.get_backend() == before
    assert (tmp_path / 'p.png').read_bytes()[:4] == b'\x89PNG'


def test_load_cascade_is_mmdet_init_detector(tiny, tmp_path):
    """The tools load models with mmdet's init_detector: weights from the
    checkpoint, dataset_meta from its meta, eval mode."""
    from mmdet_dynamic.apis.variable_speed import load_cascade
    model = MODELS.build(Config.fromfile(tiny['config']).model)
    ckpt = str(tmp_path / 'meta.pth')
    saved = torch.load(tiny['ckpt'], weights_only=False)
    torch.save(
        dict(state_dict=saved['state_dict'],
             meta=dict(dataset_meta=dict(classes=('raccoon', )))), ckpt)
    model, _ = load_cascade(tiny['config'], ckpt)
    assert not model.training
    assert model.dataset_meta['classes'] == ('raccoon', )
    for key, value in saved['state_dict'].items():
        torch.testing.assert_close(model.state_dict()[key], value)


@pytest.mark.parametrize('tool', ['router_threshold', 'dynamic_tradeoff'])
def test_tools_refuse_a_checkpoint_that_fits_no_key(tool, tiny, tmp_path,
                                                    capsys):
    """A checkpoint of another model stops the tool, naming the first keys
    and their count; nothing is written. --allow-partial is the way past."""
    ckpt = str(tmp_path / 'other.pth')
    torch.save(dict(state_dict={'backbone.conv1.weight': torch.zeros(1),
                                'head.fc.weight': torch.zeros(2)}), ckpt)
    out = tmp_path / 'out'
    args = [tiny['config'], ckpt, '--out-dir', str(out)]
    if tool == 'router_threshold':
        args += ['--hard-ratio', '0.5', '--lat1', '1', '--lat2', '2']
    else:
        args += ['--ratios', '0', '1', '--random-seeds', '1']
    assert _tool(tool)(args) == 1
    err = capsys.readouterr().err
    assert 'does not fit the model' in err
    assert 'missing keys in source state_dict' in err  # mmengine's report
    assert 'unexpected key in source state_dict: backbone.conv1.weight, ' \
        'head.fc.weight' in err and '--allow-partial' in err
    assert not out.exists()
    # a checkpoint missing a single key passes with --allow-partial only
    saved = torch.load(tiny['ckpt'], weights_only=False)['state_dict']
    saved.pop('router.fc2.bias')
    torch.save(dict(state_dict=saved), ckpt)
    assert _tool(tool)(args) == 1
    assert 'missing keys in source state_dict: router.fc2.bias' in \
        capsys.readouterr().err
    assert _tool(tool)(args + ['--allow-partial']) == 0
    assert out.exists()


def test_pooled_ap_equals_coco_metric(tiny, raccoon_coco):
    """The bootstrap's AP pooling reproduces mmdet's CocoMetric on the
    plain image set (it rounds to 3 decimals)."""
    from mmdet_dynamic.apis.coco_bootstrap import (per_image_matches,
                                                   pooled_ap)
    from mmdet_dynamic.apis.coco_eval import build_coco_metric, evaluate
    from mmdet_dynamic.apis.dynamic_tradeoff import collect_route_records
    from mmdet_dynamic.apis.variable_speed import (build_eval_loader,
                                                   load_cascade)
    model, cfg = load_cascade(tiny['config'], tiny['ckpt'])
    loader = build_eval_loader(cfg, 'val')
    metric = build_coco_metric(cfg, 'val', loader.dataset.metainfo)
    rec = collect_route_records(model, loader, metric, progress=False)
    # CocoMetric scores every image of its annotation file; the fixture
    # runs 4 of them, so let it score those 4, as the bootstrap does
    metric.img_ids = [pred['img_id'] for _, pred in rec['easy']]
    for route in ('easy', 'hard'):
        ours = pooled_ap(per_image_matches(metric, rec[route]))
        theirs = evaluate(metric, rec[route])
        assert ours['mAP'] == pytest.approx(theirs['bbox_mAP'], abs=5e-4)
        assert ours['mAP_50'] == pytest.approx(theirs['bbox_mAP_50'],
                                               abs=5e-4)


@pytest.mark.parametrize('tool', ['router_threshold', 'dynamic_tradeoff'])
def test_tools_check_device_and_output_before_any_work(tool, tiny, tmp_path,
                                                       capsys):
    """An unknown or missing device and an output folder that cannot be
    written stop the tool at once, naming them; nothing is written."""
    extra = ['--hard-ratio', '0.5', '--lat1', '1', '--lat2', '2'] \
        if tool == 'router_threshold' else ['--ratios', '0', '1']
    out = tmp_path / 'out'
    base = [tiny['config'], tiny['ckpt']] + extra
    assert _tool(tool)(base + ['--out-dir', str(out), '--device',
                               'gpu0']) == 1
    assert "'gpu0' is not a device name" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert _tool(tool)(base + ['--out-dir', str(out), '--device',
                                   'cuda']) == 1
        assert 'CUDA is not available' in capsys.readouterr().err
    assert not out.exists()
    blocker = tmp_path / 'blocker'
    blocker.write_text('a file where the folder would go')
    assert _tool(tool)(base + ['--out-dir', str(blocker / 'out')]) == 1
    err = capsys.readouterr().err
    assert 'cannot be written' in err and 'difficulty scores' not in err


def test_tools_record_the_device_and_write_valid_json(tiny, tmp_path):
    out = tmp_path / 'out'
    assert _tool('dynamic_tradeoff')([
        tiny['config'], tiny['ckpt'], '--out-dir', str(out), '--ratios', '0',
        '1', '--random-seeds', '1', '--device', 'cpu'
    ]) == 0
    text = (out / 'tradeoff.json').read_text()
    assert 'NaN' not in text
    res = json.loads(text)  # strict JSON (JSON.parse fails on NaN)
    assert res['device'] == 'cpu'
    # the oracle's share is undefined at the ends: null, not NaN
    assert res['rows'][0]['oracle_gain_share'] is None
    assert _tool('router_threshold')([
        tiny['config'], tiny['ckpt'], '--hard-ratio', '0.5', '--lat1', '1',
        '--lat2', '2', '--out-dir', str(out), '--device', 'cpu'
    ]) == 0
    assert json.loads(
        (out / 'tiny_dy_threshold.json').read_text())['device'] == 'cpu'


def test_tools_write_all_outputs_or_none(tiny, tmp_path, monkeypatch):
    """A failure while writing the last file leaves none of them."""
    from mmdet_dynamic.apis import dynamic_tradeoff

    def broken_plot(*args, **kwargs):
        raise OSError('disk full')

    monkeypatch.setattr(dynamic_tradeoff, 'plot_tradeoff', broken_plot)
    out = tmp_path / 'out'
    with pytest.raises(OSError, match='disk full'):
        _tool('dynamic_tradeoff')([
            tiny['config'], tiny['ckpt'], '--out-dir', str(out), '--ratios',
            '0', '1', '--random-seeds', '1'
        ])
    assert not out.exists() or not list(out.iterdir())


def test_tools_print_commands_a_pip_user_can_run(tiny, tmp_path,
                                                 monkeypatch, capsys):
    """Outside a clone (no tools/ folder here) the next-step command is
    the installed tool or `python -m mim`, never `python tools/test.py`."""
    from mmdet_dynamic.utils import tool_command
    monkeypatch.chdir(PROJECT_ROOT)
    assert tool_command('test.py') == 'python tools/test.py'
    monkeypatch.chdir(tmp_path)
    cmd = tool_command('test.py')
    assert not cmd.startswith('python tools/')
    assert cmd == 'python -m mim test mmdet_dynamic' or \
        cmd.endswith('.mim/tools/test.py')
    assert _tool('router_threshold')([
        tiny['config'], tiny['ckpt'], '--hard-ratio', '0.5', '--lat1', '1',
        '--lat2', '2', '--out-dir', str(tmp_path / 'out')
    ]) == 0
    printed = capsys.readouterr().out
    assert 'python tools/test.py' not in printed and cmd in printed


def test_tools_print_no_spurious_class_warning(tiny, tmp_path, recwarn):
    assert _tool('router_threshold')([
        tiny['config'], tiny['ckpt'], '--hard-ratio', '0.5', '--lat1', '1',
        '--lat2', '2', '--out-dir', str(tmp_path / 'out')
    ]) == 0
    assert not [w for w in recwarn if 'COCO classes' in str(w.message)]
