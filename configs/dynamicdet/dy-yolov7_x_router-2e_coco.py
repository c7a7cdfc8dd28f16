# Dy-YOLOv7-X step 2: the adaptive router, from the step-1 checkpoint
# (official: train_step2.py with hyp.finetune.dynamic.adam.yaml):
#   bash tools/dist_train.sh configs/dynamicdet/dy-yolov7_x_router-2e_coco.py 8 \
#       --cfg-options load_from=work_dirs/dy-yolov7_x_step1_coco/epoch_300.pth
# Detectors frozen (BN in eval mode), AdamW lr 1e-5 constant, weight decay
# 5e-3, 2 epochs, no EMA, no mosaic or mixup (plain letterbox resize with
# flips), Delta = the running median of L1 - L2. The official code runs
# batch 1 per GPU with gradient accumulation to 64; here 8 GPUs x 1 image
# per step, no accumulation.
_base_ = './dy-yolov7_x_step1_coco.py'
img_scale = (640, 640)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='Pad', size=img_scale, pad_val=dict(img=(114.0, 114.0,
                                                      114.0))),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size=1,
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
load_from = None  # the step-1 checkpoint, e.g. via --cfg-options
