# Dy-DINO (4-scale, ResNet-50), COCO: two DINO detectors in cascade on
# mmdet's own DINO recipe (AdamW lr 1e-4, 12 epochs, step at 11), then 2
# router epochs in the same run (RouterTrainingHook at epoch 12; AdamW lr
# 1e-5, weight decay 5e-3): 14 epochs in all.
#   bash tools/dist_train.sh configs/dynamicdet/dy-dino-4scale_r50_8xb2-14e_coco.py 8
# Each detector runs its own neck (channel mapper), transformer and head on
# its own backbone's features; B2 gets the composite connection. DETR-like
# heads are never shared (share_heads=False). The router learns the
# per-image AP gain (router_target='ap_gain'): mmdet's DINO computes its
# loss in training mode only, so the loss target is refused for it. From
# scratch: mmdet's config starts ResNet-50 from torchvision's checkpoint,
# which it downloads; here init_cfg=None (point it at a local copy).
_base_ = 'mmdet::dino/dino-4scale_r50_8xb2-12e_coco.py'
# mmdet's DINO recipe exists only as a whole config that already holds
# mmdet's runtime (mmengine refuses a key that two bases both set), so the
# package settings of ../_base_/default_runtime.py are repeated here.
custom_imports = dict(imports=['mmdet_dynamic'], allow_failed_imports=False)
default_scope = 'mmdet_dynamic'
visualizer = dict(_scope_='mmdet_dynamic', type='DynamicDetLocalVisualizer')

model = dict(
    _delete_=True,
    _scope_='mmdet_dynamic',
    type='DynamicCascadeDetector',
    backbone=dict(_base_.model.backbone, init_cfg=None),
    detector=dict(_base_.model, backbone=None),
    share_heads=False,
    router_target='ap_gain',
    test_cfg=dict(threshold=0.5))
train_cfg = dict(max_epochs=14)
custom_hooks = [dict(type='RouterTrainingHook', switch_epoch=12)]
find_unused_parameters = True
