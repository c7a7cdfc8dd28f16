# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Distributed runs of this package's tools on machines with no accelerator.

mmengine's launchers assume an accelerator: ``init_dist`` calls
``torch.cuda.set_device`` (or the NPU/MLU/MUSA equivalent) and the runner
wraps the model in ``MMDistributedDataParallel`` with
``device_ids=[LOCAL_RANK]``. On a machine with no accelerator of any kind
both fail. This package's ``tools/train.py`` and ``tools/test.py`` (and so
``dist_train.sh``, ``slurm_train.sh`` and ``mim train mmdet_dynamic``) then

- start the process group themselves with the ``gloo`` backend, before
  mmdet's script builds the runner (mmengine skips its own ``init_dist``
  when a process group exists);
- give the runner ``model_wrapper_cfg`` through ``--cfg-options``:
  :class:`~mmdet_dynamic.engine.model_wrappers.CPUDistributedDataParallel`
  (DDP over a CPU module takes no device ids, and SyncBN layers, which
  synchronise only on accelerators, run as BatchNorm), or a config's own
  wrapper with ``device_ids=None``.

Nothing in mmengine, mmdet or torch is replaced, and importing the package
changes nothing: only these tools act, and only where
``mmengine.device.get_device()`` is ``'cpu'``. With an accelerator they
leave the launch to mmengine.
"""
import os
import subprocess
from typing import List

from mmengine.config import Config
from mmengine.logging import print_log


def needs_cpu_distributed(launcher: str) -> bool:
    """Whether a ``launcher`` run needs the CPU set-up: a distributed
    launcher on a machine with no accelerator of any kind."""
    from mmengine.device import get_device
    return launcher in ('pytorch', 'slurm') and get_device() == 'cpu'


def _slurm_environment(port=None) -> None:
    """RANK, WORLD_SIZE, LOCAL_RANK and the master address from Slurm's
    variables, as mmengine's slurm launcher sets them."""
    os.environ.setdefault('MASTER_PORT', str(port or 29500))
    if 'MASTER_ADDR' not in os.environ:  # the job's first node
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {os.environ["SLURM_NODELIST"]} '
            '| head -n1')
    os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ['RANK'] = os.environ['SLURM_PROCID']


def init_cpu_process_group(launcher: str, cfg: Config) -> None:
    """Start the ``gloo`` process group for a ``pytorch`` (torchrun) or
    ``slurm`` launch; a configured NCCL/other backend is reported and
    replaced."""
    import torch.distributed as dist
    if dist.is_initialized():
        return
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.get('backend', 'nccl')
    if launcher == 'slurm':
        _slurm_environment(dist_cfg.get('port'))
    if backend != 'gloo':
        print_log(
            f'mmdet_dynamic: no accelerator on this machine, so the '
            f'distributed backend {backend!r} is replaced by gloo (CPU)',
            logger='current',
            level=30)
    dist.init_process_group(backend='gloo')


def cpu_wrapper_options(cfg: Config) -> List[str]:
    """``--cfg-options`` words that make the runner wrap the model in DDP
    on the CPU. A config's own ``model_wrapper_cfg`` gets only
    ``device_ids=None`` merged in; without one, mmengine's default wrapper
    becomes :class:`CPUDistributedDataParallel` with mmengine's default
    settings (all scalars)."""
    if cfg.get('model_wrapper_cfg') is not None:
        return ['model_wrapper_cfg.device_ids=None']
    wrapper = dict(
        # the import path: mmengine's runner looks wrappers up in its root
        # registry, which reaches a package's classes this way
        type='mmdet_dynamic.engine.model_wrappers.CPUDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=bool(cfg.get('find_unused_parameters',
                                            False)),
        device_ids=None)
    return [f'model_wrapper_cfg.{k}={v}' for k, v in wrapper.items()]
