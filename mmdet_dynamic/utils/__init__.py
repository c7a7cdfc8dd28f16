# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Utilities of mmdet_dynamic."""
from .atomic_write import (OutputDirError, check_writable_dir, current_umask,
                           write_atomically, write_files_atomically)
from .checkpoint_safety import (history_buffer_getattr, mmengine_safe_globals,
                                register_mmengine_safe_globals)
from .config_check import (check_data_paths, check_router_hook,
                           check_runner_config)
from .config_scope import register_config_scope
from .cpu_distributed import (cpu_wrapper_options, init_cpu_process_group,
                              needs_cpu_distributed)
from .mmdet_tools import (mmdet_tool_path, run_mmdet_tool, tool_command,
                          tool_config)
from .setup_env import register_all_modules
from .strict_checkpoint import (CheckpointMismatchError,
                                build_model_from_config,
                                load_checkpoint_strictly)

__all__ = [
    'history_buffer_getattr', 'mmengine_safe_globals',
    'register_mmengine_safe_globals', 'check_data_paths', 'check_router_hook',
    'check_runner_config', 'register_config_scope', 'cpu_wrapper_options',
    'init_cpu_process_group', 'needs_cpu_distributed', 'mmdet_tool_path',
    'run_mmdet_tool', 'tool_command', 'tool_config', 'register_all_modules',
    'CheckpointMismatchError', 'load_checkpoint_strictly',
    'build_model_from_config',
    'write_atomically', 'write_files_atomically',
    'current_umask', 'check_writable_dir', 'OutputDirError'
]
