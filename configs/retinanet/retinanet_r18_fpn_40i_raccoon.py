# RetinaNet R-18 FPN on the bundled raccoon data, from scratch, 40 iterations
# on CPU. Single-stage baseline for the BiFPN / RSAFPN neck configs.
# To start from your own weights: --cfg-options load_from=/path/to/ckpt.pth
_base_ = [
    'mmdet::_base_/models/retinanet_r50_fpn.py',
    '../_base_/datasets/raccoon_detection.py',
    '../_base_/schedules/schedule_iter_cpu.py',
    '../_base_/default_runtime_iter.py',
]

# The model dict comes from an mmdet:: base, which gives it scope 'mmdet';
# _scope_ puts it (and what it builds) in this package's scope, so that
# backbones and necks of mmdet_dynamic resolve inside it.
model = dict(
    _scope_='mmdet_dynamic',
    backbone=dict(depth=18, frozen_stages=-1, norm_eval=False, init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512]),
    bbox_head=dict(num_classes=1))
optim_wrapper = dict(optimizer=dict(lr=0.01))
