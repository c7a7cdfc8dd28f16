# Dy-Faster R-CNN R-18 FPN on the bundled BCCD data (3 classes, crowded
# blood-cell images, 320x240), trained from scratch through both phases in
# one tools/train.py run (joint phase, then RouterTrainingHook's router
# phase), on BCCD's own split (train 205 / val 87 / test 72; `make data`).
#
# CPU-sized choices (the heads, not the backbones, dominate an R-18 Faster
# R-CNN on a CPU): FPN, RPN and RoI features at 128 channels, a 256-wide
# box head, 64 sampled RoIs per image.
_base_ = './dy-faster-rcnn_r18_fpn_joint-router_raccoon.py'

data_root = 'data/bccd/'
metainfo = dict(
    classes=('RBC', 'WBC', 'Platelets'),
    palette=[(220, 20, 60), (106, 0, 228), (0, 182, 0)])
width = 128
model = dict(
    detector=dict(
        neck=dict(out_channels=width),
        rpn_head=dict(in_channels=width, feat_channels=width),
        roi_head=dict(
            bbox_roi_extractor=dict(out_channels=width),
            bbox_head=dict(in_channels=width, fc_out_channels=256,
                           num_classes=3)),
        train_cfg=dict(rcnn=dict(sampler=dict(num=64))),
        test_cfg=dict(rcnn=dict(max_per_img=50))))

joint_iters = 400
router_iters = 120
max_iters = joint_iters + router_iters
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=joint_iters,
        milestones=[300],
        gamma=0.1)
]
custom_hooks = [
    dict(
        type='RouterTrainingHook',
        switch_iter=joint_iters,
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=5e-3)))
]

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='coco/train.json',
        data_prefix=dict(img='JPEGImages/')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='coco/val.json',
        data_prefix=dict(img='JPEGImages/')))
test_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='coco/test.json',
        data_prefix=dict(img='JPEGImages/')))
val_evaluator = dict(ann_file=data_root + 'coco/val.json')
test_evaluator = dict(ann_file=data_root + 'coco/test.json')
