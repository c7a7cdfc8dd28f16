# DetNAS supernet training on COCO: Faster R-CNN + FPN on the ShuffleNetV2
# supernet (small space, 20 blocks), mmdet's 1x schedule, from scratch (no
# ImageNet supernet weights are downloaded; point load_from at a local one).
# One uniformly sampled path per iteration, the same on every rank.
_base_ = '../faster_rcnn/faster-rcnn_r50_fpn_scratch_1x_coco.py'
model = dict(
    backbone=dict(
        _delete_=True, type='ShuffleNetV2Supernet', search_space='small'),
    neck=dict(in_channels=[64, 160, 320, 640]))
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
