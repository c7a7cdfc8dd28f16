# Dy-YOLOv7 step 2: the adaptive router, from the step-1 checkpoint, with the
# Dy-YOLOv7 router recipe (../_base_/router-2e_coco.py):
#   bash tools/dist_train.sh \
#       configs/dynamicdet/dy-yolov7_l_router-2e_coco.py 8 \
#       --cfg-options load_from=work_dirs/dy-yolov7_l_step1_coco/epoch_300.pth
_base_ = [
    './dy-yolov7_l_step1_coco.py',
    '../_base_/router-2e_coco.py',
]
train_dataloader = _base_.router_train_dataloader_p5
train_cfg = _base_.router_train_cfg
param_scheduler = []
custom_hooks = _base_.router_custom_hooks
