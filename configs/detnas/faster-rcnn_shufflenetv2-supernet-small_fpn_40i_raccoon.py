# DetNAS supernet training: Faster R-CNN + FPN whose backbone is the
# ShuffleNetV2 one-shot supernet (small space, 20 blocks). Every training
# iteration samples one path uniformly, the same on every rank.
_base_ = '../faster_rcnn/faster-rcnn_r18_fpn_40i_raccoon.py'
model = dict(
    backbone=dict(
        _delete_=True, type='ShuffleNetV2Supernet', search_space='small'),
    neck=dict(in_channels=[64, 160, 320, 640]))
# the unsampled choices get no gradient: DDP must allow unused parameters
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
