# Dy-YOLOv7-X, step 1 (official cfg/dy-yolov7x-step1.yaml): two
# YOLOv7-X detectors in cascade, trained jointly on COCO at 640 px with
# YOLOv7-X's recipe
# (configs/yolov7/yolov7_x_8xb16-300e_coco.py).
#   bash tools/dist_train.sh configs/dynamicdet/dy-yolov7_x_step1_coco.py 8
# DynamicDet's YOLO layout (layout='dynamicdet', as the official cfg):
# the composite connection (biased 1x1 convs, no norm, default init) feeds
# five fusion points in B2, each right after a down-sampling layer, from
# B1's levels at strides 2..32; the router pools those five levels
# (FC 3600 -> 900 -> 1); each detector has its own neck and IDetect head.
# Step 1 trains the router too little to matter (it gets no gradient in the
# joint phase); step 2 is dy-yolov7_x_router-2e_coco.py.
_base_ = '../yolov7/yolov7_x_8xb16-300e_coco.py'
model = dict(
    _delete_=True,
    _scope_='mmdet_dynamic',
    type='DynamicCascadeDetector',
    backbone=_base_.model.backbone,
    detector=dict(_base_.model, backbone=None),
    share_heads=False,
    layout='dynamicdet',
    composite_cfg=dict(norm_cfg=None, zero_init=False),
    test_cfg=dict(threshold=0.5))
find_unused_parameters = True
