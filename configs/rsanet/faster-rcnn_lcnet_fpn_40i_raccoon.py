# Faster R-CNN with RSANet's LCNet backbone (out_indices 1-4: strides 4-32,
# 128/192/256/352 channels) and mmdet's FPN, on the bundled raccoon data.
_base_ = '../faster_rcnn/faster-rcnn_r18_fpn_40i_raccoon.py'
model = dict(
    backbone=dict(_delete_=True, type='LCNet', out_indices=(1, 2, 3, 4)),
    neck=dict(in_channels=[128, 192, 256, 352]))
