# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Early, readable checks of a config's data paths.

mmdet only opens a dataset's annotation file when the runner first builds
the dataloader, and the error then names a joined path deep in a traceback.
:func:`check_data_paths` runs before the runner is built (see
:func:`mmdet_dynamic.utils.run_mmdet_tool`) and says which config key points
to a missing folder or file, and how to fix it.
"""
import os.path as osp
from typing import Iterator, Tuple

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _datasets(cfg, key: str) -> Iterator[Tuple[str, dict]]:
    """Yield (config key, dataset cfg), looking inside dataset wrappers."""
    if cfg is None or not hasattr(cfg, 'get'):
        return
    yield key, cfg
    if cfg.get('dataset') is not None:  # RepeatDataset, ClassBalanced, ...
        yield from _datasets(cfg['dataset'], f'{key}.dataset')
    for i, sub in enumerate(cfg.get('datasets') or []):  # ConcatDataset
        yield from _datasets(sub, f'{key}.datasets[{i}]')


def _is_local(path: str, ds_cfg) -> bool:
    backend = (ds_cfg.get('backend_args') or {}).get('backend', 'local')
    return '://' not in path and backend == 'local'


def check_data_paths(cfg) -> None:
    """Check that every dataset's ``data_root`` and ``ann_file`` exist.

    Args:
        cfg (mmengine.Config): A full runner config.

    Raises:
        FileNotFoundError: Naming the config key, the missing path and how
            to fix it.
    """
    for loader in _LOADERS:
        loader_cfg = cfg.get(loader)
        if not loader_cfg or not loader_cfg.get('dataset'):
            continue
        for key, ds in _datasets(loader_cfg['dataset'], f'{loader}.dataset'):
            data_root = ds.get('data_root') or ''
            if data_root and _is_local(data_root, ds) and \
                    not osp.isdir(data_root):
                raise FileNotFoundError(
                    f'{key}.data_root does not exist: {data_root!r} '
                    f'(cwd: {osp.abspath(".")}). Prepare the data (see the '
                    'README, e.g. `make data`) or point the config at it '
                    f'with --cfg-options {key}.data_root=PATH')
            ann_file = ds.get('ann_file') or ''
            if ann_file and _is_local(ann_file, ds):
                full = ann_file if osp.isabs(ann_file) else osp.join(
                    data_root, ann_file)
                if not osp.isfile(full):
                    raise FileNotFoundError(
                        f'{key}.ann_file does not exist: {full!r}. Convert '
                        'the annotations first (see tools/dataset_converters'
                        ' and the README, e.g. `make data`) or set '
                        f'--cfg-options {key}.ann_file=PATH')


def check_router_hook(cfg) -> None:
    """Check that a config with ``RouterTrainingHook`` builds a
    ``DynamicCascadeDetector``, before the runner writes anything.

    Raises:
        TypeError: Naming the model type and what to use instead.
    """
    hooks = [h for h in cfg.get('custom_hooks') or []
             if h.get('type') in ('RouterTrainingHook',
                                  'mmdet_dynamic.RouterTrainingHook')]
    model_type = (cfg.get('model') or {}).get('type', '')
    if hooks and str(model_type).split('.')[-1] != 'DynamicCascadeDetector':
        raise TypeError(
            'custom_hooks has RouterTrainingHook, which trains the router of '
            f'a DynamicCascadeDetector, but model.type is {model_type!r}. '
            "Wrap the detector: model = dict(type='DynamicCascadeDetector', "
            'detector=...) (see configs/dynamicdet), or remove the hook.')


def check_runner_config(cfg) -> None:
    """All early checks: :func:`check_data_paths` and
    :func:`check_router_hook`."""
    check_data_paths(cfg)
    check_router_hook(cfg)
