# Dy-YOLO, COCO 300e: two YOLOX detectors with YOLOv7-L E-ELAN backbones,
# each with its own YOLOXPAFPN neck and YOLOX head (DynamicDet's YOLO
# setting), on mmdet's YOLOX-L recipe. YOLOXModeSwitchHook reaches both heads
# through the cascade's `bbox_head`; EMAHook and SyncNormHook work as usual.
_base_ = '../eelan/yolox_eelan-l_8xb8-300e_coco.py'
# The wrapped detector as its config stands, its backbone given once, at
# model.backbone (where mmdet's tools such as init_detector look for it).
model = dict(
    _delete_=True,
    type='DynamicCascadeDetector',
    backbone=_base_.model.backbone,
    detector=dict(_base_.model, backbone=None),
    share_heads=False,
    test_cfg=dict(threshold=0.5))
# Under DDP some parameters get no gradient in each phase (the router in the
# joint phase, both detectors in the router phase).
find_unused_parameters = True
# Drawn results (tools/test.py --show-dir, DetInferencer) show each image's
# route and difficulty score.
visualizer = dict(_scope_='mmdet_dynamic', type='DynamicDetLocalVisualizer')
