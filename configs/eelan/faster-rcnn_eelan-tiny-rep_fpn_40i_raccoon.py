# Faster R-CNN with a YOLOv7-tiny E-ELAN backbone whose ELAN chain convs are
# RepConvN (fuse them for deployment with
# tools/model_converters/reparameterize.py). out_indices (1, 2, 3, 4) gives
# strides 4-32 with 64-512 channels, the same layout as ResNet-18.
_base_ = '../faster_rcnn/faster-rcnn_r18_fpn_40i_raccoon.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='EELAN',
        arch='tiny',
        out_indices=(1, 2, 3, 4),
        use_repconv=True),
    neck=dict(in_channels=[64, 128, 256, 512]))
