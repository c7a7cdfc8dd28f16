# YOLOX-L recipe (mosaic/mixup, YOLOXModeSwitchHook, EMA) with the YOLOv7-L
# E-ELAN backbone and mmdet's YOLOXPAFPN neck and YOLOX head: detector-1
# baseline of dy-yolox_eelan-l_300e_coco.
_base_ = 'mmdet::yolox/yolox_l_8xb8-300e_coco.py'
# The one config that does not take ../_base_/default_runtime.py: mmdet's
# YOLOX recipe exists only as a whole config (it already holds mmdet's
# runtime, and mmengine refuses a key that two bases both set), so the
# runtime's two package settings are repeated here.
custom_imports = dict(imports=['mmdet_dynamic'], allow_failed_imports=False)
default_scope = 'mmdet_dynamic'
# The model dict comes from an mmdet:: base, which gives it scope 'mmdet';
# _scope_ puts it (and what it builds) in this package's scope, so that
# backbones and necks of mmdet_dynamic resolve inside it.
model = dict(
    _scope_='mmdet_dynamic',
    backbone=dict(
        _delete_=True,
        type='EELAN',
        arch='L',
        norm_cfg=dict(type='BN', momentum=0.03, eps=0.001)),
    neck=dict(in_channels=[512, 1024, 1024]))
