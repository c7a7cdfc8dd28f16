# RSANet: LCNet backbone + RSAFPN neck + a light YOLO head (mmdet's
# YOLOV3Head: one 3x3 conv and a 1x1 predictor per level) at 416 px, trained
# from scratch on the bundled raccoon data for 40 CPU iterations.
# Complexity at the paper's VOC setting (20 classes, 416 px): see the README.
_base_ = [
    '../_base_/datasets/raccoon_detection.py',
    '../_base_/schedules/schedule_iter_cpu.py',
    '../_base_/default_runtime_iter.py',
]

img_scale = (416, 416)
neck_channels = 160
model = dict(
    type='YOLOV3',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[0, 0, 0],
        std=[255., 255., 255.],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(
        type='LCNet',
        channels=(64, 128, 192, 256, 352),
        out_indices=(2, 3, 4)),
    neck=dict(
        type='RSAFPN',
        in_channels=[192, 256, 352],
        out_channels=neck_channels,
        num_outs=3),
    bbox_head=dict(
        type='YOLOV3Head',
        num_classes=1,
        in_channels=[neck_channels] * 3,
        out_channels=[neck_channels] * 3,
        anchor_generator=dict(
            type='YOLOAnchorGenerator',
            base_sizes=[[(10, 13), (16, 30), (33, 23)],
                        [(30, 61), (62, 45), (59, 119)],
                        [(116, 90), (156, 198), (373, 326)]],
            strides=[8, 16, 32]),
        bbox_coder=dict(type='YOLOBBoxCoder'),
        featmap_strides=[8, 16, 32],
        loss_cls=dict(
            type='CrossEntropyLoss',
            use_sigmoid=True,
            loss_weight=1.0,
            reduction='sum'),
        loss_conf=dict(
            type='CrossEntropyLoss',
            use_sigmoid=True,
            loss_weight=1.0,
            reduction='sum'),
        loss_xy=dict(
            type='CrossEntropyLoss',
            use_sigmoid=True,
            loss_weight=2.0,
            reduction='sum'),
        loss_wh=dict(type='MSELoss', loss_weight=2.0, reduction='sum')),
    train_cfg=dict(
        assigner=dict(
            type='GridAssigner',
            pos_iou_thr=0.5,
            neg_iou_thr=0.5,
            min_pos_iou=0)),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.05,
        conf_thr=0.005,
        nms=dict(type='nms', iou_threshold=0.45),
        max_per_img=100))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
optim_wrapper = dict(optimizer=dict(lr=0.001))
