# YOLOv7-D6 (official cfg/training/yolov7-d6.yaml) on COCO, 1280 px, with
# the auxiliary head in training; recipe as yolov7_w6_8xb8-300e_coco.py.
_base_ = './yolov7_w6_8xb8-300e_coco.py'
model = dict(
    backbone=dict(arch='D6'),
    neck=dict(arch='D6', in_channels=[384, 768, 1152, 1536]),
    bbox_head=dict(
        in_channels=[384, 768, 1152, 1536],
        aux_in_channels=[384, 768, 1152, 1536]))
