# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Models of mmdet_dynamic; importing a subpackage registers its modules."""
from . import backbones, detectors, layers, necks  # noqa: F401
