# EfficientDet-D0 on raccoon, 320 px (padded to 384, a multiple of 128 for
# P7), 40 CPU iterations from scratch: a size that trains in minutes here.
# The COCO recipe is efficientdet_d0_8xb16-300e_coco.py.
#   python tools/train.py configs/efficientdet/efficientdet_d0_40i_raccoon.py
_base_ = [
    '../_base_/datasets/raccoon_detection.py',
    '../_base_/schedules/schedule_iter_cpu.py',
    '../_base_/default_runtime_iter.py',
]

norm_cfg = dict(type='BN', momentum=0.01, eps=1e-3)
model = dict(
    type='EfficientDet',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=128),
    backbone=dict(
        type='EfficientNet',
        arch='b0',
        out_indices=(3, 4, 5),
        norm_cfg=norm_cfg,
        init_cfg=None),
    neck=dict(
        type='BiFPN',
        in_channels=[40, 112, 320],
        num_outs=5,
        arch='D0',
        pool='same',
        norm_cfg=norm_cfg),
    bbox_head=dict(
        type='EfficientDetSepBNHead',
        num_classes=1,
        num_ins=5,
        in_channels=64,
        feat_channels=64,
        stacked_convs=3,
        norm_cfg=norm_cfg,
        anchor_generator=dict(
            type='AnchorGenerator',
            octave_base_scale=4,
            scales_per_octave=3,
            ratios=[1.0, 0.5, 2.0],
            strides=[8, 16, 32, 64, 128],
            center_offset=0.5),
        bbox_coder=dict(
            type='DeltaXYWHBBoxCoder',
            target_means=[.0, .0, .0, .0],
            target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(
            type='FocalLoss',
            use_sigmoid=True,
            gamma=1.5,
            alpha=0.25,
            loss_weight=1.0),
        loss_bbox=dict(type='SmoothL1Loss', beta=0.1, loss_weight=1.25)),
    train_cfg=dict(
        assigner=dict(
            type='MaxIoUAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0,
            ignore_iof_thr=-1),
        sampler=dict(type='PseudoSampler'),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        nms=dict(type='nms', iou_threshold=0.5),
        max_per_img=100))
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=4e-5),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0))
