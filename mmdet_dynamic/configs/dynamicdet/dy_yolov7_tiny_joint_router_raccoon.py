# Copyright (c) mmdet_dynamic contributors. All rights reserved.
# Dy-YOLOv7-tiny on raccoon (320 px) through both phases in one run: 400
# joint iterations (cosine), then 80 router iterations (AdamW, lr 1e-4), in
# DynamicDet's YOLO cascade layout. The pure-Python form of
# configs/dynamicdet/dy-yolov7_tiny_joint-router_raccoon.py.
from mmengine.config import read_base
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from torch.optim import SGD, AdamW

from mmdet.models import DetDataPreprocessor
from mmdet_dynamic.engine.hooks import RouterTrainingHook
from mmdet_dynamic.models import (EELAN, DynamicCascadeDetector, YOLOv7,
                                  YOLOv7Head, YOLOv7PAFPN)

with read_base():
    from .._base_.datasets.raccoon_detection import *  # noqa: F401,F403
    from .._base_.default_runtime import *  # noqa: F401,F403
    from .._base_.schedules.schedule_iter_cpu import *  # noqa: F401,F403

norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
model = dict(
    type=DynamicCascadeDetector,
    backbone=dict(type=EELAN, arch='tiny', norm_cfg=norm_cfg),
    detector=dict(
        type=YOLOv7,
        data_preprocessor=dict(
            type=DetDataPreprocessor,
            mean=[0., 0., 0.],
            std=[255., 255., 255.],
            bgr_to_rgb=True,
            pad_size_divisor=32),
        neck=dict(
            type=YOLOv7PAFPN,
            arch='tiny',
            in_channels=[128, 256, 512],
            norm_cfg=norm_cfg),
        bbox_head=dict(
            type=YOLOv7Head,
            num_classes=1,
            in_channels=[128, 256, 512],
            anchors='tiny',
            loss_gains=dict(box=0.05, obj=1.0, cls=0.5),
            img_scale=320),
        test_cfg=dict(
            score_thr=0.001,
            nms=dict(type='nms', iou_threshold=0.65),
            max_per_img=100)),
    share_heads=False,
    layout='dynamicdet',
    composite_cfg=dict(norm_cfg=None, zero_init=False),
    test_cfg=dict(threshold=0.5))
find_unused_parameters = True
optim_wrapper.update(  # noqa: F405
    optimizer=dict(
        type=SGD, lr=0.01, momentum=0.937, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
joint_iters = 400
router_iters = 80
train_cfg.update(  # noqa: F405
    max_iters=joint_iters + router_iters,
    val_interval=joint_iters + router_iters)
param_scheduler = [
    dict(type=LinearLR, start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(
        type=CosineAnnealingLR,
        by_epoch=False,
        begin=20,
        end=joint_iters,
        T_max=joint_iters - 20,
        eta_min=0.001)
]
custom_hooks = [
    dict(
        type=RouterTrainingHook,
        switch_iter=joint_iters,
        optim_wrapper=dict(
            type=OptimWrapper,
            optimizer=dict(type=AdamW, lr=1e-4, weight_decay=5e-3)))
]
