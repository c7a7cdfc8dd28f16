# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Backbones of mmdet_dynamic, registered in ``mmdet.registry.MODELS``."""
from .base_staged_backbone import BaseStagedBackbone
from .eelan import EELAN

__all__ = ['BaseStagedBackbone', 'EELAN']
