# YOLOv7-X (official cfg/training/yolov7x.yaml, hyp.scratch.p5.yaml) on
# COCO, 640 px. Same recipe as yolov7_l_8xb16-300e_coco.py.
_base_ = './yolov7_l_8xb16-300e_coco.py'
model = dict(
    backbone=dict(arch='X'),
    neck=dict(arch='X', in_channels=[640, 1280, 1280]),
    bbox_head=dict(in_channels=[320, 640, 1280]))
