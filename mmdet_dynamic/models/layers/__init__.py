# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Shared building blocks of mmdet_dynamic's models."""
from .bifpn_layer import BiFPNLayer
from .neck_inputs import check_neck_inputs
from .rsam import RSAM
from .weighted_fusion import WeightedFusion

__all__ = ['BiFPNLayer', 'RSAM', 'WeightedFusion', 'check_neck_inputs']
