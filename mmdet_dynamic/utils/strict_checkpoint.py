# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Strict checkpoint loading for this package's tools.

mmengine's ``load_checkpoint`` defaults to ``strict=False``: a checkpoint
whose keys fit nothing loads with a warning, and a tool that then writes a
threshold, a table or deploy weights writes them from random weights. The
tools of this package load with :func:`load_checkpoint_strictly` instead:
mmengine's strict load, whose report (missing keys, unexpected keys, shape
mismatches) stops the run before anything is written. ``allow_partial``
(the tools' ``--allow-partial``) is the only way past: the fitting tensors
are loaded and the rest is reported, as mmengine's non-strict load does.
"""
from collections import OrderedDict
from typing import Dict, Optional

import torch.nn as nn
from mmengine.runner import load_state_dict

from .checkpoint_safety import CheckpointReadError, read_checkpoint


class CheckpointMismatchError(ValueError):
    """The checkpoint does not fit the model built from the config."""


def load_checkpoint_strictly(model: nn.Module,
                             filename: str,
                             allow_partial: bool = False,
                             map_location: str = 'cpu') -> Dict:
    """Load ``filename`` into ``model``; every key must fit.

    The file is read without running code from it
    (:func:`~.checkpoint_safety.read_checkpoint`); the weights go in with
    mmengine's ``load_state_dict`` (strict unless ``allow_partial``), whose
    report of missing, unexpected and mis-shaped tensors is the error's.
    What this adds to mmengine's ``load_checkpoint(strict=True)``: safe
    reading on any torch, an error a tool turns into a message before it
    writes anything, and the ``--allow-partial`` way past.

    Args:
        model (nn.Module): The model built from the matching config.
        filename (str): A checkpoint (``state_dict`` inside, or a bare
            state dict); a ``module.`` prefix (DDP) is stripped.
        allow_partial (bool): Load what fits and report the rest (as
            mmengine's non-strict load does) instead of stopping.
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
    state_dict = OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in state_dict.items())
    try:
        load_state_dict(model, state_dict, strict=not allow_partial,
                        logger='current')
    except RuntimeError as e:
        raise CheckpointMismatchError(
            f'{filename} does not fit the model built from the config. '
            f'{str(e).strip()}\nUse the checkpoint trained with this config '
            '(or the matching config); --allow-partial loads only the '
            'tensors that fit.') from None
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
