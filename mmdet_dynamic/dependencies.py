# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The OpenMMLab versions this package works with, checked on import (as
mmdet checks mmcv and mmengine).

The ranges are those tested (README, "Tested stacks"): the lowest versions
by ``tools/compat_check.sh``, the newest by the project's own test suite.
"""
from typing import Dict, Tuple

# package -> (lowest, first excluded)
SUPPORTED: Dict[str, Tuple[str, str]] = {
    'mmcv': ('2.0.0', '2.2.0'),
    'mmengine': ('0.10.0', '1.0.0'),
    'mmdet': ('3.2.0', '3.4.0'),
}


class IncompatibleDependencyError(ImportError):
    """An installed OpenMMLab package is outside the supported range."""


def version_range(name: str) -> str:
    """``'>=low,<high'`` of a supported package."""
    low, high = SUPPORTED[name]
    return f'>={low},<{high}'


def check_dependencies() -> None:
    """Refuse to import with an OpenMMLab package outside its range.

    Raises:
        IncompatibleDependencyError: Naming the package, its installed
            version and the supported range, and how to install one.
    """
    import importlib

    from mmengine.utils import digit_version
    for name, (low, high) in SUPPORTED.items():
        module = importlib.import_module(name)
        version = getattr(module, '__version__', '0')
        if not digit_version(low) <= digit_version(version) < \
                digit_version(high):
            raise IncompatibleDependencyError(
                f'mmdet_dynamic needs {name}{version_range(name)}, but '
                f'{name} {version} is installed. Install a supported '
                f'version: mim install "{name}{version_range(name)}"')
