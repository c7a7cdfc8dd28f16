# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Runner-side components (hooks) of mmdet_dynamic."""
from . import hooks  # noqa: F401
