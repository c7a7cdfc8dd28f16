# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""From target latency to hard ratio k and threshold tau (exact values)."""
import numpy as np
import torch
import pytest

from mmdet_dynamic.apis.variable_speed import (expected_latency,
                                               hard_ratio_for_latency,
                                               quantile_grid,
                                               threshold_for_hard_ratio)

# ten scores, deliberately unsorted
SCORES = [0.55, 0.05, 0.95, 0.35, 0.75, 0.15, 0.85, 0.25, 0.65, 0.45]


@pytest.mark.parametrize('target, k', [(10.0, 0.0), (12.5, 0.25),
                                       (15.0, 0.5), (20.0, 1.0)])
def test_hard_ratio_for_latency(target, k):
    got, note = hard_ratio_for_latency(target, lat1=10.0, lat2=20.0)
    assert got == pytest.approx(k) and note is None


def test_target_outside_lat1_lat2_is_clipped_and_said():
    k, note = hard_ratio_for_latency(8.0, 10.0, 20.0)
    assert k == 0.0 and 'below lat1' in note and 'clipped' in note
    k, note = hard_ratio_for_latency(30.0, 10.0, 20.0)
    assert k == 1.0 and 'above lat2' in note and 'clipped' in note


def test_lat2_not_above_lat1_is_an_error():
    with pytest.raises(ValueError, match='must exceed lat1'):
        hard_ratio_for_latency(15.0, 20.0, 20.0)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-np.float64(x)))


@pytest.mark.parametrize(
    'k, edge, hard',
    [
        (0.0, 0.95, 0),  # the largest score: nothing above it
        (0.3, 0.65, 3),  # 0.75, 0.85, 0.95 are hard
        (0.25, 0.75, 2),  # floor(2.5) = 2: the budget is never exceeded
        (0.5, 0.45, 5),
        (0.9, 0.05, 9),
    ])
def test_threshold_for_hard_ratio_exact(k, edge, hard):
    """SCORES are router logits; tau is phi at the last easy logit."""
    from mmdet_dynamic.models.layers import logit_of
    got = threshold_for_hard_ratio(SCORES, k)
    assert got == pytest.approx(_sigmoid(edge), rel=1e-12)
    assert logit_of(got) >= edge
    assert int((np.asarray(SCORES) > logit_of(got)).sum()) == hard
    assert threshold_for_hard_ratio(SCORES, 1.0) == 0.0  # every image hard


def test_threshold_separates_saturated_scores_by_their_logits():
    """Logits 18, 20, 25, 30 all give phi = 1.0 in float32; a threshold
    on phi could not split them. On the logits, 2 of 5 are hard at k = 0.4,
    and the model's rule routes exactly those."""
    import math

    from mmdet_dynamic.models.layers import logit_of
    from mmdet_dynamic.models.detectors import DynamicCascadeDetector
    logits = [20.0, 25.0, 30.0, 18.0, -3.0]
    assert torch.tensor(logits).sigmoid()[:4].eq(1.0).all()
    tau = threshold_for_hard_ratio(logits, 0.4)
    assert 0.0 < tau < 1.0
    fake = type('M', (), dict(test_cfg=dict(threshold=tau)))()
    edge = DynamicCascadeDetector.logit_threshold(fake)
    assert edge == logit_of(tau) and math.isfinite(edge)
    hard = torch.tensor(logits).double() > edge
    assert hard.tolist() == [False, True, True, False, False]
    # ties at the edge stay on one side: at most floor(k n) hard
    tied = [20.0, 20.0, 25.0, 30.0, 18.0]
    tau = threshold_for_hard_ratio(tied, 0.6)  # 3 allowed, 2 above a tie
    assert sum(x > logit_of(tau) for x in tied) == 2


def test_threshold_errors():
    with pytest.raises(ValueError, match='no difficulty scores'):
        threshold_for_hard_ratio([], 0.5)
    with pytest.raises(ValueError, match=r'\[0, 1\]'):
        threshold_for_hard_ratio(SCORES, 1.5)


def test_expected_latency_and_grid():
    assert expected_latency(0.25, 10.0, 20.0) == 12.5
    grid = quantile_grid(SCORES, 10.0, 20.0, ratios=(0.0, 0.3, 1.0))
    assert [r['threshold'] for r in grid] == pytest.approx(
        [_sigmoid(0.95), _sigmoid(0.65), 0.0], rel=1e-12)
    assert [r['realised_hard_ratio'] for r in grid] == [0.0, 0.3, 1.0]
    assert [r['expected_latency'] for r in grid] == pytest.approx(
        [10.0, 13.0, 20.0])


def test_route_timing_synchronises_the_device_before_each_clock_read(
        monkeypatch):
    """On an accelerator the clock is read only after the queued kernels
    finished: synchronize runs right before both perf_counter reads."""
    from mmdet_dynamic.apis import variable_speed as vs
    events = []
    monkeypatch.setattr(vs, 'synchronize',
                        lambda device: events.append('sync'))
    clock = iter([10.0, 10.25])
    monkeypatch.setattr(vs.time, 'perf_counter',
                        lambda: events.append('clock') or next(clock))

    class Model(torch.nn.Module):

        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))
            self.test_cfg = dict(threshold=0.3)

        def set_threshold(self, t):
            self.test_cfg['threshold'] = t

        def test_step(self, data):
            events.append(f"run at {self.test_cfg['threshold']}")
            return ['out']

    model = Model()
    out, seconds = vs.timed_route(model, {}, 'hard')
    assert out == ['out'] and seconds == 0.25
    assert events == ['sync', 'clock', 'run at 0.0', 'sync', 'clock']
    assert model.test_cfg['threshold'] == 0.3  # restored


def test_synchronize_calls_the_accelerator_but_not_on_cpu(monkeypatch):
    from mmdet_dynamic.apis import variable_speed as vs
    calls = []
    # torch >= 2.6: the generic accelerator API; older torch: torch.cuda
    owner = getattr(torch, 'accelerator', torch.cuda)
    monkeypatch.setattr(owner, 'synchronize', calls.append)
    vs.synchronize(torch.device('cpu'))
    assert calls == []
    vs.synchronize(torch.device('cuda', 0))
    assert calls == [torch.device('cuda', 0)]


def test_resolve_device_defaults_and_refusals(monkeypatch):
    from mmdet_dynamic.apis.variable_speed import resolve_device
    expected = 'cuda' if torch.cuda.is_available() else 'cpu'
    assert resolve_device(None) == expected
    assert resolve_device('cpu') == 'cpu'
    with pytest.raises(ValueError, match="'gpu0' is not a device name"):
        resolve_device('gpu0')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    assert resolve_device(None) == 'cpu'
    with pytest.raises(ValueError, match='CUDA is not available'):
        resolve_device('cuda:0')
