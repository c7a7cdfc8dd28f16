# YOLOv7-E6 (official cfg/training/yolov7-e6.yaml) on COCO, 1280 px, with
# the auxiliary head in training; recipe as yolov7_w6_8xb8-300e_coco.py.
_base_ = './yolov7_w6_8xb8-300e_coco.py'
model = dict(
    backbone=dict(arch='E6'),
    neck=dict(arch='E6', in_channels=[320, 640, 960, 1280]),
    bbox_head=dict(
        in_channels=[320, 640, 960, 1280],
        aux_in_channels=[320, 640, 960, 1280]))
