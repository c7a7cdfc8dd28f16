# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Detectors of mmdet_dynamic, registered in ``mmdet.registry.MODELS``."""
from .dynamic_cascade_detector import DynamicCascadeDetector

__all__ = ['DynamicCascadeDetector']
