# mmdet's Faster R-CNN R-50 FPN 1x COCO without the ImageNet-pretrained
# backbone (nothing is downloaded): detector-1 baseline of
# dy-faster-rcnn_r50_fpn_1x_coco. Point load_from / init_cfg at a local
# checkpoint to start from pretrained weights.
# The same parts as mmdet's faster-rcnn_r50_fpn_1x_coco.py, with this
# package's runtime in place of mmdet's.
_base_ = [
    'mmdet::_base_/models/faster-rcnn_r50_fpn.py',
    'mmdet::_base_/datasets/coco_detection.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime.py',
]
# The model dict comes from an mmdet:: base, which gives it scope 'mmdet';
# _scope_ puts it (and what it builds) in this package's scope, so that
# backbones and necks of mmdet_dynamic resolve inside it.
model = dict(_scope_='mmdet_dynamic', backbone=dict(init_cfg=None))
