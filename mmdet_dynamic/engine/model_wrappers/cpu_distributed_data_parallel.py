# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""DDP over a CPU module (gloo), for distributed runs on machines with no
accelerator."""
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm

from mmdet_dynamic.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's ``MMDistributedDataParallel`` for a model on the CPU.

    The launch path of this package's tools selects it on a machine with no
    accelerator (:func:`mmdet_dynamic.utils.cpu_wrapper_options`). It

    - takes no device ids (DDP over a CPU module);
    - reverts SyncBN layers to BatchNorm before wrapping: torch's
      ``SyncBatchNorm`` synchronises its statistics only on accelerators,
      so a SyncBN config could not train here. The weights and state-dict
      keys are the same, so checkpoints move freely between CPU and GPU
      runs; each rank keeps the BN statistics of its own images, as plain
      BN does. The model a config builds is the same everywhere; only this
      launch-time wrapper differs.

    Args:
        module (nn.Module): The model.
        **kwargs: ``MMDistributedDataParallel``'s arguments
            (``device_ids`` must be None).
    """

    def __init__(self, module, **kwargs):
        if kwargs.get('device_ids') is not None:
            raise ValueError('CPUDistributedDataParallel wraps a model on the '
                             'CPU: device_ids must be None, got '
                             f'{kwargs["device_ids"]}')
        if any('SyncBatchNorm' in type(m).__name__ for m in module.modules()):
            print_log(
                'CPUDistributedDataParallel: SyncBN needs an accelerator to '
                'synchronise; its layers run as BatchNorm on this CPU run '
                '(same weights and keys)',
                logger='current',
                level=30)
            module = revert_sync_batchnorm(module)
        kwargs['device_ids'] = None
        super().__init__(module=module, **kwargs)
