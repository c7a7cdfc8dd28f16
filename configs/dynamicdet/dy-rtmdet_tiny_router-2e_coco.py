# Dy-RTMDet-tiny router phase on COCO, from the joint-phase checkpoint of
# dy-rtmdet_tiny_8xb32-300e_coco.py (DynamicDet's phase 2, as
# dy-yolox_eelan-l_router-2e_coco.py):
#   bash tools/dist_train.sh configs/dynamicdet/dy-rtmdet_tiny_router-2e_coco.py 8 \
#       --cfg-options load_from=work_dirs/dy-rtmdet_tiny_8xb32-300e_coco/epoch_300.pth
# Detectors frozen, AdamW lr 1e-5 (weight decay 5e-3) on the router only,
# constant lr, 2 epochs, 8 GPUs x 8 images (the paper's 64 images per
# step), letterbox resize with flips: no mosaic, mixup or EMA. `load_from`
# loads the checkpoint's `state_dict` (the raw weights, not the EMA copy the
# joint run validated with).
_base_ = './dy-rtmdet_tiny_8xb32-300e_coco.py'

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(640, 640), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=(640, 640), pad_val=dict(img=(114, 114, 114))),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size=8,
    dataset=dict(
        _delete_=True,
        type='CocoDataset',
        data_root='data/coco/',
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=False, min_size=32),
        pipeline=train_pipeline))
train_cfg = dict(max_epochs=2, val_interval=1)
param_scheduler = []
custom_hooks = [
    dict(
        type='RouterTrainingHook',
        switch_epoch=0,
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-5, weight_decay=5e-3)))
]
load_from = None  # the joint-phase checkpoint, e.g. via --cfg-options
