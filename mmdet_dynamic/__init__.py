# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""mmdet_dynamic: dynamic detection for MMDetection 3.x.

Importing the package registers every module it provides into mmdet's
registries (``mmdet.registry.MODELS``, ``HOOKS``, ...), so any mmdet config can
use them with::

    custom_imports = dict(
        imports=['mmdet_dynamic'], allow_failed_imports=False)
    default_scope = 'mmdet'

It also allow-lists, for ``torch.load(weights_only=True)``, exactly the
non-tensor types that mmengine's runner writes into its checkpoints (see
:mod:`mmdet_dynamic.utils.checkpoint_safety`), so checkpoints written by
``tools/train.py`` load again under torch >= 2.6, makes
``mmdet_dynamic::`` a package scope for config ``_base_`` paths, and, on
machines without CUDA, lets mmengine's distributed launchers run on CPU with
gloo (see :mod:`mmdet_dynamic.utils.cpu_distributed`).
"""
from .utils.checkpoint_safety import register_mmengine_safe_globals
from .utils.config_scope import register_config_scope
from .utils.cpu_distributed import enable_cpu_distributed
from .version import __version__, version_info

register_mmengine_safe_globals()
register_config_scope()
enable_cpu_distributed()

from . import apis, datasets, engine, models  # noqa: E402,F401

__all__ = ['__version__', 'version_info', 'register_mmengine_safe_globals']
