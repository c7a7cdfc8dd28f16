# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Helpers to train configs of this package for a step on the real data."""
import os.path as osp

import torch
from mmengine.config import Config

from .conftest import PROJECT_ROOT


def tiny_config(config: str, data: dict, work_dir: str,
                scale: int = 128, num_images: int = 2,
                iters: int = 1, cfg_options: dict = None) -> Config:
    """Load ``config`` (relative to ``configs/``) shrunk for a CPU step.

    The training set becomes ``num_images`` images of ``data`` (the
    ``raccoon_coco`` or ``balloon_coco`` fixture) at ``scale`` px;
    validation, checkpoints and logging are switched off.
    """
    cfg = Config.fromfile(osp.join(PROJECT_ROOT, 'configs', config))
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.work_dir = work_dir
    ds = cfg.train_dataloader.dataset
    ds.data_root = data['root']
    ds.ann_file = data['train']
    ds.data_prefix = dict(img=data.get('img_prefix', 'images/'))
    ds.indices = num_images
    for t in ds.pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (scale, scale)
        if t['type'] == 'RandomFlip':
            t['prob'] = 0.0
    cfg.train_dataloader.update(
        batch_size=num_images, num_workers=0, persistent_workers=False)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters,
                         val_interval=iters + 1)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    cfg.param_scheduler = []
    cfg.log_level = 'WARNING'
    return cfg


def train_steps(config: str, data: dict, work_dir: str,
                **kwargs) -> dict:
    """Train ``config`` for a few iterations from scratch on ``data``.

    Returns:
        dict: ``runner``, ``before`` (a copy of the initial state dict) and
        ``changed`` (names of parameters the optimizer updated).
    """
    from mmengine.runner import Runner
    cfg = tiny_config(config, data, work_dir, **kwargs)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    model.init_weights()
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    runner._init_model_weights = lambda: None  # keep the weights copied
    runner.train()
    after = model.state_dict()
    changed = {
        name
        for name, p in model.named_parameters()
        if not torch.equal(before[name], after[name])
    }
    changed_state = {
        k
        for k, v in after.items()
        if not torch.equal(before[k].float(), v.float())
    }
    return dict(
        runner=runner,
        before=before,
        changed=changed,
        changed_state=changed_state)
