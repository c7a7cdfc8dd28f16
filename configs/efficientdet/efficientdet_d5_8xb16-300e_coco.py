# EfficientDet-D5 on COCO, 1280 px: EfficientNet-B5, BiFPN-D5
# (288 channels), head depth 4 (3 + floor(phi / 3)); recipe and
# differences from the official model as efficientdet_d0_8xb16-300e_coco.py.
_base_ = './efficientdet_d0_8xb16-300e_coco.py'
image_size = 1280
model = dict(
    data_preprocessor=dict(batch_augments=[
        dict(type='BatchFixedSizePad', size=(image_size, image_size))
    ]),
    backbone=dict(arch='b5'),
    neck=dict(in_channels=[64, 176, 512], arch='D5'),
    bbox_head=dict(
        in_channels=288, feat_channels=288, stacked_convs=4))
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
