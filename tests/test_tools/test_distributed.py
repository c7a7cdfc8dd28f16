# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Distributed training on CPU (gloo) with the launchers users run.

Two processes are launched with ``tools/dist_train.sh`` (torchrun); every
rank saves what it trained (tests/rank_state_hook.py), and the checkpoint of
rank 0 is evaluated by a single process. mmdet's own train/test scripts run
this package's configs unchanged.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from mmdet_dynamic.utils import mmdet_tool_path
from ..conftest import PROJECT_ROOT, free_port
from ..train_utils import tiny_config

# several processes (torchrun / gloo), each building a model
pytestmark = [pytest.mark.dist, pytest.mark.slow]

DY_FASTER = 'dynamicdet/dy-faster-rcnn_r18_fpn_joint-router_raccoon.py'
SUPERNET = 'detnas/faster-rcnn_shufflenetv2-supernet-small_fpn_40i_raccoon.py'


def _run(cmd, timeout=900, extra_env=None):
    port = str(free_port())
    env = dict(os.environ, PYTHON=sys.executable, PORT=port,
               MASTER_PORT=port, PYTHONPATH=PROJECT_ROOT, OMP_NUM_THREADS='1',
               **(extra_env or {}))
    proc = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def _config(config, raccoon_coco, work_dir, iters, **updates):
    """A tiny version of ``config``: 4 training images, 2 per rank, 128 px,
    every rank dumping its state; the test split (4 images) for testing."""
    cfg = tiny_config(config, raccoon_coco, str(work_dir), num_images=4,
                      iters=iters)
    full = Config.fromfile(osp.join(PROJECT_ROOT, 'configs', config))
    test_loader = full.test_dataloader
    test_loader.update(num_workers=0, persistent_workers=False)
    ds = test_loader.dataset
    ds.update(data_root=raccoon_coco['root'], ann_file=raccoon_coco['test'],
              indices=4)
    for t in ds.pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (128, 128)
    cfg.test_dataloader = test_loader
    cfg.test_evaluator = dict(full.test_evaluator,
                              ann_file=raccoon_coco['test'])
    cfg.test_cfg = dict(type='TestLoop')
    cfg.train_dataloader.batch_size = 2
    cfg.log_level = 'INFO'
    cfg.custom_imports = dict(
        imports=['mmdet_dynamic', 'tests.rank_state_hook'],
        allow_failed_imports=False)
    cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
        dict(type='RankStateDumpHook')
    ]
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=iters, by_epoch=False)
    cfg.merge_from_dict(updates)
    path = osp.join(str(work_dir), 'config.py')
    cfg.dump(path)
    return path


def _ranks(work_dir):
    return [
        torch.load(osp.join(str(work_dir), f'rank{r}.pth'),
                   map_location='cpu', weights_only=False) for r in (0, 1)
    ]


def _assert_same_weights(r0, r1):
    """Every learned weight is equal. BN running statistics are not
    compared: with plain BN each rank keeps those of its own images (as in
    mmdet; SyncBN on GPUs shares them)."""
    assert r0['state_dict'].keys() == r1['state_dict'].keys()
    stats = ('running_mean', 'running_var', 'num_batches_tracked')
    compared = [k for k in r0['state_dict'] if not k.endswith(stats)]
    assert len(compared) > 100
    different = [
        k for k in compared
        if not torch.equal(r0['state_dict'][k], r1['state_dict'][k])
    ]
    assert not different, different[:5]


@pytest.fixture(scope='module')
def dy_faster_ddp(raccoon_coco, tmp_path_factory):
    """Dy-Faster R-CNN on 2 processes: 2 joint + 2 router iterations, its
    backbones configured with SyncBN."""
    work_dir = tmp_path_factory.mktemp('dy_ddp')
    sync_bn = dict(type='SyncBN', requires_grad=True)
    config = _config(
        DY_FASTER,
        raccoon_coco,
        work_dir,
        iters=4,
        model=dict(backbone=dict(norm_cfg=sync_bn)),
        custom_hooks=[
            dict(type='RouterTrainingHook', switch_iter=2),
            dict(type='RankStateDumpHook')
        ])
    rc, out = _run(['bash', 'tools/dist_train.sh', config, '2',
                    '--work-dir', str(work_dir)])
    assert rc == 0, out[-6000:]
    return dict(work_dir=work_dir, config=config, log=out)


def test_ranks_end_with_identical_weights_and_delta(dy_faster_ddp):
    r0, r1 = _ranks(dy_faster_ddp['work_dir'])
    assert r0['wrapped'] == r1['wrapped'] == 'CPUDistributedDataParallel'
    assert r0['phase'] == r1['phase'] == 'router'
    assert r0['delta'] == r1['delta'] != 0.0
    _assert_same_weights(r0, r1)
    log = dy_faster_ddp['log']
    # the CPU fallbacks say what they did: gloo, and SyncBN run as BN by
    # the launch-time wrapper (the model itself keeps SyncBN)
    assert 'replaced by gloo' in log
    assert 'SyncBN needs an accelerator' in log
    assert 'SyncBN needs CUDA' not in log  # no longer the model's doing


def test_rank0_checkpoint_evaluates_in_one_process(dy_faster_ddp):
    work_dir = dy_faster_ddp['work_dir']
    rc, out = _run([
        sys.executable, 'tools/test.py', dy_faster_ddp['config'],
        osp.join(str(work_dir), 'iter_4.pth'), '--work-dir',
        osp.join(str(work_dir), 'test')
    ])
    assert rc == 0, out[-4000:]
    assert 'coco/bbox_mAP' in out


def test_supernet_trains_the_same_path_on_every_rank(raccoon_coco,
                                                     tmp_path):
    config = _config(SUPERNET, raccoon_coco, tmp_path, iters=3)
    rc, out = _run(['bash', 'tools/dist_train.sh', config, '2',
                    '--work-dir', str(tmp_path)])
    assert rc == 0, out[-6000:]
    r0, r1 = _ranks(tmp_path)
    assert len(r0['paths']) == 3 and r0['paths'] == r1['paths']
    _assert_same_weights(r0, r1)


def test_mmdet_own_tools_run_our_configs(raccoon_coco, tmp_path):
    """mmdet's .mim/tools/train.py and test.py, no wrapper: the config's
    custom_imports brings the package in."""
    config = _config(DY_FASTER, raccoon_coco, tmp_path, iters=2,
                     custom_hooks=[
                         dict(type='RouterTrainingHook', switch_iter=1)
                     ])
    rc, out = _run([
        sys.executable,
        mmdet_tool_path('train.py'), config, '--work-dir',
        str(tmp_path)
    ])
    assert rc == 0, out[-4000:]
    assert 'RouterTrainingHook: router phase from iteration 1' in out
    rc, out = _run([
        sys.executable,
        mmdet_tool_path('test.py'), config,
        osp.join(str(tmp_path), 'iter_2.pth'), '--work-dir',
        osp.join(str(tmp_path), 'test')
    ])
    assert rc == 0, out[-4000:]
    assert 'Load checkpoint from' in out and 'Iter(test) [4/4]' in out


USER_CONFIG = """
_base_ = 'mmdet_dynamic::dynamicdet/dy-faster-rcnn_r18_fpn_40i_raccoon.py'
train_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    dataset=dict(data_root='{root}', ann_file='{train}', indices=4))
test_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root='{root}', ann_file='{test}', indices=4))
test_evaluator = dict(ann_file='{test}')
train_cfg = dict(type='IterBasedTrainLoop', max_iters=2, val_interval=3)
val_dataloader = None
val_cfg = None
val_evaluator = None
param_scheduler = []
default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
    logger=dict(type='LoggerHook', interval=1))
custom_hooks = [dict(type='RouterTrainingHook', switch_iter=1)]
"""


def test_mim_train_and_test_a_package_scoped_config(raccoon_coco, tmp_path):
    """`mim train/test mmdet_dynamic CONFIG --launcher pytorch --gpus 2`
    (mim's torch.distributed.launch, mmdet's train/test scripts run by this
    package's tools, gloo on CPU) on a user's config whose `_base_` is
    `mmdet_dynamic::...`: the runner is built and trains both phases."""
    mim = osp.join(osp.dirname(sys.executable), 'mim')
    if not osp.isfile(mim):
        pytest.skip(f'openmim is not installed beside {sys.executable} '
                    '(tools/setup_env.sh installs it; pip install openmim)')
    config = tmp_path / 'user_dy_faster.py'
    config.write_text(USER_CONFIG.format(**raccoon_coco))
    port = str(free_port())
    rc, out = _run([
        mim, 'train', 'mmdet_dynamic', str(config), '--launcher',
        'pytorch', '--gpus', '2', '--port', port, '--work-dir',
        str(tmp_path)
    ])
    assert rc == 0, out[-4000:]
    assert 'router phase from iteration 1' in out
    assert 'no accelerator on this machine' in out  # gloo, said so
    rc, out = _run([
        mim, 'test', 'mmdet_dynamic', str(config), '--checkpoint',
        osp.join(str(tmp_path), 'iter_2.pth'), '--launcher', 'pytorch',
        '--gpus', '2', '--port', port, '--work-dir',
        osp.join(str(tmp_path), 'test')
    ])
    assert rc == 0, out[-4000:]
    assert 'Iter(test) [2/2]' in out  # 4 test images over 2 ranks


FAKE_SRUN = '''#!{python}
"""A stand-in for Slurm's srun on one machine: start --ntasks copies of the
command with the variables Slurm sets, wait, return the worst exit code."""
import os, subprocess, sys
args = sys.argv[1:]
ntasks = 1
while args and args[0].startswith('-'):
    opt = args.pop(0)
    if opt.startswith('--ntasks='):
        ntasks = int(opt.split('=')[1])
    elif opt == '-p':
        args.pop(0)
procs = [
    subprocess.Popen(args, env=dict(
        os.environ, SLURM_PROCID=str(i), SLURM_LOCALID=str(i),
        SLURM_NTASKS=str(ntasks), SLURM_NODELIST='localhost',
        MASTER_ADDR='127.0.0.1')) for i in range(ntasks)
]
sys.exit(max(p.wait() for p in procs))
'''


def test_slurm_train_script_with_two_tasks(raccoon_coco, tmp_path):
    """tools/slurm_train.sh under a stand-in srun: the slurm launcher path
    of mmengine works on CPU and the run trains both phases."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN.format(python=sys.executable))
    srun.chmod(0o755)
    config = _config(DY_FASTER, raccoon_coco, tmp_path, iters=2,
                     custom_hooks=[
                         dict(type='RouterTrainingHook', switch_iter=1),
                         dict(type='RankStateDumpHook')
                     ])
    env_path = f'{bin_dir}:{os.environ["PATH"]}'
    rc, out = _run(['bash', 'tools/slurm_train.sh', 'cpu', 'dy-test',
                    config, str(tmp_path)],
                   extra_env=dict(PATH=env_path, GPUS='2',
                                  GPUS_PER_NODE='2', CPUS_PER_TASK='1'))
    assert rc == 0, out[-4000:]
    r0, r1 = _ranks(tmp_path)
    assert r0['phase'] == r1['phase'] == 'router'
    assert r0['delta'] == r1['delta']
    _assert_same_weights(r0, r1)


DY_YOLOX = 'dynamicdet/dy-yolox_eelan-tiny_40i_raccoon.py'


@pytest.fixture(scope='module')
def yolox_joint_ckpt(tmp_path_factory):
    """A Dy-YOLOX (E-ELAN-tiny) checkpoint with trained-looking BN."""
    from mmdet_dynamic.registry import MODELS
    from ..conftest import randomise_bn
    tmp = tmp_path_factory.mktemp('yolox_ckpt')
    cfg = Config.fromfile(osp.join(PROJECT_ROOT, 'configs', DY_YOLOX))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    randomise_bn(model)
    path = str(tmp / 'joint.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), path)
    return path


def test_delta_pass_with_an_odd_image_count_matches_one_process(
        raccoon_coco, yolox_joint_ckpt, tmp_path):
    """YOLOX's loss averages its positive count over the ranks
    (reduce_mean). 3 Delta images on 2 processes used to hang (one rank
    ran a step more) and the per-image differences depended on the
    process count. Now 2 processes finish, with the Delta and the
    differences of 1 process."""
    runs = {}
    for procs in (1, 2):
        work_dir = tmp_path / f'p{procs}'
        work_dir.mkdir()
        config = _config(
            DY_YOLOX, raccoon_coco, work_dir, iters=1,
            load_from=yolox_joint_ckpt,
            custom_hooks=[
                dict(type='RouterTrainingHook', switch_iter=0,
                     delta_num_images=3),
                dict(type='RankStateDumpHook')
            ])
        cmd = ['bash', 'tools/dist_train.sh', config, '2'] if procs == 2 \
            else [sys.executable, 'tools/train.py', config]
        rc, out = _run(cmd + ['--work-dir', str(work_dir)], timeout=600)
        assert rc == 0, out[-6000:]
        runs[procs] = torch.load(osp.join(str(work_dir), 'rank0.pth'),
                                 map_location='cpu', weights_only=False)
        if procs == 2:  # the progress bar counts each image once
            assert '3/3' in out and '4/3' not in out
    one, two = runs[1], runs[2]
    assert len(one['differences']) == 3
    assert one['differences'].keys() == two['differences'].keys()
    for key, diff in one['differences'].items():
        assert two['differences'][key] == pytest.approx(diff, abs=1e-5)
    assert two['delta'] == pytest.approx(one['delta'], abs=1e-5)
