# Dy-YOLO (small) on raccoon: two YOLOX detectors whose backbones are
# YOLOv7-tiny E-ELANs, each with its own YOLO-style neck (mmdet's YOLOXPAFPN)
# and YOLOX head (the YOLO setting of DynamicDet), 320 px, 40 CPU iterations.
_base_ = [
    '../_base_/datasets/raccoon_detection.py',
    '../_base_/schedules/schedule_iter_cpu.py',
    '../_base_/default_runtime_iter.py',
]

norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
yolo = dict(
    type='YOLOX',
    data_preprocessor=dict(type='DetDataPreprocessor', pad_size_divisor=32),
    neck=dict(
        type='YOLOXPAFPN',
        in_channels=[128, 256, 512],
        out_channels=96,
        num_csp_blocks=1,
        norm_cfg=norm_cfg,
        act_cfg=dict(type='Swish')),
    bbox_head=dict(
        type='YOLOXHead',
        num_classes=1,
        in_channels=96,
        feat_channels=96,
        stacked_convs=2,
        strides=(8, 16, 32),
        norm_cfg=norm_cfg,
        act_cfg=dict(type='Swish')),
    train_cfg=dict(assigner=dict(type='SimOTAAssigner', center_radius=2.5)),
    test_cfg=dict(score_thr=0.01, nms=dict(type='nms', iou_threshold=0.65)))
model = dict(
    type='DynamicCascadeDetector',
    backbone=dict(type='EELAN', arch='tiny', norm_cfg=norm_cfg),
    detector=yolo,
    share_heads=False,
    test_cfg=dict(threshold=0.5))
optim_wrapper = dict(optimizer=dict(lr=0.005))
# Under DDP some parameters get no gradient in each phase (the router in the
# joint phase, both detectors in the router phase).
find_unused_parameters = True
