# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Utilities of mmdet_dynamic."""
from .checkpoint_safety import (history_buffer_getattr, mmengine_safe_globals,
                                register_mmengine_safe_globals)
from .config_check import check_data_paths
from .config_scope import register_config_scope
from .mmdet_tools import (checked_runner_configs, mmdet_tool_path,
                          run_mmdet_tool)

__all__ = [
    'history_buffer_getattr', 'mmengine_safe_globals',
    'register_mmengine_safe_globals', 'check_data_paths',
    'register_config_scope',
    'checked_runner_configs', 'mmdet_tool_path', 'run_mmdet_tool'
]
