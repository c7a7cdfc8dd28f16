# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Dense heads of mmdet_dynamic, registered in
``mmdet_dynamic.registry.MODELS``."""
from .efficientdet_sep_bn_head import EfficientDetSepBNHead
from .yolov7_head import YOLOv7Head

__all__ = ['YOLOv7Head', 'EfficientDetSepBNHead']
