# Router phase alone, from a joint-phase checkpoint of
# dy-faster-rcnn_r18_fpn_40i_raccoon.py (or of any Dy-Faster R-CNN R-18 run):
#   python tools/train.py configs/dynamicdet/dy-faster-rcnn_r18_fpn_router-40i_raccoon.py \
#       --cfg-options load_from=work_dirs/dy-faster-rcnn_r18_fpn_40i_raccoon/iter_40.pth
# RouterTrainingHook starts the router phase at iteration 0: Delta from a pass
# over the training set, only the router in the optimizer. `load_from` loads
# the weights only; with --resume the joint optimizer state is dropped (it
# belongs to the joint optimizer), so either way nothing crashes on it.
_base_ = './dy-faster-rcnn_r18_fpn_40i_raccoon.py'

param_scheduler = []  # constant lr, as in the paper's router phase
custom_hooks = [
    dict(
        type='RouterTrainingHook',
        switch_iter=0,
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='AdamW', lr=1e-4, weight_decay=5e-3)))
]
