# Dy-YOLOv7-tiny on the bundled BCCD data (3 classes, crowded blood-cell
# images, 320x240) through both phases in one tools/train.py run: the
# raccoon recipe (dy-yolov7_tiny_joint-router_raccoon.py) on BCCD's own split
# (train 205 / val 87 / test 72; `make data`).
_base_ = './dy-yolov7_tiny_joint-router_raccoon.py'

data_root = 'data/bccd/'
metainfo = dict(
    classes=('RBC', 'WBC', 'Platelets'),
    palette=[(220, 20, 60), (106, 0, 228), (0, 182, 0)])
model = dict(detector=dict(bbox_head=dict(num_classes=3)))
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='coco/train.json',
        data_prefix=dict(img='JPEGImages/')))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='coco/val.json',
        data_prefix=dict(img='JPEGImages/')))
test_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='coco/test.json',
        data_prefix=dict(img='JPEGImages/')))
val_evaluator = dict(ann_file=data_root + 'coco/val.json')
test_evaluator = dict(ann_file=data_root + 'coco/test.json')
