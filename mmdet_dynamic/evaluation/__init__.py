# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""COCO AP arithmetic shared by the router's targets and the reports."""
from .coco_ap import RECALL_POINTS, image_ap, interpolated_ap

__all__ = ['RECALL_POINTS', 'image_ap', 'interpolated_ap']
