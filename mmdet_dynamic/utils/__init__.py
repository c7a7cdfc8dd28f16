# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Utilities of mmdet_dynamic."""
from .checkpoint_safety import (history_buffer_getattr, mmengine_safe_globals,
                                register_mmengine_safe_globals)
from .config_check import (check_data_paths, check_router_hook,
                           check_runner_config)
from .config_scope import register_config_scope
from .cpu_distributed import enable_cpu_distributed
from .mmdet_tools import (checked_runner_configs, mmdet_tool_path,
                          run_mmdet_tool)

__all__ = [
    'history_buffer_getattr', 'mmengine_safe_globals',
    'register_mmengine_safe_globals', 'check_data_paths', 'check_router_hook',
    'check_runner_config', 'register_config_scope', 'enable_cpu_distributed',
    'checked_runner_configs', 'mmdet_tool_path', 'run_mmdet_tool'
]
