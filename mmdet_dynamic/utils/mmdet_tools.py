# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Run mmdet's own command-line tools with mmdet_dynamic imported.

``tools/train.py`` and ``tools/test.py`` of this package are thin wrappers:
they import :mod:`mmdet_dynamic` (registering its modules and the checkpoint
allow-list) and then execute the ``train.py``/``test.py`` that ships inside
the installed mmdet package (``mmdet/.mim/tools``), so arguments and
behaviour are exactly mmdet's. The only addition is
:func:`~mmdet_dynamic.utils.config_check.check_runner_config` (data paths
exist, hooks fit the model), run on the final config before the runner is
built.
"""
import contextlib
import os.path as osp
import runpy
from typing import Iterator

from .config_check import check_runner_config


def mmdet_tool_path(name: str) -> str:
    """Path of a script in the installed mmdet's ``.mim/tools`` folder.

    Args:
        name (str): Script path relative to mmdet's tools, e.g. ``'train.py'``.

    Raises:
        FileNotFoundError: If mmdet was installed without its tools.
    """
    import mmdet
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', name)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'mmdet tool {name!r} not found at {path}. Install mmdet==3.3.0 '
            'from its wheel (pip install mmdet==3.3.0), which ships its '
            'tools under mmdet/.mim/tools.')
    return path


@contextlib.contextmanager
def checked_runner_configs() -> Iterator[None]:
    """Run :func:`check_runner_config` on every config given to ``Runner``."""
    from mmengine.runner import Runner
    original = Runner.__dict__['from_cfg']

    def from_cfg(cls, cfg):
        check_runner_config(cfg)
        return original.__func__(cls, cfg)

    Runner.from_cfg = classmethod(from_cfg)
    try:
        yield
    finally:
        Runner.from_cfg = original


def run_mmdet_tool(name: str) -> None:
    """Execute mmdet's tool ``name`` as ``__main__`` with the plugin loaded.

    Args:
        name (str): Script path relative to mmdet's tools, e.g. ``'train.py'``.
    """
    import mmdet_dynamic  # noqa: F401  (registers modules, allow-list)
    path = mmdet_tool_path(name)
    with checked_runner_configs():
        runpy.run_path(path, run_name='__main__')
