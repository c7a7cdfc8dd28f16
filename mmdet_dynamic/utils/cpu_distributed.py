# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Distributed training on machines without CUDA (development and CI).

mmengine's launchers assume GPUs: ``init_dist`` calls
``torch.cuda.set_device`` and uses the backend of ``env_cfg.dist_cfg``
(``'nccl'`` in mmdet's default runtime), and the runner wraps the model in
``MMDistributedDataParallel`` with ``device_ids=[LOCAL_RANK]``. On a
CPU-only torch all three fail. When CUDA is absent,
:func:`enable_cpu_distributed` (run by ``import mmdet_dynamic``, hence by
any config with ``custom_imports=dict(imports=['mmdet_dynamic'])``) makes

- the ``pytorch`` and ``slurm`` launchers skip ``set_device`` and use the
  ``gloo`` backend (a warning names the replaced backend);
- ``MMDistributedDataParallel`` drop ``device_ids`` for a CPU module.

With CUDA nothing is changed. An explicit
``env_cfg = dict(dist_cfg=dict(backend='gloo'))`` is honoured either way.
"""
import functools
import os

import torch

_PATCHED = False


def _warn(message: str) -> None:
    from mmengine.logging import print_log
    print_log(message, logger='current', level=30)


def _init_process_group(backend: str, **kwargs) -> None:
    import torch.distributed as torch_dist
    if backend != 'gloo':
        _warn(f'mmdet_dynamic: CUDA is not available, so the distributed '
              f'backend {backend!r} is replaced by gloo (CPU)')
    torch_dist.init_process_group(backend='gloo', **kwargs)


def _init_dist_pytorch_cpu(backend, init_backend='torch', **kwargs) -> None:
    if init_backend != 'torch':
        raise ValueError(f'init_backend={init_backend!r} needs CUDA; on CPU '
                         "only init_backend='torch' (gloo) is supported")
    _init_process_group(backend, **kwargs)


def _init_dist_slurm_cpu(backend, port=None, init_backend='torch',
                         **kwargs) -> None:
    import subprocess
    proc_id = int(os.environ['SLURM_PROCID'])
    ntasks = int(os.environ['SLURM_NTASKS'])
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    os.environ.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in os.environ:  # the job's first node
        os.environ['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {os.environ["SLURM_NODELIST"]} '
            '| head -n1')
    os.environ['WORLD_SIZE'] = str(ntasks)
    os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', '0')
    os.environ['RANK'] = str(proc_id)
    _init_dist_pytorch_cpu(backend, init_backend, **kwargs)


def enable_cpu_distributed(force: bool = False) -> bool:
    """Patch mmengine's launchers and DDP wrapper for CPU-only machines.

    Args:
        force (bool): Patch even when CUDA is available (tests).

    Returns:
        bool: Whether the patches are active.
    """
    global _PATCHED
    if _PATCHED:
        return True
    if torch.cuda.is_available() and not force:
        return False
    import mmengine.dist.utils as dist_utils
    from mmengine.model import MMDistributedDataParallel

    dist_utils._init_dist_pytorch = _init_dist_pytorch_cpu
    dist_utils._init_dist_slurm = _init_dist_slurm_cpu

    original = MMDistributedDataParallel.__init__

    @functools.wraps(original)
    def __init__(self, module, *args, **kwargs):
        if kwargs.get('device_ids') is not None and all(
                p.device.type == 'cpu' for p in module.parameters()):
            kwargs['device_ids'] = None
        original(self, module, *args, **kwargs)

    MMDistributedDataParallel.__init__ = __init__
    _PATCHED = True
    return True
