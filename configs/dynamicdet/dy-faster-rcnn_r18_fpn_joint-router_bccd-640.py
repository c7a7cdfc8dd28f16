# Dy-Faster R-CNN R-18 FPN on BCCD at its native size (640x480), the GPU
# run of the router benchmark (README, "Router benchmark"): the model of
# dy-faster-rcnn_r18_fpn_joint-router_bccd.py (shared heads, the paper's
# R-CNN setting; 128-channel FPN and RoI features) with twice the input
# size and batch 8. Both phases in one run:
#   python tools/train.py \
#       configs/dynamicdet/dy-faster-rcnn_r18_fpn_joint-router_bccd-640.py
# The schedule is what fitted a 15-minute GPU lease (two folds on an H200,
# 0.38 s per joint iteration): too short for detector 2 to overtake
# detector 1 (README); lengthen joint_iters where there is more time.
_base_ = './dy-faster-rcnn_r18_fpn_joint-router_bccd.py'

img_scale = (640, 640)
backend_args = None
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=8, num_workers=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(num_workers=4, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(num_workers=4, dataset=dict(pipeline=test_pipeline))

# the router phase: about 2.6 epochs of a 2-fold training half (182 images)
# at batch 8, as the 320 px config's 120 iterations at batch 4 are about 2
# epochs of BCCD's 243 training images
joint_iters = 200
router_iters = 60
max_iters = joint_iters + router_iters
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
# the 320 px config's schedule, shortened: warm-up as there, the lr step at
# 3/4 of the joint phase, the router hook switching at its end
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], end=joint_iters, milestones=[150])
]
custom_hooks = [dict(_base_.custom_hooks[0], switch_iter=joint_iters)]
