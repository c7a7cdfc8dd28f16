# Dy-RTMDet-tiny router phase on COCO, from the joint-phase checkpoint of
# dy-rtmdet_tiny_8xb32-300e_coco.py (DynamicDet's phase 2, the router recipe
# of ../_base_/router-2e_coco.py at 640 px):
#   bash tools/dist_train.sh \
#       configs/dynamicdet/dy-rtmdet_tiny_router-2e_coco.py 8 --cfg-options \
#       load_from=work_dirs/dy-rtmdet_tiny_8xb32-300e_coco/epoch_300.pth
# Detectors frozen, AdamW lr 1e-5 (weight decay 5e-3) on the router only,
# constant lr, 2 epochs, 8 GPUs x 8 images (the paper's 64 images per
# step), letterbox resize with flips: no mosaic, mixup or EMA. `load_from`
# loads the checkpoint's `state_dict` (the raw weights, not the EMA copy the
# joint run validated with).
_base_ = [
    './dy-rtmdet_tiny_8xb32-300e_coco.py',
    '../_base_/router-2e_coco.py',
]
train_dataloader = dict(_base_.router_train_dataloader_p5, batch_size=8)
train_cfg = _base_.router_train_cfg
param_scheduler = []
custom_hooks = _base_.router_custom_hooks
