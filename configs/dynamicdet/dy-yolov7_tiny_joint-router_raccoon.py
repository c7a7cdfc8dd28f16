# Dy-YOLOv7-tiny on raccoon through both phases in one tools/train.py run
# (joint, then RouterTrainingHook's router phase), 2 CPU cores: the
# variable-speed table of the README's YOLOv7 section.
#   python tools/train.py configs/dynamicdet/dy-yolov7_tiny_joint-router_raccoon.py
# Router phase: AdamW lr 1e-4 for 80 iterations (2 epochs of the 160 images
# at batch 4), as dy-faster-rcnn_r18_fpn_joint-router_raccoon.py (the README's
# "Results: the main job" has the measurements behind it).
_base_ = './dy-yolov7_tiny_40i_raccoon.py'

joint_iters = 400
router_iters = 80
max_iters = joint_iters + router_iters
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),
    dict(
        type='CosineAnnealingLR',
        by_epoch=False,
        begin=20,
        end=joint_iters,
        T_max=joint_iters - 20,
        eta_min=0.001)
]
custom_hooks = [
    dict(
        type='RouterTrainingHook',
        switch_iter=joint_iters,
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=5e-3)))
]
