# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""mmdet_dynamic: dynamic detection for MMDetection 3.x.

Importing the package registers, and does nothing else:

- every module it provides, in its own registries
  (:mod:`mmdet_dynamic.registry`: children of mmdet's, scope
  ``mmdet_dynamic``), so configs with ``default_scope = 'mmdet_dynamic'``
  reach this package's and mmdet's modules alike::

      custom_imports = dict(
          imports=['mmdet_dynamic'], allow_failed_imports=False)
      default_scope = 'mmdet_dynamic'

- ``mmdet_dynamic`` as a config package scope
  (``_base_ = 'mmdet_dynamic::...'``, see
  :mod:`mmdet_dynamic.utils.config_scope`);
- for ``torch.load(weights_only=True)``, exactly the non-tensor types that
  mmengine's runner writes into its checkpoints (see
  :mod:`mmdet_dynamic.utils.checkpoint_safety`), so checkpoints written by
  ``tools/train.py`` load again under torch >= 2.6.
"""
from .dependencies import check_dependencies

check_dependencies()

from .utils.checkpoint_safety import \
    register_mmengine_safe_globals  # noqa: E402
from .utils.config_scope import register_config_scope  # noqa: E402
from .version import __version__, version_info  # noqa: E402

register_mmengine_safe_globals()
register_config_scope()

from . import (datasets, engine, models, registry,  # noqa: E402,F401
               visualization)


def __getattr__(name: str):
    """``mmdet_dynamic.apis`` on first use: it registers nothing, and it
    imports ``mmdet.apis`` (the inferencer stack), which ``import
    mmdet_dynamic`` in a config's ``custom_imports`` does not need."""
    if name == 'apis':
        import importlib
        return importlib.import_module('.apis', __name__)
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


__all__ = ['__version__', 'version_info', 'register_mmengine_safe_globals']
