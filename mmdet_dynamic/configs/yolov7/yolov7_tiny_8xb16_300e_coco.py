# Copyright (c) mmdet_dynamic contributors. All rights reserved.
# YOLOv7-tiny on COCO, 640 px: hyp.scratch.tiny's loss gains (obj 1.0,
# cls 0.5) and augmentation (translate 0.1, scale 0.5), otherwise as
# yolov7_l_8xb16_300e_coco.py. The pure-Python form of
# configs/yolov7/yolov7_tiny_8xb16-300e_coco.py.
from mmengine.config import read_base

from mmdet.datasets.transforms import RandomAffine

with read_base():
    from .yolov7_l_8xb16_300e_coco import *  # noqa: F401,F403

model.update(  # noqa: F405
    backbone=dict(arch='tiny'),
    neck=dict(arch='tiny', in_channels=[128, 256, 512]),
    bbox_head=dict(
        in_channels=[128, 256, 512],
        anchors='tiny',
        loss_gains=dict(box=0.05, obj=1.0, cls=0.5)))
train_pipeline[1] = dict(  # noqa: F405
    type=RandomAffine,
    max_rotate_degree=0.0,
    max_translate_ratio=0.1,
    scaling_ratio_range=(0.5, 1.5),
    max_shear_degree=0.0,
    border=(-img_scale[0] // 2, -img_scale[1] // 2),  # noqa: F405
    border_val=(114, 114, 114))
train_dataloader.update(  # noqa: F405
    dataset=dict(pipeline=train_pipeline))  # noqa: F405
