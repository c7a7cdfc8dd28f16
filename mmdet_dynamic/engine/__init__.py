# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Runner-side components (hooks, model wrappers) of mmdet_dynamic."""
from . import hooks, model_wrappers  # noqa: F401
