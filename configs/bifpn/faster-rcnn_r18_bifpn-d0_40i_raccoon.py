# Faster R-CNN R-18 with a BiFPN-D0 neck (64 channels, 3 repeats, fast
# normalised fusion) instead of FPN; P2-P6 outputs as mmdet's FPN gives.
_base_ = '../faster_rcnn/faster-rcnn_r18_fpn_40i_raccoon.py'
neck_channels = 64
model = dict(
    neck=dict(
        _delete_=True,
        type='BiFPN',
        in_channels=[64, 128, 256, 512],
        out_channels=neck_channels,
        num_outs=5,
        num_repeats=3),
    rpn_head=dict(in_channels=neck_channels, feat_channels=neck_channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=neck_channels),
        bbox_head=dict(in_channels=neck_channels)))
