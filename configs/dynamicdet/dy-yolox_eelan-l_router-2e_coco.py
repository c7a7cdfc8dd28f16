# Dy-YOLO router phase on COCO, from the joint-phase checkpoint of
# dy-yolox_eelan-l_300e_coco.py (DynamicDet's phase 2):
#   bash tools/dist_train.sh configs/dynamicdet/dy-yolox_eelan-l_router-2e_coco.py 8 \
#       --cfg-options load_from=work_dirs/dy-yolox_eelan-l_300e_coco/epoch_300.pth
# As in the paper: detectors frozen, AdamW lr 1e-5 (weight decay 5e-3) on the
# router only, constant lr, 2 epochs, no mosaic/mixup and no EMA; Delta is
# the median of L1 - L2 over the training set. Note: `load_from` loads the
# checkpoint's `state_dict` (the raw weights, not the EMA copy the joint run
# validated with).
_base_ = './dy-yolox_eelan-l_300e_coco.py'

img_scale = (640, 640)
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(
        type='Pad',
        pad_to_square=True,
        pad_val=dict(img=(114.0, 114.0, 114.0))),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
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
custom_hooks = [dict(type='RouterTrainingHook', switch_epoch=0)]
load_from = None  # the joint-phase checkpoint, e.g. via --cfg-options
