# DetNAS-300M subnet (the paper's searched FPN architecture) retrained in
# Faster R-CNN + FPN: only the chosen ops exist. To start from supernet
# weights, extract them first (mmdet_dynamic.models.backbones.
# extract_subnet_state_dict) and pass --cfg-options load_from=PATH.
_base_ = '../faster_rcnn/faster-rcnn_r18_fpn_40i_raccoon.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='ShuffleNetV2Supernet',
        search_space='small',
        arch='2,1,2,0,2,1,1,2,3,3,1,3,0,0,3,1,3,1,3,2'),
    neck=dict(in_channels=[64, 160, 320, 640]))
