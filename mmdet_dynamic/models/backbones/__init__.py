# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Backbones of mmdet_dynamic, registered in mmdet.registry.MODELS."""

__all__: list = []
