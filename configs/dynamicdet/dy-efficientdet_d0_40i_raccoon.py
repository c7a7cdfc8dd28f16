# Dy-EfficientDet-D0 on raccoon: two EfficientDet-D0 detectors in cascade
# (EfficientNet-B0 stages through the backbone seam's EfficientNet adapter,
# CBNetV2 layout with a zero-initialised BN composite connection; own BiFPN
# and head each), 40 CPU iterations: shows that the cascade wraps
# EfficientDet like any mmdet single-stage detector.
#   python tools/train.py configs/dynamicdet/dy-efficientdet_d0_40i_raccoon.py
_base_ = '../efficientdet/efficientdet_d0_40i_raccoon.py'
model = dict(
    _delete_=True,
    type='DynamicCascadeDetector',
    backbone=_base_.model.backbone,
    detector=dict(_base_.model, backbone=None),
    share_heads=False,
    test_cfg=dict(threshold=0.5))
find_unused_parameters = True
