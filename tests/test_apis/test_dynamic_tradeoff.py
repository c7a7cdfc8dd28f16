# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The trade-off report's oracle router and paired bootstrap, on hand-made
cases whose answers are known."""
import numpy as np
import pytest

from mmdet_dynamic.apis.dynamic_tradeoff import oracle_order, reading


def test_oracle_sends_hard_the_images_detector_2_helps_most():
    ap_easy = np.array([0.5, 0.2, 0.9, 0.1, 0.3])
    ap_hard = np.array([0.6, 0.8, 0.7, 0.1, 0.6])
    # gains 0.1, 0.6, -0.2, 0.0, 0.3: hardest first, ties in input order
    assert oracle_order(ap_easy, ap_hard).tolist() == [1, 4, 0, 3, 2]
    assert oracle_order([0.5, 0.5], [0.5, 0.5]).tolist() == [0, 1]


def test_reading_says_tie_or_win():
    base = dict(hard_ratio=0.5, router_minus_random=0.01,
                oracle_gain_share=0.25)
    assert 'tie' in reading([dict(base, ci_low=-0.01, ci_high=0.03)])
    assert 'router beats' in reading([dict(base, ci_low=0.002,
                                           ci_high=0.03)])
    assert 'random split beats' in reading(
        [dict(base, router_minus_random=-0.02, ci_low=-0.03,
              ci_high=-0.01)])


def _image(scores, matched, num_gt, category=0):
    """Per-image matches as COCOeval gives them, for one category: the
    same match at all 10 IoU thresholds."""
    scores = np.asarray(scores, dtype=np.float64)
    m = np.tile(np.asarray(matched, dtype=bool), (10, 1))
    return {category: dict(scores=scores, matched=m,
                           ignored=np.zeros_like(m), num_gt=num_gt)}


def test_pooled_ap_known_cases():
    from mmdet_dynamic.apis.coco_bootstrap import pooled_ap
    hit = _image([0.9], [True], 1)
    miss = _image([0.8], [False], 1)
    assert pooled_ap([hit]) == pytest.approx(dict(mAP=1.0, mAP_50=1.0))
    assert pooled_ap([miss])['mAP'] == 0.0
    # TP at 0.9 then FP at 0.8, 2 ground truths: precision 1 up to recall
    # 0.5, so 51 of the 101 recall points
    assert pooled_ap([hit, miss])['mAP'] == pytest.approx(51 / 101)
    # an image drawn twice counts twice (what a bootstrap resample needs):
    # 3 ground truths, precision 1 up to recall 2/3, 67 recall points
    assert pooled_ap([hit, hit, miss])['mAP'] == pytest.approx(67 / 101)
    assert pooled_ap([None, hit]) == pooled_ap([hit])
    assert pooled_ap([]) == dict(mAP=0.0, mAP_50=0.0)
    # two categories are averaged, not pooled: mean(1, 0), not 51 / 101
    other_miss = _image([0.8], [False], 1, category=1)
    assert pooled_ap([hit, other_miss])['mAP'] == pytest.approx(0.5)


def test_bootstrap_ap_difference_known_cases():
    from mmdet_dynamic.apis.coco_bootstrap import bootstrap_ap_difference
    hit = _image([0.9], [True], 1)
    miss = _image([0.8], [False], 1)
    # the same split on both sides: every resample differs by 0
    assert bootstrap_ap_difference([hit, miss] * 5, [[hit, miss] * 5],
                                   num_samples=50) == (0.0, 0.0, 0.0)
    # better on every image: the whole interval is above 0
    diff, lo, hi = bootstrap_ap_difference([hit] * 10, [[miss] * 10],
                                           num_samples=50)
    assert diff == pytest.approx(1.0) and lo == pytest.approx(1.0)
    assert hi == pytest.approx(1.0)
    # the same AP on all images, a different one image by image: 0 overall,
    # an interval around 0 (a tie), the same for the same seed
    router, random = [hit, miss] * 20, [[miss, hit] * 20]
    diff, lo, hi = bootstrap_ap_difference(router, random, num_samples=200,
                                           seed=3)
    assert diff == pytest.approx(0.0, abs=1e-12) and lo < 0 < hi
    assert bootstrap_ap_difference(router, random, num_samples=200,
                                   seed=3) == (diff, lo, hi)
    with pytest.raises(ValueError, match='no images'):
        bootstrap_ap_difference([], [[]])


def test_route_latency_is_timed_after_warmup(monkeypatch):
    """The trade-off's latencies leave out the first calls' one-off costs
    (on a GPU: CUDA context, cuDNN's algorithm choice): the first batch's
    time is that of a call after ``warmup`` untimed runs of both routes."""
    from mmdet.structures import DetDataSample

    import mmdet_dynamic.apis.dynamic_tradeoff as tradeoff
    calls = []

    def fake_route(model, data, route):
        calls.append(route)
        sample = DetDataSample(metainfo=dict(difficulty_logit=0.0))
        # the first call of each route is slow, every later one 10 ms
        slow = calls.count(route) == 1
        return [sample], 1.0 if slow else 0.01

    monkeypatch.setattr(tradeoff, 'timed_route', fake_route)
    monkeypatch.setattr(tradeoff, 'coco_results', lambda m, s: [None])
    rec = tradeoff.collect_route_records(None, [{}, {}], None,
                                         progress=False)
    assert calls == ['easy', 'hard'] * 4  # 2 warm-up runs, 2 timed batches
    assert rec['time_easy'].tolist() == pytest.approx([10.0, 10.0])
    assert rec['time_hard'].tolist() == pytest.approx([10.0, 10.0])
    calls.clear()  # a fresh process: without warm-up, the cold call counts
    cold = tradeoff.collect_route_records(None, [{}, {}], None,
                                          progress=False, warmup=0)
    assert cold['time_easy'].tolist() == pytest.approx([1000.0, 10.0])
