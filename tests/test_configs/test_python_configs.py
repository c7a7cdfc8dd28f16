# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The pure-Python configs (mmdet_dynamic/configs): the same models as
their text twins, and inheritable by mmdet's own tools in a process that
never imported mmdet_dynamic."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmdet_dynamic.registry import MODELS
from ..conftest import PROJECT_ROOT

PAIRS = [
    ('dynamicdet/dy_faster_rcnn_r18_fpn_joint_router_raccoon',
     'dynamicdet/dy-faster-rcnn_r18_fpn_joint-router_raccoon.py'),
    ('dynamicdet/dy_yolov7_tiny_joint_router_raccoon',
     'dynamicdet/dy-yolov7_tiny_joint-router_raccoon.py'),
    ('yolov7/yolov7_l_8xb16_300e_coco', 'yolov7/yolov7_l_8xb16-300e_coco.py'),
    ('yolov7/yolov7_tiny_8xb16_300e_coco',
     'yolov7/yolov7_tiny_8xb16-300e_coco.py'),
    ('efficientdet/efficientdet_d0_40i_raccoon',
     'efficientdet/efficientdet_d0_40i_raccoon.py'),
    ('efficientdet/efficientdet_d0_8xb16_300e_coco',
     'efficientdet/efficientdet_d0_8xb16-300e_coco.py'),
]


def _shapes(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize('python_cfg, text_cfg', PAIRS)
def test_python_config_builds_the_text_configs_model(python_cfg, text_cfg):
    ours = Config.fromfile(
        osp.join(PROJECT_ROOT, 'mmdet_dynamic', 'configs',
                 python_cfg + '.py'))
    text = Config.fromfile(osp.join(PROJECT_ROOT, 'configs', text_cfg))
    assert _shapes(MODELS.build(ours.model)) == \
        _shapes(MODELS.build(text.model))
    for key in ('max_iters', 'max_epochs'):
        assert ours.train_cfg.get(key) == text.train_cfg.get(key)
    assert ours.optim_wrapper.optimizer.lr == text.optim_wrapper.optimizer.lr
    hooks = [str(h['type']).split('.')[-1].split("'")[0]
             for h in ours.get('custom_hooks', [])]
    text_hooks = [str(h['type']) for h in text.get('custom_hooks', [])]
    assert [h.split('.')[-1] for h in hooks] == text_hooks


USER_CONFIG = '''
from mmengine.config import read_base
with read_base():
    from mmdet_dynamic.configs.dynamicdet.\\
dy_faster_rcnn_r18_fpn_joint_router_raccoon import *

train_dataloader.update(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root='{root}', ann_file='{train}', indices=2))
test_dataloader.update(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root='{root}', ann_file='{test}', indices=2))
test_evaluator.update(ann_file='{test}')
train_cfg.update(max_iters=2, val_interval=3)
val_dataloader = None
val_cfg = None
val_evaluator = None
param_scheduler = []
default_hooks.update(
    checkpoint=dict(interval=2), logger=dict(interval=1),
    visualization=dict(draw=False))
custom_hooks[0].update(switch_iter=1, delta_num_images=2)
'''

PROBE = '''
import runpy, sys
from mmengine.config import Config
assert 'mmdet_dynamic' not in sys.modules
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


@pytest.mark.slow
def test_mmdet_own_tools_train_and_test_a_user_config(raccoon_coco,
                                                      tmp_path):
    """A user's config inherits a pure-Python config of this package and
    runs through mmdet's own tools/train.py and test.py, and through
    `mim train mmdet`, in fresh processes that never imported
    mmdet_dynamic (the config's imports bring it in): both phases train,
    the checkpoint tests. The text configs' `mmdet_dynamic::` form needs
    the package imported first (README)."""
    from mmdet_dynamic.utils import mmdet_tool_path
    config = tmp_path / 'user_dy_faster.py'
    config.write_text(USER_CONFIG.format(**raccoon_coco))
    env = dict(os.environ, PYTHONPATH=PROJECT_ROOT)
    work = tmp_path / 'work'

    def run(*args):
        proc = subprocess.run([sys.executable, '-c', PROBE, *args],
                              cwd=str(tmp_path), env=env, text=True,
                              capture_output=True, timeout=900)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        return proc.stdout + proc.stderr

    out = run(mmdet_tool_path('train.py'), str(config), '--work-dir',
              str(work))
    assert 'RouterTrainingHook: router phase from iteration 1' in out
    out = run(mmdet_tool_path('test.py'), str(config),
              str(work / 'iter_2.pth'), '--work-dir', str(work / 'test'))
    assert 'coco/bbox_mAP' in out
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.isfile(mim):  # mmdet's own tools passed above
        import warnings
        warnings.warn(f'mim train not checked: openmim is not installed '
                      f'beside {sys.executable} (pip install openmim; '
                      'tools/setup_env.sh installs it)')
        return
    proc = subprocess.run([
        mim, 'train', 'mmdet', str(config), '--work-dir',
        str(tmp_path / 'mim'), '--launcher', 'none'
    ], cwd=str(tmp_path), env=env, text=True, capture_output=True,
        timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert 'router phase from iteration 1' in proc.stdout + proc.stderr
