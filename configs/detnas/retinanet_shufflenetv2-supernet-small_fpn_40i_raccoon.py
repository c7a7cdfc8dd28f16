# DetNAS supernet training in RetinaNet + FPN (the paper's one-stage
# setting): the ShuffleNetV2 one-shot supernet (small space) samples one path
# uniformly per training iteration, the same on every rank. Search it with
#   python tools/search_subnet.py THIS_CONFIG SUPERNET_CKPT --out-dir DIR
_base_ = '../retinanet/retinanet_r18_fpn_40i_raccoon.py'
model = dict(
    backbone=dict(
        _delete_=True, type='ShuffleNetV2Supernet', search_space='small'),
    neck=dict(in_channels=[64, 160, 320, 640]))
# the unsampled choices get no gradient: DDP must allow unused parameters
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
