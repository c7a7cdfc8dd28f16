# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Visualisers of mmdet_dynamic, registered in its ``VISUALIZERS``."""
from .dynamic_det_local_visualizer import DynamicDetLocalVisualizer

__all__ = [DynamicDetLocalVisualizer]
