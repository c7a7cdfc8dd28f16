# YOLOv7-E6E (official cfg/training/yolov7-e6e.yaml) on COCO, 1280 px, with
# the auxiliary head in training; recipe as yolov7_w6_8xb8-300e_coco.py.
_base_ = './yolov7_w6_8xb8-300e_coco.py'
model = dict(
    backbone=dict(arch='E6E'),
    neck=dict(arch='E6E', in_channels=[320, 640, 960, 1280]),
    bbox_head=dict(
        in_channels=[320, 640, 960, 1280],
        aux_in_channels=[320, 640, 960, 1280]))
