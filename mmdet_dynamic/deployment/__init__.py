# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""ONNX deployment of dynamic detectors: export graphs that keep the
routing (:func:`export_onnx`) and run them in onnxruntime
(:class:`DynamicONNXRunner`). Needs ``onnx`` and ``onnxruntime`` (the
``[deploy]`` extra: ``pip install "mmdet_dynamic[deploy]"``); importing this
package without them stops with that message. Nothing here is imported by
``import mmdet_dynamic``."""
from .requirements import require_deploy_extra

require_deploy_extra()

from .onnx_export import export_onnx, read_metadata  # noqa: E402
from .onnx_runner import DynamicONNXRunner  # noqa: E402
from .two_stage_graph import UnsupportedExportError  # noqa: E402

__all__ = [
    'export_onnx', 'read_metadata', 'DynamicONNXRunner',
    'UnsupportedExportError'
]
