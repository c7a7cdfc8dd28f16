# Dy-RTMDet-tiny, COCO 300e: two RTMDet-tiny detectors (CSPNeXt-tiny,
# CSPNeXtPAFPN, RTMDetSepBNHead) in cascade, each with its own neck and head
# (DynamicDet's YOLO setting), on mmdet's own RTMDet-tiny recipe (cached
# mosaic / mixup, PipelineSwitchHook at epoch 280, EMA), joint phase:
#   bash tools/dist_train.sh configs/dynamicdet/dy-rtmdet_tiny_8xb32-300e_coco.py 8
# The router phase is a separate config, as the paper's YOLO recipe (no
# mosaic, no EMA): dy-rtmdet_tiny_router-2e_coco.py. From scratch: mmdet's
# config starts CSPNeXt from an ImageNet checkpoint it downloads; here
# init_cfg=None (point it at a local copy to start from it).
_base_ = 'mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py'
# mmdet's RTMDet recipe exists only as a whole config that already holds
# mmdet's runtime (mmengine refuses a key that two bases both set), so the
# package settings of ../_base_/default_runtime.py are repeated here.
custom_imports = dict(imports=['mmdet_dynamic'], allow_failed_imports=False)
default_scope = 'mmdet_dynamic'
visualizer = dict(_scope_='mmdet_dynamic', type='DynamicDetLocalVisualizer')

# The wrapped detector as mmdet's config gives it; B1's backbone (also B2's)
# at model.backbone, where mmdet's tools look for it.
model = dict(
    _delete_=True,
    _scope_='mmdet_dynamic',
    type='DynamicCascadeDetector',
    backbone=dict(_base_.model.backbone, init_cfg=None),
    detector=dict(_base_.model, backbone=None),
    share_heads=False,
    test_cfg=dict(threshold=0.5))
# Under DDP some parameters get no gradient in each phase (the router in the
# joint phase, both detectors in the router phase).
find_unused_parameters = True
