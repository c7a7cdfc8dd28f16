# YOLOv7-W6 (official cfg/training/yolov7-w6.yaml, hyp.scratch.p6.yaml) on
# COCO, 1280 px, four levels (strides 8..64) with the auxiliary head
# (IAuxDetect, coarse-to-fine assignment) in training; the deploy form
# (tools/model_converters/reparameterize.py) drops it.
_base_ = './yolov7_l_8xb16-300e_coco.py'
img_scale = (1280, 1280)
model = dict(
    data_preprocessor=dict(pad_size_divisor=64),
    backbone=dict(arch='W6'),
    neck=dict(arch='W6', in_channels=[256, 512, 768, 1024]),
    bbox_head=dict(
        in_channels=[256, 512, 768, 1024],
        aux_in_channels=[320, 640, 960, 1280],
        anchors='P6',
        strides=(8, 16, 32, 64),
        img_scale=img_scale[0]))
train_pipeline = [
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0),
    dict(
        type='RandomAffine',
        max_rotate_degree=0.0,
        max_translate_ratio=0.2,
        scaling_ratio_range=(0.1, 1.9),
        max_shear_degree=0.0,
        border=(-img_scale[0] // 2, -img_scale[1] // 2),
        border_val=(114, 114, 114)),
    dict(type='YOLOXHSVRandomAug'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
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
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
auto_scale_lr = dict(base_batch_size=64)
