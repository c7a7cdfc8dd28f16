# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Models of mmdet_dynamic; importing a subpackage registers its modules.
The classes are also reachable here, as in ``mmdet.models``."""
from .backbones import *  # noqa: F401,F403
from .dense_heads import *  # noqa: F401,F403
from .detectors import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
