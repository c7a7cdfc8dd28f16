# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Detectors of mmdet_dynamic, registered in
``mmdet_dynamic.registry.MODELS``."""
from .dynamic_cascade_detector import (DynamicCascadeDetector,
                                       checked_threshold, router_loss,
                                       wrapped_detector_cfg)
from .efficientdet import EfficientDet
from .yolov7 import YOLOv7

__all__ = [
    'DynamicCascadeDetector', 'checked_threshold', 'router_loss',
    'wrapped_detector_cfg', 'YOLOv7', 'EfficientDet'
]
