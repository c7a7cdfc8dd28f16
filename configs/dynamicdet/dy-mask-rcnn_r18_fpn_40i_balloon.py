# Dy-Mask R-CNN on balloon: two R-18 FPN Mask R-CNNs in cascade with shared
# neck and heads; masks come out for either route.
_base_ = '../mask_rcnn/mask-rcnn_r18_fpn_40i_balloon.py'
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
