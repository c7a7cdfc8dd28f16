# YOLOv7-L (official cfg/training/yolov7.yaml, hyp.scratch.p5.yaml) on COCO,
# 640 px, 8 GPUs x 16 images, 300 epochs, trained from scratch.
#   bash tools/dist_train.sh configs/yolov7/yolov7_l_8xb16-300e_coco.py 8
# Where the official recipe does not map onto mmdet's transforms:
# - MixUp (official probability 0.15) is left out: mmdet's MixUp has no
#   probability and would mix every image; paste_in (0.15) has no mmdet
#   transform.
# - HSV jitter: mmdet's YOLOXHSVRandomAug (additive deltas) stands in for
#   YOLOv7's multiplicative gains (h 0.015, s 0.7, v 0.4).
# - No gradient accumulation to a nominal batch of 64: 8 x 16 = 128 images
#   per step; weight decay 5e-4 as hyp.scratch.p5 (official: scaled by
#   batch / 64).
# - Letterbox padding sits at the bottom/right (mmdet's Pad), not centred.
_base_ = '../_base_/default_runtime.py'

img_scale = (640, 640)  # width, height
norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
model = dict(
    _scope_='mmdet_dynamic',
    type='YOLOv7',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    backbone=dict(type='EELAN', arch='L', norm_cfg=norm_cfg),
    neck=dict(
        type='YOLOv7PAFPN',
        arch='L',
        in_channels=[512, 1024, 1024],
        norm_cfg=norm_cfg),
    bbox_head=dict(
        type='YOLOv7Head',
        num_classes=80,
        in_channels=[256, 512, 1024],
        anchors='P5',
        strides=(8, 16, 32),
        loss_gains=dict(box=0.05, obj=0.7, cls=0.3),
        img_scale=img_scale[0]),
    # YOLOv7's test.py: conf 0.001, IoU 0.65, multi-label, 300 boxes
    test_cfg=dict(
        score_thr=0.001,
        nms=dict(type='nms', iou_threshold=0.65),
        multi_label=True,
        max_per_img=300))

data_root = 'data/coco/'
dataset_type = 'CocoDataset'
train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0),
    dict(
        type='RandomAffine',
        max_rotate_degree=0.0,
        max_translate_ratio=0.2,  # translate
        scaling_ratio_range=(0.1, 1.9),  # 1 -/+ scale (0.9)
        max_shear_degree=0.0,
        border=(-img_scale[0] // 2, -img_scale[1] // 2),
        border_val=(114, 114, 114)),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='MultiImageMixDataset',
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file='annotations/instances_train2017.json',
            data_prefix=dict(img='train2017/'),
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True)
            ],
            filter_cfg=dict(filter_empty_gt=False, min_size=32)),
        pipeline=train_pipeline))
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(
        type='Pad',
        size=img_scale,
        pad_val=dict(img=(114.0, 114.0, 114.0))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/instances_val2017.json',
        data_prefix=dict(img='val2017/'),
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='CocoMetric',
    ann_file=data_root + 'annotations/instances_val2017.json',
    metric='bbox')
test_evaluator = val_evaluator

max_epochs = 300
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# hyp.scratch.p5: SGD lr 0.01, momentum 0.937, Nesterov, weight decay 5e-4
# (not on BN weights and biases), 3 warm-up epochs, cosine to lrf = 0.1.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.937, weight_decay=5e-4,
        nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=True, begin=0, end=3,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=0.001,
        begin=3,
        T_max=max_epochs - 3,
        end=max_epochs,
        by_epoch=True,
        convert_to_iter_based=True)
]
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
# The official code validates an EMA of the weights (decay 0.9999).
custom_hooks = [
    dict(
        type='EMAHook',
        ema_type='ExpMomentumEMA',
        momentum=0.0001,
        update_buffers=True,
        priority=49)
]
auto_scale_lr = dict(base_batch_size=128)
