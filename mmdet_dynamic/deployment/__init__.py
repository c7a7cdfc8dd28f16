# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""ONNX deployment of dynamic detectors: export graphs that keep the
routing (:func:`export_onnx`) and run them in onnxruntime
(:class:`DynamicONNXRunner`). Needs ``onnx`` and ``onnxruntime``; nothing
here is imported by ``import mmdet_dynamic``."""
from .onnx_export import export_onnx, read_metadata
from .onnx_runner import DynamicONNXRunner
from .two_stage_graph import UnsupportedExportError

__all__ = [
    'export_onnx', 'read_metadata', 'DynamicONNXRunner',
    'UnsupportedExportError'
]
