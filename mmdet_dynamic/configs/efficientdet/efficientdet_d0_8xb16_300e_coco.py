# Copyright (c) mmdet_dynamic contributors. All rights reserved.
# EfficientDet-D0 on COCO, 512 px, 8 GPUs x 16 images, 300 epochs (mmdet's
# projects/EfficientDet recipe): the pure-Python form of
# configs/efficientdet/efficientdet_d0_8xb16-300e_coco.py (whose comments
# list where it departs from the official TF model).
from mmcv.transforms import LoadImageFromFile, RandomResize
from mmengine.config import read_base
from mmengine.hooks import EMAHook
from mmengine.optim import CosineAnnealingLR, LinearLR
from mmengine.runner import EpochBasedTrainLoop
from torch.optim import SGD

from mmdet.datasets.transforms import (LoadAnnotations, PackDetInputs,
                                       RandomCrop, RandomFlip, Resize)
from mmdet.models import BatchFixedSizePad, ExpMomentumEMA

with read_base():
    from .efficientdet_d0_40i_raccoon import *  # noqa: F401,F403

image_size = 512
model.update(  # noqa: F405
    data_preprocessor=dict(batch_augments=[
        dict(type=BatchFixedSizePad, size=(image_size, image_size))
    ]),
    backbone=dict(drop_path_rate=0.2, frozen_stages=0, norm_eval=False),
    bbox_head=dict(num_classes=80),
    test_cfg=dict(
        nms=dict(
            type='soft_nms',
            iou_threshold=0.3,
            sigma=0.5,
            min_score=1e-3,
            method='gaussian')))
data_root = 'data/coco/'
train_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=LoadAnnotations, with_bbox=True),
    dict(
        type=RandomResize,
        scale=(image_size, image_size),
        ratio_range=(0.1, 2.0),
        keep_ratio=True),
    dict(type=RandomCrop, crop_size=(image_size, image_size)),
    dict(type=RandomFlip, prob=0.5),
    dict(type=PackDetInputs)
]
test_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=Resize, scale=(image_size, image_size), keep_ratio=True),
    dict(type=LoadAnnotations, with_bbox=True),
    dict(
        type=PackDetInputs,
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader.update(  # noqa: F405
    batch_size=16,
    num_workers=8,
    dataset=dict(
        data_root=data_root,
        metainfo=None,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=train_pipeline))
val_dataloader.update(  # noqa: F405
    dataset=dict(
        data_root=data_root,
        metainfo=None,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader  # noqa: F405
val_evaluator.update(  # noqa: F405
    ann_file=data_root + 'annotations/instances_val2017.json')
test_evaluator = val_evaluator  # noqa: F405
optim_wrapper.update(  # noqa: F405
    optimizer=dict(type=SGD, lr=0.16, momentum=0.9, weight_decay=4e-5),
    clip_grad=dict(max_norm=10, norm_type=2))
max_epochs = 300
param_scheduler = [
    dict(type=LinearLR, start_factor=0.1, by_epoch=False, begin=0, end=917),
    dict(
        type=CosineAnnealingLR,
        eta_min=0.0,
        begin=1,
        T_max=299,
        end=300,
        by_epoch=True,
        convert_to_iter_based=True)
]
train_cfg = dict(
    type=EpochBasedTrainLoop, max_epochs=max_epochs, val_interval=10)
default_hooks.update(checkpoint=dict(by_epoch=True, interval=15))  # noqa
log_processor.update(by_epoch=True)  # noqa: F405
custom_hooks = [
    dict(
        type=EMAHook,
        ema_type=ExpMomentumEMA,
        momentum=0.0002,
        update_buffers=True,
        priority=49)
]
auto_scale_lr = dict(enable=True, base_batch_size=128)
