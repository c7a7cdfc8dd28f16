# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Necks of mmdet_dynamic, registered in
``mmdet_dynamic.registry.MODELS``."""
from .bifpn import BiFPN
from .rsafpn import RSAFPN

__all__ = ['BiFPN', 'RSAFPN']
