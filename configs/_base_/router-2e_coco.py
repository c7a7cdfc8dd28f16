# DynamicDet's router phase on COCO (step 2; official: train_step2.py with
# hyp.finetune.dynamic.adam.yaml), taken beside a joint-phase config by the
# dy-yolov7_{l,x,w6}_router-2e and dy-rtmdet_tiny_router-2e configs:
#   _base_ = ['./dy-yolov7_l_step1_coco.py',
#             '../_base_/router-2e_coco.py']
#   train_dataloader = _base_.router_train_dataloader_p5   # _p6 for W6
#   train_cfg = _base_.router_train_cfg
#   param_scheduler = []
#   custom_hooks = _base_.router_custom_hooks
# Its keys carry a router_ prefix because mmengine refuses a key that two
# bases both set. The recipe: detectors frozen (BN in eval mode), AdamW lr
# 1e-5 constant, weight decay 5e-3, 2 epochs, no EMA, no mosaic or mixup
# (plain letterbox resize with flips) at the model's own test size (640 px
# for P5 models, 1280 px for W6), Delta = the running median of L1 - L2.
# The official code runs batch 1 per GPU with gradient accumulation to 64;
# the Dy-YOLOv7 configs run 8 GPUs x 1 image per step, no accumulation.


router_train_pipeline_p5 = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(640, 640), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='Pad', size=(640, 640),
        pad_val=dict(img=(114.0, 114.0, 114.0))),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
router_train_pipeline_p6 = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(1280, 1280), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(
        type='Pad', size=(1280, 1280),
        pad_val=dict(img=(114.0, 114.0, 114.0))),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type='PackDetInputs')
]
router_train_dataloader_p5 = dict(
    batch_size=1,
    dataset=dict(
        _delete_=True,
        type='CocoDataset',
        data_root='data/coco/',
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=False, min_size=32),
        pipeline=router_train_pipeline_p5))
router_train_dataloader_p6 = dict(
    batch_size=1,
    dataset=dict(
        _delete_=True,
        type='CocoDataset',
        data_root='data/coco/',
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=False, min_size=32),
        pipeline=router_train_pipeline_p6))
router_train_cfg = dict(max_epochs=2, val_interval=1)
router_custom_hooks = [
    dict(
        type='RouterTrainingHook',
        switch_epoch=0,
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-5, weight_decay=5e-3)))
]
