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
