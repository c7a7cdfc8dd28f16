# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Weights-only loading of mmengine checkpoints, and what stays refused."""
import collections
import pickle

import numpy as np
import pytest
import torch

import mmdet_dynamic  # noqa: F401  (registers the allow-list)
from mmdet_dynamic.utils import history_buffer_getattr


def _message_hub_state():
    from mmengine.logging import MessageHub
    hub = MessageHub.get_instance('test_checkpoint_safety')
    for i in range(3):
        hub.update_scalar('train/loss', 1.0 / (i + 1))
        hub.update_scalar('train/lr', np.float64(0.01))
    hub.update_info('iter', 3)
    hub.update_info('arr', np.arange(4, dtype=np.int64))
    return hub.state_dict()


# torch.load's weights-only allow-list (add_safe_globals) exists from torch
# 2.4; older torch loads checkpoints unrestricted by default (weights_only
# False), so there is nothing for `import mmdet_dynamic` to register
needs_allow_list = pytest.mark.skipif(
    not hasattr(torch.serialization, 'add_safe_globals'),
    reason='torch < 2.4 has no weights-only allow-list')


@needs_allow_list
def test_loads_message_hub_checkpoint(tmp_path):
    from mmengine.logging import HistoryBuffer
    ckpt = dict(
        meta=dict(epoch=1, iter=3, seed=np.int64(7)),
        empty=HistoryBuffer(),  # empty numpy arrays pickle bytes()
        state_dict=collections.OrderedDict(w=torch.ones(2)),
        message_hub=_message_hub_state())
    path = tmp_path / 'ckpt.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    buf = loaded['message_hub']['log_scalars']['train/loss']
    assert buf.current() == pytest.approx(1 / 3)
    assert buf.mean() == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert loaded['meta']['seed'] == 7
    np.testing.assert_array_equal(loaded['message_hub']['runtime_info']['arr'],
                                  np.arange(4))
    assert torch.equal(loaded['state_dict']['w'], torch.ones(2))


def test_other_globals_still_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, hook=print), path)
    with pytest.raises(pickle.UnpicklingError, match='print'):
        torch.load(path, weights_only=True)


class _GetattrOnOtherObject:
    """Pickles as builtins.getattr(OrderedDict(), 'clear')."""

    def __reduce__(self):
        return getattr, (collections.OrderedDict(), 'clear')


class _GetattrOnBufferNonStatistic:
    """Pickles as builtins.getattr(HistoryBuffer, '__init__')."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return getattr, (HistoryBuffer, '__init__')


@needs_allow_list
@pytest.mark.parametrize('payload',
                         [_GetattrOnOtherObject, _GetattrOnBufferNonStatistic])
def test_getattr_only_for_history_buffer_statistics(tmp_path, payload):
    path = tmp_path / 'getattr.pth'
    torch.save(dict(x=payload()), path)
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(path, weights_only=True)


def test_history_buffer_getattr_direct():
    from mmengine.logging import HistoryBuffer
    buf = HistoryBuffer([1.0, 3.0], [1, 1])
    assert history_buffer_getattr(buf, 'max')() == 3.0
    assert history_buffer_getattr(HistoryBuffer, 'max') is HistoryBuffer.max
    with pytest.raises(pickle.UnpicklingError, match='statistics'):
        history_buffer_getattr(buf, 'update')
    with pytest.raises(pickle.UnpicklingError):
        history_buffer_getattr(object(), 'min')


def test_read_checkpoint_loads_runner_checkpoints_on_any_torch(tmp_path):
    """This package's own loaders use their restricted unpickler whatever
    torch.load's default: an mmengine checkpoint (tensors, message hub,
    numpy) loads in the zip and in the legacy format."""
    from mmdet_dynamic.utils.checkpoint_safety import read_checkpoint
    ckpt = dict(
        meta=dict(epoch=1, iter=3, seed=np.int64(7)),
        state_dict=collections.OrderedDict(w=torch.ones(2).half(),
                                           p=torch.nn.Parameter(
                                               torch.zeros(1))),
        message_hub=_message_hub_state(),
        param_schedulers=[dict(milestones=collections.Counter({3: 1}))])
    for legacy in (False, True):
        path = tmp_path / f'ckpt{legacy}.pth'
        torch.save(ckpt, path, _use_new_zipfile_serialization=not legacy)
        loaded = read_checkpoint(str(path))
        assert loaded['state_dict']['w'].dtype == torch.float16
        assert loaded['meta']['seed'] == 7
        assert loaded['param_schedulers'][0]['milestones'][3] == 1
        buf = loaded['message_hub']['log_scalars']['train/loss']
        assert buf.current() == pytest.approx(1 / 3)


class _Mkdir:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        import os
        return (os.mkdir, (self.path, ))


@pytest.mark.parametrize('legacy', [False, True])
def test_read_checkpoint_refuses_code_naming_file_and_global(tmp_path,
                                                             legacy):
    from mmdet_dynamic.utils.checkpoint_safety import (UnsafeCheckpointError,
                                                       read_checkpoint)
    marker = tmp_path / 'ran'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': _Mkdir(str(marker))}, path,
               _use_new_zipfile_serialization=not legacy)
    with pytest.raises(UnsafeCheckpointError, match=r'evil\.pth.*mkdir'):
        read_checkpoint(str(path))
    assert not marker.exists()


@pytest.mark.parametrize('content,reason', [
    (b'', 'empty'),
    (b'\x00\x01garbage' * 20, 'not a PyTorch checkpoint'),
    ('truncated', 'cannot be read'),
])
def test_read_checkpoint_names_unreadable_files(tmp_path, content, reason):
    from mmdet_dynamic.utils.checkpoint_safety import (CheckpointReadError,
                                                       read_checkpoint)
    path = tmp_path / 'bad.pth'
    if content == 'truncated':
        torch.save({'w': torch.zeros(1000)}, path)
        content = path.read_bytes()[:300]
    path.write_bytes(content)
    with pytest.raises(CheckpointReadError, match=reason) as info:
        read_checkpoint(str(path))
    assert str(path) in str(info.value)
    with pytest.raises(CheckpointReadError, match='not found'):
        read_checkpoint(str(tmp_path / 'missing.pth'))


@pytest.mark.parametrize('core', ['numpy.core.multiarray',
                                  'numpy._core.multiarray'])
def test_numpy_arrays_of_either_numpy_major_load(core):
    """numpy 1.x pickles arrays and scalars as numpy.core.multiarray.*
    (official YOLOv7 checkpoints were written so), numpy 2 as
    numpy._core.multiarray.*: both spellings load, on either numpy."""
    import io

    from mmdet_dynamic.utils.checkpoint_safety import \
        restricted_pickle_module
    obj = {'array': np.arange(6, dtype=np.float32).reshape(2, 3),
           'scalar': np.float64(0.25)}
    data = pickle.dumps(obj, protocol=2)
    for spelling in (b'numpy._core.multiarray', b'numpy.core.multiarray'):
        data = data.replace(spelling, core.encode())
    assert core.encode() in data
    loaded = restricted_pickle_module().load(io.BytesIO(data))
    np.testing.assert_array_equal(loaded['array'], obj['array'])
    assert loaded['scalar'] == 0.25
