# RetinaNet R-18 with an RSAFPN neck on C3-C5 and two extra stride-2 convs.
_base_ = '../retinanet/retinanet_r18_fpn_40i_raccoon.py'
neck_channels = 128
model = dict(
    neck=dict(
        _delete_=True,
        type='RSAFPN',
        in_channels=[64, 128, 256, 512],
        out_channels=neck_channels,
        start_level=1,
        num_outs=5,
        add_extra_convs=True),
    bbox_head=dict(in_channels=neck_channels, feat_channels=neck_channels))
