# Dy-YOLOv7-W6, step 1 (official cfg/dy-yolov7-w6-step1.yaml): two
# YOLOv7-W6 detectors in cascade, trained jointly on COCO at 1280 px with
# YOLOv7-W6's recipe
# (configs/yolov7/yolov7_w6_8xb8-300e_coco.py).
#   bash tools/dist_train.sh configs/dynamicdet/dy-yolov7_w6_step1_coco.py 8
# DynamicDet's YOLO layout (layout='dynamicdet', as the official cfg):
# the composite connection (biased 1x1 convs, no norm, default init) feeds
# five fusion points in B2, each right after a stride-2 conv, from B1's
# levels at strides 4..64; the router pools six levels, strides 2..64
# (FC 2752 -> 688 -> 1); each detector has its own neck and IDetect head.
# Step 1 trains the router too little to matter (it gets no gradient in the
# joint phase); step 2 is dy-yolov7_w6_router-2e_coco.py.
_base_ = '../yolov7/yolov7_w6_8xb8-300e_coco.py'
model = dict(
    _delete_=True,
    _scope_='mmdet_dynamic',
    type='DynamicCascadeDetector',
    backbone=_base_.model.backbone,
    # YOLOv7-W6 without its auxiliary heads: the official Dy-YOLOv7-W6 has
    # none (IDetect, four levels).
    detector=dict(
        _base_.model,
        backbone=None,
        neck=dict(_base_.model.neck, use_aux=False),
        bbox_head=dict(_base_.model.bbox_head, aux_in_channels=[])),
    share_heads=False,
    layout='dynamicdet',
    composite_cfg=dict(norm_cfg=None, zero_init=False),
    test_cfg=dict(threshold=0.5))
find_unused_parameters = True
