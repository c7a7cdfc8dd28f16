# RetinaNet R-18 with a BiFPN-D0 neck on C3-C5 plus P6, P7 (strides 8-128),
# as EfficientDet uses it.
_base_ = '../retinanet/retinanet_r18_fpn_40i_raccoon.py'
neck_channels = 64
model = dict(
    neck=dict(
        _delete_=True,
        type='BiFPN',
        in_channels=[64, 128, 256, 512],
        start_level=1,
        num_outs=5,
        arch='D0'),
    bbox_head=dict(in_channels=neck_channels, feat_channels=neck_channels))
