# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Load mmengine checkpoints under ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` unpickles with ``weights_only=True`` by default
and refuses every global that is not allow-listed. mmengine 0.10.7's runner
writes, besides tensors, its ``MessageHub`` state: ``HistoryBuffer`` objects
holding numpy arrays and scalars. Its statistics methods are pickled too,
which pickle reduces to ``builtins.getattr(HistoryBuffer, 'min')``.
Loading such a checkpoint therefore fails with::

    Weights only load failed ... Unsupported global:
    GLOBAL mmengine.logging.history_buffer.HistoryBuffer

This module allow-lists exactly what mmengine writes and nothing else:

* ``mmengine.logging.HistoryBuffer``;
* numpy's array and scalar reconstruction (``ndarray``, ``_reconstruct``,
  ``scalar``, ``dtype`` and the concrete dtype classes);
* ``builtins.bytes`` (numpy pickles an empty array's data as ``bytes()``),
  as harmless as the ``bytearray`` torch allows by default;
* ``builtins.getattr`` **replaced** by :func:`history_buffer_getattr`, which
  only returns a ``HistoryBuffer``'s registered statistics methods. Allowing
  the real ``getattr`` would reopen arbitrary code execution
  (``getattr(os, 'system')``), so any other use is refused.

Weights-only loading stays on: a checkpoint that pickles any other global (a
function, a class of yours) is still refused by torch with an
``UnpicklingError`` that names the global.
"""
import pickle
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import torch

_DEFAULT_STATISTICS = frozenset({'min', 'max', 'mean', 'current'})
SafeGlobal = Union[Callable, Tuple[Callable, str]]


def _history_buffer_cls() -> type:
    from mmengine.logging import HistoryBuffer
    return HistoryBuffer


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stand-in for ``builtins.getattr`` while unpickling a checkpoint.

    mmengine's checkpoints pickle ``HistoryBuffer.min`` (and ``max``,
    ``mean``, ``current``) as ``getattr(HistoryBuffer, 'min')``; a bound
    method would be ``getattr(buffer, 'min')``. Both are allowed.

    Args:
        obj: The object the pickle asks an attribute of.
        name (str): The attribute name.

    Returns:
        The bound statistics method ``obj.<name>``.

    Raises:
        pickle.UnpicklingError: If ``obj`` is not a ``HistoryBuffer`` or
            ``name`` is not one of its registered statistics methods.
    """
    history_buffer = _history_buffer_cls()
    allowed = _DEFAULT_STATISTICS | set(history_buffer._statistics_methods)
    is_buffer = obj is history_buffer or isinstance(obj, history_buffer)
    if is_buffer and isinstance(name, str) and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'Refusing builtins.getattr({type(obj).__name__}, {name!r}) in a '
        'weights-only checkpoint: mmdet_dynamic only allows getattr on a '
        'mmengine HistoryBuffer for its statistics methods '
        f'{sorted(allowed)}. If you trust this file, load it with '
        'torch.load(..., weights_only=False).')


def _numpy_globals() -> List[SafeGlobal]:
    """numpy globals needed to rebuild arrays, scalars and dtypes."""
    try:  # numpy >= 2
        from numpy._core import multiarray
        core = 'numpy._core.multiarray'
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
        core = 'numpy.core.multiarray'
    dtype_classes = {
        type(np.dtype(t))
        for t in (bool, np.int8, np.int16, np.int32, np.int64, np.uint8,
                  np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                  np.float64, np.longdouble, np.complex64, np.complex128,
                  np.str_, np.bytes_)
    }
    return [
        np.ndarray, np.dtype, *sorted(dtype_classes, key=str),
        (multiarray._reconstruct, f'{core}._reconstruct'),
        (multiarray.scalar, f'{core}.scalar'),
    ]


def mmengine_safe_globals() -> List[SafeGlobal]:
    """Everything that mmengine 0.10.7's runner pickles into a checkpoint.

    Returns:
        list: Entries for :func:`torch.serialization.add_safe_globals`.
    """
    return [
        _history_buffer_cls(),
        (history_buffer_getattr, 'builtins.getattr'),
        (bytes, 'builtins.bytes'),
        *_numpy_globals(),
    ]


def register_mmengine_safe_globals() -> None:
    """Allow-list :func:`mmengine_safe_globals` for weights-only loading.

    Called by ``import mmdet_dynamic``; calling it again is harmless.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch < 2.4 has no weights-only allow-list
        add(mmengine_safe_globals())
