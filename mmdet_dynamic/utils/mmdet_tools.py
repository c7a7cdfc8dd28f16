# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Run mmdet's own command-line tools with mmdet_dynamic imported.

``tools/train.py`` and ``tools/test.py`` of this package are thin wrappers:
they import :mod:`mmdet_dynamic` and execute the ``train.py``/``test.py``
that ships inside the installed mmdet package (``mmdet/.mim/tools``), so
arguments and behaviour are exactly mmdet's. Before that they

- parse the config once themselves and run
  :func:`~mmdet_dynamic.utils.config_check.check_runner_config` on it (data
  paths exist, hooks fit the model), so a bad config stops before anything
  is written;
- on a machine with no accelerator, set up a distributed launch on CPU
  (:mod:`mmdet_dynamic.utils.cpu_distributed`).
"""
import argparse
import os.path as osp
import runpy
import sys
from typing import List, Tuple

from mmengine.config import Config, DictAction

from .config_check import check_runner_config
from .cpu_distributed import (cpu_wrapper_options, init_cpu_process_group,
                              needs_cpu_distributed)


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


def tool_command(script: str) -> str:
    """How to run this package's ``tools/<script>`` from the current folder,
    for the next-step commands tools print: ``python tools/<script>`` in a
    clone of the repository, else the copy a wheel installs under
    ``mmdet_dynamic/.mim/tools``, else (train/test) ``python -m mim``.

    Args:
        script (str): Path under ``tools/``, e.g. ``'test.py'`` or
            ``'analysis_tools/dynamic_tradeoff.py'``.
    """
    import mmdet_dynamic
    local = osp.join('tools', script)
    if osp.isfile(local):
        with open(local, errors='replace') as f:
            if 'mmdet_dynamic' in f.read():
                return f'python {local}'
    installed = osp.join(
        osp.dirname(mmdet_dynamic.__file__), '.mim', 'tools', script)
    if osp.isfile(installed):
        return f'python {installed}'
    if script in ('train.py', 'test.py'):
        return f'python -m mim {script[:-3]} mmdet_dynamic'
    return f'python {local}'


def tool_config(argv: List[str]) -> Tuple[Config, str]:
    """The config an mmdet tool will run (``--cfg-options`` merged) and its
    launcher, from the tool's command line."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('config')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', default='none')
    args, _ = parser.parse_known_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    return cfg, args.launcher


def run_mmdet_tool(name: str) -> None:
    """Execute mmdet's tool ``name`` as ``__main__`` with the plugin loaded.

    Args:
        name (str): Script path relative to mmdet's tools, e.g. ``'train.py'``.
    """
    import mmdet_dynamic  # noqa: F401  (registers modules, allow-list)
    path = mmdet_tool_path(name)
    if not {'-h', '--help'} & set(sys.argv[1:]):
        cfg, launcher = tool_config(sys.argv[1:])
        check_runner_config(cfg)
        if needs_cpu_distributed(launcher):
            init_cpu_process_group(launcher, cfg)
            sys.argv += ['--cfg-options'] + cpu_wrapper_options(cfg)
    runpy.run_path(path, run_name='__main__')
