# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Models of mmdet_dynamic; importing a subpackage registers its modules."""
from . import (backbones, dense_heads, detectors, layers,  # noqa: F401
               losses, necks)
