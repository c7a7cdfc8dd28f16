# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""tools/analysis_tools/router_benchmark.py: bad input stops it before any
training, with nothing written; --resume checks the settings."""
import json
import os.path as osp

import pytest

from ..conftest import PROJECT_ROOT, tool_main

DY_FASTER_BCCD = osp.join(PROJECT_ROOT, 'configs', 'dynamicdet',
                          'dy-faster-rcnn_r18_fpn_joint-router_bccd.py')
DY_FASTER = osp.join(PROJECT_ROOT, 'configs', 'dynamicdet',
                     'dy-faster-rcnn_r18_fpn_joint-router_raccoon.py')


def _tool():
    return tool_main('analysis_tools/router_benchmark.py')


@pytest.fixture(scope='module')
def raccoon_all(tmp_path_factory):
    """The bundled raccoon data with its `all` split, as `make data`
    writes it, in a temp folder (images linked)."""
    import os

    from mmdet_dynamic.datasets import voc_to_coco
    root = tmp_path_factory.mktemp('raccoon_all')
    for name in ('annotations', 'images', 'data'):
        os.symlink(osp.join(PROJECT_ROOT, 'data', 'raccoon', name),
                   root / name)
    voc_to_coco(str(root), {
        'all': 'data/train_labels.csv+data/test_labels.csv'
    }, str(root / 'coco'))
    return str(root)


def test_unknown_dataset_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        _tool()([DY_FASTER, '--data', 'coco', '--out-dir', str(tmp_path)])
    assert info.value.code == 2
    assert "invalid choice: 'coco'" in capsys.readouterr().err


@pytest.mark.parametrize('args, message', [
    (['--folds', '1'], '--folds must be at least 2'),
    (['--bootstrap', '0'], '--bootstrap must be >= 1'),
])
def test_bad_numbers_are_argument_errors(args, message, tmp_path, capsys):
    with pytest.raises(SystemExit):
        _tool()([DY_FASTER, '--data', 'raccoon', '--out-dir',
                 str(tmp_path / 'out')] + args)
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_stops_before_training_on_bad_settings(raccoon_all, tmp_path,
                                               capsys):
    out = tmp_path / 'out'
    base = ['--data', 'raccoon', '--data-root', raccoon_all, '--out-dir',
            str(out)]
    plain = osp.join(PROJECT_ROOT, 'configs', 'faster_rcnn',
                     'faster-rcnn_r18_fpn_40i_raccoon.py')
    cases = [
        ([plain] + base, "builds a 'FasterRCNN', which has none"),
        ([DY_FASTER] + base + ['--folds', '201'],
         r'between 2 and the number of images (200), got 201'),
        ([DY_FASTER_BCCD] + base, "classes ('RBC', 'WBC', 'Platelets') are "
         "not raccoon's"),
        ([osp.join(PROJECT_ROOT, 'configs', 'dynamicdet',
                   'dy-faster-rcnn_r18_fpn_40i_raccoon.py')] + base,
         'no RouterTrainingHook'),
        ([DY_FASTER, '--data', 'raccoon', '--data-root',
          str(tmp_path / 'nowhere'), '--out-dir', str(out)],
         'prepare the data with `make data`'),
        ([DY_FASTER] + base + ['--device', 'gpu0'], 'not a device name'),
    ]
    for argv, message in cases:
        assert _tool()(argv) == 1, argv
        err = capsys.readouterr().err
        assert message in err, (message, err)
        assert not out.exists()


def test_resume_with_changed_settings_names_them(raccoon_all, tmp_path,
                                                 capsys):
    out = tmp_path / 'out'
    out.mkdir()
    settings = dict(
        config=DY_FASTER, config_sha='0', data='raccoon',
        data_root=raccoon_all, folds=5, seed=0, joint_from=None,
        train_diagnosis=64)
    (out / 'settings.json').write_text(json.dumps(settings))
    argv = [DY_FASTER, '--data', 'raccoon', '--data-root', raccoon_all,
            '--out-dir', str(out), '--folds', '4']
    assert _tool()(argv) == 1
    assert 'already holds a benchmark' in capsys.readouterr().err
    assert _tool()(argv + ['--resume']) == 1
    err = capsys.readouterr().err
    assert '--resume with changed settings' in err
    assert 'folds: 5 then, 4 now' in err
    assert sorted(p.name for p in out.iterdir()) == ['settings.json']


def test_joint_from_compares_the_joint_recipe_only(tmp_path):
    """--joint-from reuses a joint phase trained with another router target
    (only the router phase reads it) or dumped by the runner with its
    launcher, in another folder; a different joint recipe is refused."""
    from mmengine.config import Config
    recipe = tool_main('analysis_tools/router_benchmark.py').__globals__[
        '_joint_recipe']
    cfg = Config.fromfile(DY_FASTER_BCCD)
    files = {}
    for name, folder, options in (
            ('mine', tmp_path / 'a' / 'fold_0', {}),
            ('other_target', tmp_path / 'b' / 'fold_0',
             {'model.router_target': 'ap_gain', 'launcher': 'none'}),
            ('other_lr', tmp_path / 'c' / 'fold_0',
             {'optim_wrapper.optimizer.lr': 0.5})):
        c = Config(cfg.to_dict())
        c.merge_from_dict(options)
        c.work_dir = str(folder / 'joint')
        folder.mkdir(parents=True)
        c.dump(str(folder / 'config.py'))
        files[name] = recipe(str(folder / 'config.py'), str(folder))
    assert files['mine'] == files['other_target']
    assert files['mine'] != files['other_lr']


DRIVER = '''
import importlib.util, sys
spec = importlib.util.spec_from_file_location("rb", sys.argv[1])
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)
# the training subprocess: says its pid, then runs for two minutes
tool.TRAIN_CODE = ("import os, time; print('child', os.getpid(), flush=True);"
                   " time.sleep(120)")
tool._main = lambda argv: tool._train("unused.py", sys.argv[2], 10, "fold 1")
sys.exit(tool.main([]))
'''


def test_sigterm_stops_the_training_subprocess_too(tmp_path):
    """``kill`` (or a batch system's time limit) on the benchmark stops the
    fold's training subprocess as well: no orphan keeps the CPU busy."""
    import os
    import signal
    import subprocess
    import sys
    import time
    work = tmp_path / 'fold_0' / 'joint'
    proc = subprocess.Popen(
        [sys.executable, '-c', DRIVER,
         osp.join(PROJECT_ROOT, 'tools', 'analysis_tools',
                  'router_benchmark.py'), str(work)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log, child = work / 'train.log', None
    for _ in range(300):
        if log.is_file() and 'child' in log.read_text():
            child = int(log.read_text().split('child')[1].split()[0])
            break
        time.sleep(0.1)
    assert child is not None, proc.stderr.read() if proc.poll() else ''
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
