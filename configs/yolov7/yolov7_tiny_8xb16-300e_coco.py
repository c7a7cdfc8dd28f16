# YOLOv7-tiny (official cfg/training/yolov7-tiny.yaml, LeakyReLU(0.1)) on
# COCO, 640 px, with hyp.scratch.tiny.yaml's loss gains (obj 1.0, cls 0.5)
# and augmentation (translate 0.1, scale 0.5); otherwise as
# yolov7_l_8xb16-300e_coco.py.
_base_ = './yolov7_l_8xb16-300e_coco.py'
model = dict(
    backbone=dict(arch='tiny'),
    neck=dict(arch='tiny', in_channels=[128, 256, 512]),
    bbox_head=dict(
        in_channels=[128, 256, 512],
        anchors='tiny',
        loss_gains=dict(box=0.05, obj=1.0, cls=0.5)))
img_scale = (640, 640)
train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0),
    dict(
        type='RandomAffine',
        max_rotate_degree=0.0,
        max_translate_ratio=0.1,
        scaling_ratio_range=(0.5, 1.5),
        max_shear_degree=0.0,
        border=(-img_scale[0] // 2, -img_scale[1] // 2),
        border_val=(114, 114, 114)),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
