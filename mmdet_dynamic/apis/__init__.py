# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""High-level helpers of mmdet_dynamic (model conversion, ...)."""
from .reparameterize import reparameterize_checkpoint

__all__ = ['reparameterize_checkpoint']
