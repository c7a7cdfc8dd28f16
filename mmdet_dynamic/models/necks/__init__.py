# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Necks of mmdet_dynamic, registered in
``mmdet_dynamic.registry.MODELS``."""
from .bifpn import BiFPN
from .rsafpn import RSAFPN
from .yolov7_pafpn import YOLOv7PAFPN

__all__ = ['BiFPN', 'RSAFPN', 'YOLOv7PAFPN']
