# Dy-Mask R-CNN, ResNet-50 FPN, COCO 1x, shared neck and heads. From scratch
# by default; --cfg-options model.init_detectors_from=PATH starts both
# detectors from a Mask R-CNN checkpoint.
_base_ = '../mask_rcnn/mask-rcnn_r50_fpn_scratch_1x_coco.py'
# The wrapped detector as its config stands, its backbone given once, at
# model.backbone (where mmdet's tools such as init_detector look for it).
model = dict(
    _delete_=True,
    type='DynamicCascadeDetector',
    backbone=_base_.model.backbone,
    detector=dict(_base_.model, backbone=None),
    share_heads=True,
    init_detectors_from=None,
    test_cfg=dict(threshold=0.5))
# Under DDP some parameters get no gradient in each phase (the router in the
# joint phase, both detectors in the router phase).
find_unused_parameters = True
# Phase 2 in the same run: after the 12 joint epochs (1x) RouterTrainingHook
# freezes both detectors and trains the router for 2 epochs (the paper's
# recipe: AdamW, lr 1e-5, weight decay 5e-3; Delta = median of L1 - L2 over
# the training set).
train_cfg = dict(max_epochs=14)
custom_hooks = [dict(type='RouterTrainingHook', switch_epoch=12)]
