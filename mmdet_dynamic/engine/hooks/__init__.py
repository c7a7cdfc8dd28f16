# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Hooks of mmdet_dynamic, registered in ``mmdet.registry.HOOKS``."""

__all__: list = []
