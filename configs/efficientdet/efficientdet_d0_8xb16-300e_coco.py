# EfficientDet-D0 (Tan et al., CVPR 2020) on COCO, 512 px: mmdet's
# EfficientNet-B0, BiFPN-D0 (64 channels, 3 repeats, TF-SAME max-pools) on
# P3-P7, EfficientDetSepBNHead (3 separable convs per net, BN per level,
# swish), 9 anchors per location (scales 2^0, 2^(1/3), 2^(2/3) x ratios 0.5,
# 1, 2, anchor scale 4), focal loss (alpha 0.25, gamma 1.5) and Huber box
# loss; recipe of mmdet's projects/EfficientDet (SGD lr 0.16, 300 epochs,
# random resize 0.1-2.0 + crop, EMA). Trains from scratch by default: set
# model.backbone.init_cfg=dict(type='Pretrained', checkpoint=LOCAL_PATH).
#   bash tools/dist_train.sh \
#       configs/efficientdet/efficientdet_d0_8xb16-300e_coco.py 8
# Choices that differ from the official TF model:
# - mmdet's EfficientNet pads its stride-2 convs symmetrically (PyTorch),
#   not TF-SAME; the BiFPN's max-pools are TF-SAME (BiFPN pool='same');
# - the Huber box loss (delta 0.1, weight 50, over 4 x positives) is written
#   as mmdet's SmoothL1Loss(beta=0.1, loss_weight=1.25) over the positives:
#   Huber_delta = delta * SmoothL1_beta=delta, so 50 * 0.1 / 4 = 1.25;
# - soft-NMS as mmdet's project (the official uses per-class soft-NMS too).
_base_ = [
    'mmdet::_base_/datasets/coco_detection.py',
    '../_base_/default_runtime.py'
]

image_size = 512
norm_cfg = dict(type='BN', momentum=0.01, eps=1e-3)
model = dict(
    _scope_='mmdet_dynamic',
    type='EfficientDet',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=128,
        batch_augments=[
            dict(type='BatchFixedSizePad', size=(image_size, image_size))
        ]),
    backbone=dict(
        type='EfficientNet',
        arch='b0',
        drop_path_rate=0.2,
        out_indices=(3, 4, 5),
        frozen_stages=0,
        norm_cfg=norm_cfg,
        norm_eval=False,
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
        num_classes=80,
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
        nms=dict(
            type='soft_nms',
            iou_threshold=0.3,
            sigma=0.5,
            min_score=1e-3,
            method='gaussian'),
        max_per_img=100))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomResize',
        scale=(image_size, image_size),
        ratio_range=(0.1, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=(image_size, image_size)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=16, num_workers=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.16, momentum=0.9, weight_decay=4e-5),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0),
    clip_grad=dict(max_norm=10, norm_type=2))
max_epochs = 300
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=917),
    dict(
        type='CosineAnnealingLR',
        eta_min=0.0,
        begin=1,
        T_max=299,
        end=300,
        by_epoch=True,
        convert_to_iter_based=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(checkpoint=dict(type='CheckpointHook', interval=15))
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0002,
        update_buffers=True,
        priority=49)
]
auto_scale_lr = dict(base_batch_size=128)
