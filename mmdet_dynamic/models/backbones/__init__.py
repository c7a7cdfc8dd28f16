# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Backbones of mmdet_dynamic, registered in
``mmdet_dynamic.registry.MODELS``."""
from .base_staged_backbone import BaseStagedBackbone
from .eelan import EELAN
from .lcnet import LCNet
from .shufflenetv2_supernet import (ShuffleNetV2Supernet,
                                    extract_subnet_state_dict, parse_arch)

__all__ = [
    'BaseStagedBackbone', 'EELAN', 'LCNet', 'ShuffleNetV2Supernet',
    'extract_subnet_state_dict', 'parse_arch'
]
