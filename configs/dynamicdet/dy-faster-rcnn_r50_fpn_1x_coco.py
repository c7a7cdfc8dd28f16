# Dy-Faster R-CNN, ResNet-50 FPN, COCO 1x (DynamicDet's R-CNN setting:
# shared neck and heads). From scratch by default (no download); to start
# both detectors from a Faster R-CNN you trained with mmdet, set
# --cfg-options model.init_detectors_from=/path/to/faster-rcnn.pth
_base_ = '../faster_rcnn/faster-rcnn_r50_fpn_scratch_1x_coco.py'
model = dict(
    _delete_=True,
    type='DynamicCascadeDetector',
    detector={{_base_.model}},
    share_heads=True,
    init_detectors_from=None,
    test_cfg=dict(threshold=0.5))
