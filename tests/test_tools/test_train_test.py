# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""tools/train.py and tools/test.py end to end on the bundled data.

One tiny Faster R-CNN run (2 iterations at 128 px on 4 images) writes
checkpoints; tools/test.py, ``--resume`` and ``load_from`` must load them
under torch's weights-only loading.
"""
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch

from ..conftest import PROJECT_ROOT

# runs the tools in subprocesses: left out of make test-fast
pytestmark = pytest.mark.slow

BASELINE = osp.join(PROJECT_ROOT, 'configs', 'faster_rcnn',
                    'faster-rcnn_r18_fpn_40i_raccoon.py')


def _run(*args, cwd=PROJECT_ROOT):
    proc = subprocess.run([sys.executable, *args],
                          cwd=cwd,
                          capture_output=True,
                          text=True,
                          timeout=900)
    return proc.returncode, proc.stdout + proc.stderr


def _tool(name):
    return osp.join(PROJECT_ROOT, 'tools', name)


@pytest.fixture(scope='module')
def tiny_cfg(raccoon_coco, tmp_path_factory):
    """A config deriving from the baseline, shrunk for a fast CPU run."""
    tmp = tmp_path_factory.mktemp('tiny_cfg')
    cfg = tmp / 'tiny_faster_rcnn.py'
    cfg.write_text(
        textwrap.dedent(f"""
        _base_ = [{BASELINE!r}]
        img_scale = (128, 128)
        _pipe_train = [
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='Resize', scale=img_scale, keep_ratio=True),
            dict(type='PackDetInputs')]
        _pipe_test = [
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=img_scale, keep_ratio=True),
            dict(type='LoadAnnotations', with_bbox=True),
            dict(type='PackDetInputs', meta_keys=('img_id', 'img_path',
                 'ori_shape', 'img_shape', 'scale_factor'))]
        train_dataloader = dict(
            batch_size=2, num_workers=0, persistent_workers=False,
            dataset=dict(data_root={raccoon_coco['root']!r},
                         ann_file={raccoon_coco['train']!r},
                         indices=4, pipeline=_pipe_train))
        val_dataloader = dict(
            num_workers=0, persistent_workers=False,
            dataset=dict(data_root={raccoon_coco['root']!r},
                         ann_file={raccoon_coco['test']!r},
                         indices=2, pipeline=_pipe_test))
        test_dataloader = val_dataloader
        val_evaluator = dict(ann_file={raccoon_coco['test']!r})
        test_evaluator = val_evaluator
        train_cfg = dict(max_iters=2, val_interval=2)
        default_hooks = dict(checkpoint=dict(interval=1),
                             logger=dict(interval=1))
        """))
    return str(cfg)


@pytest.fixture(scope='module')
def trained(tiny_cfg, tmp_path_factory):
    work_dir = str(tmp_path_factory.mktemp('work_dir'))
    rc, out = _run(_tool('train.py'), tiny_cfg, '--work-dir', work_dir)
    assert rc == 0, out[-4000:]
    return dict(work_dir=work_dir, log=out)


def test_train_writes_checkpoints_and_evaluates(trained):
    assert osp.isfile(osp.join(trained['work_dir'], 'iter_1.pth'))
    assert osp.isfile(osp.join(trained['work_dir'], 'iter_2.pth'))
    assert 'coco/bbox_mAP' in trained['log']


@pytest.mark.skipif(
    not hasattr(torch.serialization, 'add_safe_globals'),
    reason='torch < 2.4 has no weights-only allow-list (and loads '
    'unrestricted by default)')
def test_checkpoint_needs_the_allow_list(trained):
    """Plain torch.load refuses it; after `import mmdet_dynamic` it loads."""
    ckpt = osp.join(trained['work_dir'], 'iter_2.pth')
    load = f'import torch; torch.load({ckpt!r}, weights_only=True)'
    rc, out = _run('-c', load)
    assert rc != 0 and 'HistoryBuffer' in out
    rc, out = _run('-c', 'import mmdet_dynamic; ' + load + '; print("ok")')
    assert rc == 0 and 'ok' in out, out[-2000:]


def test_test_tool_loads_checkpoint(trained, tiny_cfg):
    rc, out = _run(
        _tool('test.py'), tiny_cfg, osp.join(trained['work_dir'],
                                             'iter_2.pth'), '--work-dir',
        osp.join(trained['work_dir'], 'test'))
    assert rc == 0, out[-4000:]
    assert 'Load checkpoint from' in out and 'coco/bbox_mAP' in out


def test_resume_and_load_from(trained, tiny_cfg):
    work_dir = trained['work_dir']
    rc, out = _run(
        _tool('train.py'), tiny_cfg, '--work-dir', work_dir, '--resume',
        osp.join(work_dir, 'iter_1.pth'), '--cfg-options',
        'train_cfg.max_iters=2', 'train_cfg.val_interval=100')
    assert rc == 0, out[-4000:]
    assert 'resumed epoch: 0, iter: 1' in out
    rc, out = _run(
        _tool('train.py'), tiny_cfg, '--work-dir',
        osp.join(work_dir, 'load_from'), '--cfg-options',
        f'load_from={osp.join(work_dir, "iter_2.pth")}',
        'train_cfg.max_iters=1', 'train_cfg.val_interval=100')
    assert rc == 0, out[-4000:]
    assert 'Load checkpoint from' in out


def test_unregistered_type_is_named(tiny_cfg, tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text(f"_base_ = [{tiny_cfg!r}]\n"
                   "model = dict(backbone=dict(_delete_=True, "
                   "type='NoSuchBackbone'))\n")
    rc, out = _run(_tool('train.py'), str(bad), '--work-dir',
                   str(tmp_path / 'w'))
    assert rc != 0
    assert 'NoSuchBackbone is not in the mmdet_dynamic::model registry' in out


def test_missing_data_root_is_named(tiny_cfg, tmp_path):
    missing = str(tmp_path / 'no_such_data')
    rc, out = _run(
        _tool('train.py'), tiny_cfg, '--work-dir', str(tmp_path / 'w'),
        '--cfg-options', f'train_dataloader.dataset.data_root={missing}')
    assert rc != 0
    assert 'train_dataloader.dataset.data_root does not exist' in out
    assert missing in out
