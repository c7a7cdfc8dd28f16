# Dy-Faster R-CNN on the bundled raccoon data: two R-18 FPN Faster R-CNNs in
# cascade (shared neck and heads, the paper's R-CNN setting), composite
# connection, adaptive router. Joint phase; the router phase is entered by
# setting model.phase='router' (--cfg-options model.phase=router).
_base_ = '../faster_rcnn/faster-rcnn_r18_fpn_40i_raccoon.py'
# The wrapped detector as its config stands, its backbone given once, at
# model.backbone (where mmdet's tools such as init_detector look for it).
model = dict(
    _delete_=True,
    type='DynamicCascadeDetector',
    backbone=_base_.model.backbone,
    detector=dict(_base_.model, backbone=None),
    share_heads=True,
    test_cfg=dict(threshold=0.5))
# Under DDP some parameters get no gradient in each phase (the router in the
# joint phase, both detectors in the router phase).
find_unused_parameters = True
