# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Hooks of mmdet_dynamic, registered in ``mmdet_dynamic.registry.HOOKS``."""
from .router_training_hook import RouterTrainingHook

__all__ = ['RouterTrainingHook']
