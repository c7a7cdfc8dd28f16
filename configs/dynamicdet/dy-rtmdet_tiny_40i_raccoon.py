# Dy-RTMDet-tiny on the bundled raccoon data: two RTMDet-tiny detectors
# (CSPNeXt-tiny, CSPNeXtPAFPN, RTMDetSepBNHead: mmdet's rtmdet_tiny model with
# one class, BN for SyncBN) in cascade, each with its own neck and head,
# 320 px, 40 CPU iterations from scratch. The COCO recipe is
# dy-rtmdet_tiny_8xb32-300e_coco.py.
#   python tools/train.py configs/dynamicdet/dy-rtmdet_tiny_40i_raccoon.py
_base_ = [
    '../_base_/datasets/raccoon_detection.py',
    '../_base_/schedules/schedule_iter_cpu.py',
    '../_base_/default_runtime_iter.py',
]

norm_cfg = dict(type='BN')
act_cfg = dict(type='SiLU', inplace=True)
rtmdet_tiny = dict(
    type='RTMDet',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[103.53, 116.28, 123.675],
        std=[57.375, 57.12, 58.395],
        bgr_to_rgb=False,
        pad_size_divisor=32),
    neck=dict(
        type='CSPNeXtPAFPN',
        in_channels=[96, 192, 384],
        out_channels=96,
        num_csp_blocks=1,
        expand_ratio=0.5,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg),
    bbox_head=dict(
        type='RTMDetSepBNHead',
        num_classes=1,
        in_channels=96,
        stacked_convs=2,
        feat_channels=96,
        anchor_generator=dict(
            type='MlvlPointGenerator', offset=0, strides=[8, 16, 32]),
        bbox_coder=dict(type='DistancePointBBoxCoder'),
        loss_cls=dict(
            type='QualityFocalLoss', use_sigmoid=True, beta=2.0,
            loss_weight=1.0),
        loss_bbox=dict(type='GIoULoss', loss_weight=2.0),
        with_objectness=False,
        exp_on_reg=False,
        share_conv=True,
        pred_kernel_size=1,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg),
    train_cfg=dict(
        assigner=dict(type='DynamicSoftLabelAssigner', topk=13),
        allowed_border=-1,
        pos_weight=-1,
        debug=False),
    test_cfg=dict(
        nms_pre=1000,
        min_bbox_size=0,
        score_thr=0.001,
        nms=dict(type='nms', iou_threshold=0.65),
        max_per_img=100))
model = dict(
    type='DynamicCascadeDetector',
    backbone=dict(
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.167,
        widen_factor=0.375,
        channel_attention=True,
        norm_cfg=norm_cfg,
        act_cfg=act_cfg),
    detector=rtmdet_tiny,
    share_heads=False,
    test_cfg=dict(threshold=0.5))
# RTMDet's optimiser (AdamW, no weight decay on norms and biases) at its
# base lr; mmdet's recipe scales it for 8 x 32 images, this runs 4.
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=0.004, weight_decay=0.05),
    paramwise_cfg=dict(
        norm_decay_mult=0, bias_decay_mult=0, bypass_duplicate=True))
# Under DDP some parameters get no gradient in each phase (the router in the
# joint phase, both detectors in the router phase).
find_unused_parameters = True
