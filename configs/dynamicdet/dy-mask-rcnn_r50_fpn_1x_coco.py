# Dy-Mask R-CNN, ResNet-50 FPN, COCO 1x, shared neck and heads. From scratch
# by default; --cfg-options model.init_detectors_from=PATH starts both
# detectors from a Mask R-CNN checkpoint.
_base_ = '../mask_rcnn/mask-rcnn_r50_fpn_scratch_1x_coco.py'
model = dict(
    _delete_=True,
    type='DynamicCascadeDetector',
    detector={{_base_.model}},
    share_heads=True,
    init_detectors_from=None,
    test_cfg=dict(threshold=0.5))
