# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Losses of mmdet_dynamic, registered in ``mmdet_dynamic.registry.MODELS``."""
from .yolov7_ota_loss import YOLOv7OTALoss, ciou_xywh

__all__ = ['YOLOv7OTALoss', 'ciou_xywh']
