# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""What deployment needs beyond the package's own requirements."""
import importlib.util

DEPLOY_PACKAGES = ('onnx', 'onnxruntime')


def require_deploy_extra() -> None:
    """Check that onnx and onnxruntime can be imported.

    Raises:
        ImportError: Naming the missing packages and the ``[deploy]`` extra
            that installs them.
    """
    missing = [name for name in DEPLOY_PACKAGES
               if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f'ONNX deployment needs {" and ".join(missing)}, which '
            'this environment lacks: pip install "mmdet_dynamic[deploy]" '
            '(or pip install onnx onnxruntime)')
