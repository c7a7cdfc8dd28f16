# Copyright (c) mmdet_dynamic contributors. All rights reserved.
# YOLOv7-L on COCO, 640 px, 8 GPUs x 16 images, 300 epochs from scratch: the
# pure-Python form of configs/yolov7/yolov7_l_8xb16-300e_coco.py (whose
# comments list where the recipe departs from the official one).
from mmcv.transforms import LoadImageFromFile
from mmengine.dataset.sampler import DefaultSampler
from mmengine.hooks import (CheckpointHook, DistSamplerSeedHook, EMAHook,
                            IterTimerHook, LoggerHook, ParamSchedulerHook)
from mmengine.optim import CosineAnnealingLR, LinearLR, OptimWrapper
from mmengine.runner import EpochBasedTrainLoop, LogProcessor, TestLoop, \
    ValLoop
from mmengine.visualization import LocalVisBackend
from torch.optim import SGD

from mmdet.datasets import CocoDataset, MultiImageMixDataset
from mmdet.datasets.transforms import (FilterAnnotations, LoadAnnotations,
                                       Mosaic, PackDetInputs, Pad,
                                       RandomAffine, RandomFlip, Resize,
                                       YOLOXHSVRandomAug)
from mmdet.engine.hooks import DetVisualizationHook
from mmdet.evaluation import CocoMetric
from mmdet.models import DetDataPreprocessor, ExpMomentumEMA
from mmdet.visualization import DetLocalVisualizer
from mmdet_dynamic.models import EELAN, YOLOv7, YOLOv7Head, YOLOv7PAFPN

default_scope = None
img_scale = (640, 640)  # width, height
norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
model = dict(
    type=YOLOv7,
    data_preprocessor=dict(
        type=DetDataPreprocessor,
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(type=EELAN, arch='L', norm_cfg=norm_cfg),
    neck=dict(
        type=YOLOv7PAFPN,
        arch='L',
        in_channels=[512, 1024, 1024],
        norm_cfg=norm_cfg),
    bbox_head=dict(
        type=YOLOv7Head,
        num_classes=80,
        in_channels=[256, 512, 1024],
        anchors='P5',
        strides=(8, 16, 32),
        loss_gains=dict(box=0.05, obj=0.7, cls=0.3),
        img_scale=img_scale[0]),
    test_cfg=dict(
        score_thr=0.001,
        nms=dict(type='nms', iou_threshold=0.65),
        multi_label=True,
        max_per_img=300))

data_root = 'data/coco/'
train_pipeline = [
    dict(type=Mosaic, img_scale=img_scale, pad_val=114.0),
    dict(
        type=RandomAffine,
        max_rotate_degree=0.0,
        max_translate_ratio=0.2,
        scaling_ratio_range=(0.1, 1.9),
        max_shear_degree=0.0,
        border=(-img_scale[0] // 2, -img_scale[1] // 2),
        border_val=(114, 114, 114)),
    dict(type=YOLOXHSVRandomAug),
    dict(type=RandomFlip, prob=0.5),
    dict(type=FilterAnnotations, min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type=PackDetInputs)
]
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type=DefaultSampler, shuffle=True),
    dataset=dict(
        type=MultiImageMixDataset,
        dataset=dict(
            type=CocoDataset,
            data_root=data_root,
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            pipeline=[
                dict(type=LoadImageFromFile),
                dict(type=LoadAnnotations, with_bbox=True)
            ],
            filter_cfg=dict(filter_empty_gt=False, min_size=32)),
        pipeline=train_pipeline))
test_pipeline = [
    dict(type=LoadImageFromFile),
    dict(type=Resize, scale=img_scale, keep_ratio=True),
    dict(type=Pad, size=img_scale, pad_val=dict(img=(114.0, 114.0, 114.0))),
    dict(type=LoadAnnotations, with_bbox=True),
    dict(
        type=PackDetInputs,
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type=DefaultSampler, shuffle=False),
    dataset=dict(
        type=CocoDataset,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type=CocoMetric,
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric='bbox')
test_evaluator = val_evaluator

max_epochs = 300
train_cfg = dict(
    type=EpochBasedTrainLoop, max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type=ValLoop)
test_cfg = dict(type=TestLoop)
optim_wrapper = dict(
    type=OptimWrapper,
    optimizer=dict(
        type=SGD, lr=0.01, momentum=0.937, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    dict(
        type=LinearLR, start_factor=0.001, by_epoch=True, begin=0, end=3,
        convert_to_iter_based=True),
    dict(
        type=CosineAnnealingLR,
        eta_min=0.001,
        begin=3,
        T_max=max_epochs - 3,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True)
]
default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, interval=50),
    param_scheduler=dict(type=ParamSchedulerHook),
    checkpoint=dict(type=CheckpointHook, interval=10, max_keep_ckpts=3),
    sampler_seed=dict(type=DistSamplerSeedHook),
    visualization=dict(type=DetVisualizationHook))
custom_hooks = [
    dict(
        type=EMAHook,
        ema_type=ExpMomentumEMA,
        momentum=0.0001,
        update_buffers=True,
        priority=49)
]
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
visualizer = dict(
    type=DetLocalVisualizer, vis_backends=[dict(type=LocalVisBackend)],
    name='visualizer')
log_processor = dict(type=LogProcessor, window_size=50, by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
auto_scale_lr = dict(base_batch_size=128)
