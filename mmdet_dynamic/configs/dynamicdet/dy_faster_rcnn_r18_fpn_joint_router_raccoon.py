# Copyright (c) mmdet_dynamic contributors. All rights reserved.
# Dy-Faster R-CNN R-18 FPN on the bundled raccoon data through both phases in
# one training run: 80 joint iterations, then RouterTrainingHook's router
# phase (AdamW, lr 1e-4) for 80 more. The pure-Python form of
# configs/dynamicdet/dy-faster-rcnn_r18_fpn_joint-router_raccoon.py.
from mmengine.config import read_base
from mmengine.optim import LinearLR, MultiStepLR, OptimWrapper
from torch.optim import AdamW

from mmdet_dynamic.engine.hooks import RouterTrainingHook

with read_base():
    from .._base_.datasets.raccoon_detection import *  # noqa: F401,F403
    from .._base_.default_runtime import *  # noqa: F401,F403
    from .._base_.models.dy_faster_rcnn_r18_fpn import *  # noqa: F401,F403
    from .._base_.schedules.schedule_iter_cpu import *  # noqa: F401,F403

joint_iters = 80
router_iters = 80
train_cfg.update(  # noqa: F405
    max_iters=joint_iters + router_iters,
    val_interval=joint_iters + router_iters)
param_scheduler = [
    dict(type=LinearLR, start_factor=0.1, by_epoch=False, begin=0, end=10),
    dict(
        type=MultiStepLR,
        by_epoch=False,
        begin=0,
        end=joint_iters,
        milestones=[60],
        gamma=0.1)
]
custom_hooks = [
    dict(
        type=RouterTrainingHook,
        switch_iter=joint_iters,
        optim_wrapper=dict(
            type=OptimWrapper,
            optimizer=dict(type=AdamW, lr=1e-4, weight_decay=5e-3)))
]
