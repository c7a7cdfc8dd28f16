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

This package's own loaders (its tools' strict loading, the official
YOLOv7 converter) do not depend on the torch version's default:
:func:`read_checkpoint` unpickles every file, whatever its format (torch's
zip archive, its legacy format, a legacy tar archive or a bare pickle),
with :class:`RestrictedUnpickler`, which allows exactly
:func:`checkpoint_globals` (tensors, containers, numpy arrays, mmengine's
``HistoryBuffer``) and refuses any other global, naming it, before it is
called. A file that is none of those formats is refused before anything
is unpickled. This holds on torch 1.13 to 2.x alike.
"""
import builtins
import functools
import io
import pickle
import tarfile
import zipfile
from collections import Counter, OrderedDict
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

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


def numpy_globals() -> List[SafeGlobal]:
    """numpy globals needed to rebuild arrays, scalars and dtypes.

    The array and scalar rebuilders are allowed under both of numpy's
    module names: numpy 1.x pickles them as ``numpy.core.multiarray.*``
    (official YOLOv7 checkpoints were written so), numpy 2 as
    ``numpy._core.multiarray.*``; either numpy reads both (1.26 has the
    ``numpy._core`` alias, 2.x keeps ``numpy.core``)."""
    try:  # numpy >= 1.26
        from numpy._core import multiarray
    except ImportError:  # older numpy 1.x
        from numpy.core import multiarray
    dtype_classes = {
        type(np.dtype(t))
        for t in (bool, np.int8, np.int16, np.int32, np.int64, np.uint8,
                  np.uint16, np.uint32, np.uint64, np.float16, np.float32,
                  np.float64, np.longdouble, np.complex64, np.complex128,
                  np.str_, np.bytes_)
    }
    rebuilders = [(getattr(multiarray, name), f'{core}.{name}')
                  for core in ('numpy.core.multiarray',
                               'numpy._core.multiarray')
                  for name in ('_reconstruct', 'scalar')]
    return [np.ndarray, np.dtype, *sorted(dtype_classes, key=str),
            *rebuilders]


def mmengine_safe_globals() -> List[SafeGlobal]:
    """Everything that mmengine 0.10.7's runner pickles into a checkpoint.

    Returns:
        list: Entries for :func:`torch.serialization.add_safe_globals`.
    """
    return [
        _history_buffer_cls(),
        (history_buffer_getattr, 'builtins.getattr'),
        (bytes, 'builtins.bytes'),
        *numpy_globals(),
    ]


def register_mmengine_safe_globals() -> None:
    """Allow-list :func:`mmengine_safe_globals` for weights-only loading.

    Called by ``import mmdet_dynamic``; calling it again is harmless.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch < 2.4 has no weights-only allow-list
        add(mmengine_safe_globals())


# ------------------------------------------------------- restricted loading
class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """A checkpoint pickles a global that is not on the allow-list: it
    could run code if loaded the ordinary way. Nothing of it was run. (A
    ``ValueError`` too: the tools report bad input files as such.)"""


class CheckpointReadError(ValueError):
    """A checkpoint file is missing, empty, not in a checkpoint format, or
    truncated (the message names the file)."""


def _global_name(obj: Any, spelled: Optional[str] = None) -> Tuple[str, str]:
    if spelled:
        module, _, name = spelled.rpartition('.')
        return module, name
    return obj.__module__, obj.__qualname__


@functools.lru_cache(maxsize=None)
def checkpoint_globals() -> Dict[Tuple[str, str], Any]:
    """What a checkpoint of weights may reference: torch's tensor, storage
    and dtype rebuilders, containers, numpy arrays and scalars, and what
    mmengine's runner writes (:func:`mmengine_safe_globals`).

    Returns:
        dict: ``(module, name)`` -> the object the unpickler returns.
    """
    import torch
    out: Dict[Tuple[str, str], Any] = {
        ('collections', 'OrderedDict'): OrderedDict,
        ('collections', 'Counter'): Counter,
        ('torch', 'Size'): torch.Size,
        ('torch', 'Tensor'): torch.Tensor,
        ('torch', 'device'): torch.device,
        ('torch.nn.parameter', 'Parameter'): torch.nn.Parameter,
        ('_codecs', 'encode'): __import__('codecs').encode,
    }
    for name in ('set', 'frozenset', 'slice', 'bytearray', 'bytes',
                 'complex'):
        out[('builtins', name)] = getattr(builtins, name)
    for name in ('_rebuild_tensor', '_rebuild_tensor_v2', '_rebuild_tensor_v3',
                 '_rebuild_parameter', '_rebuild_parameter_with_state'):
        if hasattr(torch._utils, name):
            out[('torch._utils', name)] = getattr(torch._utils, name)
    if hasattr(torch._tensor, '_rebuild_from_type_v2'):
        out[('torch._tensor', '_rebuild_from_type_v2')] = \
            torch._tensor._rebuild_from_type_v2
    for name in dir(torch):
        value = getattr(torch, name, None)
        if isinstance(value, torch.dtype):
            out[('torch', name)] = value
    for entry in mmengine_safe_globals():
        obj, spelled = entry if isinstance(entry, tuple) else (entry, None)
        out[_global_name(obj, spelled)] = obj
    return out


_PY2_MODULES = {'__builtin__': 'builtins', 'copy_reg': 'copyreg'}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only allow-listed globals.

    Subclasses (or :func:`restricted_pickle_module`) set ``allowed`` (a
    dict ``(module, name) -> object``) and optionally ``resolve``, a
    function ``(module, name) -> object or None`` for globals computed on
    the fly (the official YOLOv7 converter's inert stand-ins). Anything
    else raises :class:`UnsafeCheckpointError` naming the global, before
    it is called.
    """
    allowed: Dict[Tuple[str, str], Any] = {}
    resolve: Optional[Callable[[str, str], Any]] = None
    refusal: str = ('a checkpoint of weights holds only tensors, '
                    'containers, numpy arrays and mmengine\'s logs')

    def find_class(self, module: str, name: str) -> Any:
        # protocol-2 pickles (torch's) spell builtins the Python 2 way
        module = _PY2_MODULES.get(module, module)
        if (module, name) in self.allowed:
            return self.allowed[(module, name)]
        resolved = type(self).resolve(module, name) \
            if type(self).resolve is not None else None
        if resolved is not None:
            return resolved
        raise UnsafeCheckpointError(
            f'refusing to unpickle the global {module}.{name}: '
            f'{self.refusal}. This file may run code when loaded the '
            'ordinary way; it was not loaded.')


def restricted_pickle_module(
        allowed: Optional[Dict[Tuple[str, str], Any]] = None,
        resolve: Optional[Callable[[str, str], Any]] = None,
        refusal: Optional[str] = None):
    """A ``pickle_module`` for ``torch.load`` whose ``Unpickler`` *and*
    ``load`` (torch's legacy format calls ``load`` for its header and tar
    members) are restricted to ``allowed`` (default
    :func:`checkpoint_globals`) and ``resolve``."""
    attrs = dict(allowed=dict(allowed or checkpoint_globals()),
                 resolve=staticmethod(resolve) if resolve else None)
    if refusal:
        attrs['refusal'] = refusal
    unpickler = type('CheckpointUnpickler', (RestrictedUnpickler, ), attrs)

    def load(file, **kwargs):
        return unpickler(file, **kwargs).load()

    def loads(data, **kwargs):
        return load(io.BytesIO(data), **kwargs)

    return type('restricted_pickle', (), dict(
        Unpickler=unpickler, load=staticmethod(load),
        loads=staticmethod(loads), __name__='restricted_pickle'))


def _checkpoint_format(path: str) -> str:
    """``'zip'``, ``'tar'`` or ``'pickle'`` (torch's legacy format and bare
    pickles start with a pickle protocol opcode), read from the file's
    first bytes without unpickling anything.

    Raises:
        CheckpointReadError: If the file is missing, empty or none of them.
    """
    import os.path as osp
    if not osp.isfile(path):
        raise CheckpointReadError(f'checkpoint not found: {path}')
    with open(path, 'rb') as f:
        head = f.read(2)
    if not head:
        raise CheckpointReadError(f'{path}: the file is empty (0 bytes), '
                                  'not a checkpoint')
    if head == b'PK':  # a zip archive, perhaps damaged: torch says how
        return 'zip'
    if tarfile.is_tarfile(path):
        return 'tar'
    if head[0] == 0x80 and 2 <= head[1] <= pickle.HIGHEST_PROTOCOL:
        return 'pickle'
    raise CheckpointReadError(
        f'{path}: not a PyTorch checkpoint (neither a zip archive, a tar '
        f'archive nor a pickle: it starts with {head!r}); nothing was read')


def read_checkpoint(path: str,
                    map_location: Any = 'cpu',
                    pickle_module=None) -> Any:
    """Load a checkpoint file without running code from it, on any torch.

    Every format torch reads goes through a restricted unpickler
    (``pickle_module``, default :func:`restricted_pickle_module` over
    :func:`checkpoint_globals`); other files are refused first.

    Raises:
        CheckpointReadError: Missing, empty, foreign or truncated file
            (named).
        UnsafeCheckpointError: The file pickles a global not allowed
            (named, with the file).
    """
    import torch
    _checkpoint_format(path)
    try:
        return torch.load(
            path,
            map_location=map_location,
            weights_only=False,
            pickle_module=pickle_module or restricted_pickle_module())
    except UnsafeCheckpointError as e:
        raise UnsafeCheckpointError(f'{path}: {e}') from None
    except (EOFError, pickle.UnpicklingError, RuntimeError, ValueError,
            zipfile.BadZipFile, tarfile.TarError, KeyError, IndexError,
            TypeError, AttributeError) as e:
        raise CheckpointReadError(
            f'{path}: cannot be read as a checkpoint (truncated or '
            f'damaged?): {type(e).__name__}: {e}') from None
