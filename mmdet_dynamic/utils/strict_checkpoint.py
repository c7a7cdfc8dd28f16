# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Strict checkpoint loading for this package's tools.

mmengine's ``load_checkpoint`` defaults to ``strict=False``: a checkpoint
whose keys fit nothing loads with a warning, and a tool that then writes a
threshold, a table or deploy weights writes them from random weights. The
tools of this package load with :func:`load_checkpoint_strictly` instead:
missing keys, unexpected keys and shape mismatches stop the run, naming the
first few and counting them, before anything is written. ``allow_partial``
(the tools' ``--allow-partial``) is the only way past: the fitting tensors
are loaded and the rest is reported.
"""
from typing import Dict, List, Optional

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.runner import load_state_dict

from .checkpoint_safety import CheckpointReadError, read_checkpoint

SHOWN = 5


class CheckpointMismatchError(ValueError):
    """The checkpoint does not fit the model built from the config."""


def _listed(title: str, names: List[str]) -> str:
    shown = ', '.join(names[:SHOWN])
    more = f', ... ({len(names) - SHOWN} more)' if len(names) > SHOWN else ''
    return f'{len(names)} {title}: {shown}{more}'


def state_dict_mismatch(model: nn.Module,
                        state_dict: Dict) -> Optional[str]:
    """What keeps ``state_dict`` from loading strictly into ``model``, or
    None when it fits."""
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    shapes = [
        f'{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}'
        for k in own if k in state_dict
        and hasattr(state_dict[k], 'shape')
        and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    parts = []
    if missing:
        parts.append(_listed('missing key(s) (in the model, not the '
                             'checkpoint)', missing))
    if unexpected:
        parts.append(_listed('unexpected key(s) (in the checkpoint, not '
                             'the model)', unexpected))
    if shapes:
        parts.append(_listed('shape mismatch(es) (checkpoint vs model)',
                             shapes))
    return '; '.join(parts) or None


def load_checkpoint_strictly(model: nn.Module,
                             filename: str,
                             allow_partial: bool = False,
                             map_location: str = 'cpu') -> Dict:
    """Load ``filename`` into ``model``; every key must fit.

    Args:
        model (nn.Module): The model built from the matching config.
        filename (str): A checkpoint (``state_dict`` inside, or a bare
            state dict); a ``module.`` prefix (DDP) is stripped.
        allow_partial (bool): Load what fits and report the rest instead of
            stopping.
        map_location (str): Where the tensors go.

    Returns:
        dict: The loaded checkpoint (``meta`` etc.).

    Raises:
        CheckpointReadError: If the file is missing, empty, not a
            checkpoint or damaged (named).
        UnsafeCheckpointError: If it pickles anything but weights and
            mmengine's logs (nothing of it runs; see
            :func:`~.checkpoint_safety.read_checkpoint`).
        CheckpointMismatchError: If keys or shapes do not fit and
            ``allow_partial`` is False.
    """
    checkpoint = read_checkpoint(filename, map_location)
    if not isinstance(checkpoint, dict):
        raise CheckpointReadError(
            f'{filename}: not a checkpoint of weights (it holds a '
            f'{type(checkpoint).__name__}, not a dict)')
    state_dict = checkpoint.get('state_dict', checkpoint)
    state_dict = {
        (k[len('module.'):] if k.startswith('module.') else k): v
        for k, v in state_dict.items()
    }
    mismatch = state_dict_mismatch(model, state_dict)
    if mismatch and not allow_partial:
        raise CheckpointMismatchError(
            f'{filename} does not fit the model built from the config: '
            f'{mismatch}. Use the checkpoint trained with this config (or '
            'the matching config); --allow-partial loads only the tensors '
            'that fit.')
    if mismatch:
        print_log(f'--allow-partial: loading what fits of {filename}; '
                  f'{mismatch}', logger='current', level=30)
        own = model.state_dict()
        state_dict = {
            k: v for k, v in state_dict.items()
            if k in own and tuple(v.shape) == tuple(own[k].shape)
        }
    load_state_dict(model, state_dict, strict=not mismatch)
    return checkpoint


def build_model_from_config(config,
                            checkpoint: Optional[str] = None,
                            cfg_options: Optional[Dict] = None,
                            device: str = 'cpu',
                            allow_partial: bool = False):
    """The model of ``config`` (a path or a ``Config``) in eval mode on
    ``device``, with ``checkpoint`` loaded strictly: what every tool of
    this package that runs a trained model starts from.

    Like mmdet's ``init_detector`` it keeps the config on the model
    (``model.cfg``) and the checkpoint's ``dataset_meta``, but it never
    calls ``init_weights`` (nothing is downloaded) and warns about nothing
    (a model without a checkpoint keeps the config's classes).

    Returns:
        tuple: ``(model, cfg)``.

    Raises:
        CheckpointReadError, UnsafeCheckpointError: An unreadable or unsafe
            file (named).
        CheckpointMismatchError: A checkpoint that does not fit, unless
            ``allow_partial``.
    """
    import copy

    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from ..registry import MODELS
    cfg = Config.fromfile(config) if isinstance(config, str) \
        else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet_dynamic'))
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.cfg = cfg
    if checkpoint:
        meta = load_checkpoint_strictly(
            model, checkpoint, allow_partial=allow_partial,
            map_location='cpu').get('meta', {})
        if 'dataset_meta' in meta:
            model.dataset_meta = {
                k.lower(): v
                for k, v in meta['dataset_meta'].items()
            }
    if getattr(model, 'dataset_meta', None) is None:
        classes = _config_classes(cfg)
        if classes:
            model.dataset_meta = dict(classes=tuple(classes))
    model.to(device)
    model.eval()
    return model, cfg


def _config_classes(cfg):
    """The classes the config's test (or val, train) dataset declares."""
    for key in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        ds = (cfg.get(key) or {}).get('dataset') or {}
        while 'metainfo' not in ds and 'dataset' in ds:
            ds = ds['dataset']
        classes = (ds.get('metainfo') or {}).get('classes')
        if classes:
            return classes
    return None
