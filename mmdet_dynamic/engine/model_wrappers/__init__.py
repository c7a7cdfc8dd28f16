# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Model wrappers of mmdet_dynamic, registered in
``mmdet_dynamic.registry.MODEL_WRAPPERS``."""
from .cpu_distributed_data_parallel import CPUDistributedDataParallel

__all__ = ['CPUDistributedDataParallel']
