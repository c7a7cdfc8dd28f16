# mmdet's Faster R-CNN R-50 FPN 1x COCO without the ImageNet-pretrained
# backbone (nothing is downloaded): detector-1 baseline of
# dy-faster-rcnn_r50_fpn_1x_coco. Point load_from / init_cfg at a local
# checkpoint to start from pretrained weights.
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['mmdet_dynamic'], allow_failed_imports=False)
default_scope = 'mmdet_dynamic'
# The model dict comes from an mmdet:: base, which gives it scope 'mmdet';
# _scope_ puts it (and what it builds) in this package's scope, so that
# backbones and necks of mmdet_dynamic resolve inside it.
model = dict(_scope_='mmdet_dynamic', backbone=dict(init_cfg=None))
