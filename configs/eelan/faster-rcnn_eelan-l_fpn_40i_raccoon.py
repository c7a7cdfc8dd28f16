# Faster R-CNN with the YOLOv7-L E-ELAN backbone (strides 8, 16, 32 with 512,
# 1024, 1024 channels; the FPN adds P6, P7 so the anchors keep 5 levels).
_base_ = '../faster_rcnn/faster-rcnn_r18_fpn_40i_raccoon.py'
model = dict(
    backbone=dict(_delete_=True, type='EELAN', arch='L'),
    neck=dict(in_channels=[512, 1024, 1024], num_outs=5,
              add_extra_convs='on_output'),
    rpn_head=dict(
        anchor_generator=dict(strides=[8, 16, 32, 64, 128])),
    roi_head=dict(
        bbox_roi_extractor=dict(featmap_strides=[8, 16, 32, 64])))
