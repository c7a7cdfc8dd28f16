# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Test helper imported by the configs of the distributed tests
(``custom_imports``): every rank writes what it trained."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdet_dynamic.registry import HOOKS


@HOOKS.register_module()
class RankStateDumpHook(Hook):
    """Record the supernet path of every iteration (when the backbone has
    one) and, after the run, save this rank's weights, Delta, the Delta
    pass's per-image differences, phase and paths to
    ``work_dir/rank{RANK}.pth``."""

    priority = 'LOWEST'

    def __init__(self):
        self.paths = []

    @staticmethod
    def _model(runner):
        return runner.model.module if is_model_wrapper(
            runner.model) else runner.model

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = self._model(runner)
        backbone = getattr(model, 'backbone', None)
        if hasattr(backbone, 'path'):
            self.paths.append(list(backbone.path))

    def after_run(self, runner):
        model = self._model(runner)
        differences = {}
        for hook in runner.hooks:  # the router hook's last Delta pass
            differences.update(getattr(hook, 'last_differences', None) or {})
        torch.save(
            dict(
                differences=differences,
                state_dict=model.state_dict(),
                phase=getattr(model, 'phase', None),
                delta=float(model.delta) if hasattr(model, 'delta') else None,
                paths=self.paths,
                wrapped=type(runner.model).__name__),
            osp.join(runner.work_dir, f'rank{get_rank()}.pth'))
