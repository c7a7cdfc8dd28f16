# Dy-YOLOv7-tiny on raccoon: two YOLOv7-tiny detectors (E-ELAN-tiny,
# YOLOv7PAFPN, IDetect head, OTA loss) in DynamicDet's YOLO cascade layout,
# 320 px, 40 CPU iterations (minutes on 2 cores). For the tests, the README
# and the benchmark; the COCO recipes are dy-yolov7_{l,x,w6}_*_coco.py.
#   python tools/train.py configs/dynamicdet/dy-yolov7_tiny_40i_raccoon.py
_base_ = [
    '../_base_/datasets/raccoon_detection.py',
    '../_base_/schedules/schedule_iter_cpu.py',
    '../_base_/default_runtime_iter.py',
]

norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
yolov7_tiny = dict(
    type='YOLOv7',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[0., 0., 0.],
        std=[255., 255., 255.],
        bgr_to_rgb=True,
        pad_size_divisor=32),
    neck=dict(
        type='YOLOv7PAFPN',
        arch='tiny',
        in_channels=[128, 256, 512],
        norm_cfg=norm_cfg),
    bbox_head=dict(
        type='YOLOv7Head',
        num_classes=1,
        in_channels=[128, 256, 512],
        anchors='tiny',
        loss_gains=dict(box=0.05, obj=1.0, cls=0.5),
        img_scale=320),
    test_cfg=dict(
        score_thr=0.001,
        nms=dict(type='nms', iou_threshold=0.65),
        max_per_img=100))
model = dict(
    type='DynamicCascadeDetector',
    backbone=dict(type='EELAN', arch='tiny', norm_cfg=norm_cfg),
    detector=yolov7_tiny,
    share_heads=False,
    layout='dynamicdet',
    composite_cfg=dict(norm_cfg=None, zero_init=False),
    test_cfg=dict(threshold=0.5))
optim_wrapper = dict(
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.937, weight_decay=5e-4,
        nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.))
find_unused_parameters = True
