# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The k-fold router benchmark: folds, pooling across folds, the
baselines' latency, and the bootstrap's weighted AP, on hand-made cases."""
import json

import numpy as np
import pytest

from mmdet_dynamic.apis import router_benchmark as bench
from mmdet_dynamic.apis.coco_bootstrap import PooledMatches, pooled_ap


@pytest.mark.parametrize('n, k', [(200, 4), (364, 4), (10, 3), (5, 5)])
def test_every_image_is_held_out_exactly_once(n, k):
    folds = bench.fold_assignment(n, k, seed=3)
    held = np.concatenate(folds)
    assert len(folds) == k
    assert sorted(held.tolist()) == list(range(n))
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    assert [f.tolist() for f in bench.fold_assignment(n, k, seed=3)] == \
        [f.tolist() for f in folds]


@pytest.mark.parametrize('k', [1, 0, 11])
def test_bad_fold_counts(k):
    with pytest.raises(ValueError, match='between 2 and the number of '
                       r'images \(10\)'):
        bench.fold_assignment(10, k)


def test_selection_is_per_fold_and_random_matches_its_sizes():
    fold = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    # fold 1's scores are all lower: a global ranking would pick none of it
    scores = np.array([9., 8., 7., 6., 1., 4., 3., 2.])
    hard = bench.select_hard(scores, fold, 0.5)
    assert hard.tolist() == [True, True, False, False,
                             False, True, True, False]
    rng = np.random.default_rng(0)
    for _ in range(5):
        rand = bench.random_hard(fold, 0.5, rng)
        assert rand[:4].sum() == 2 and rand[4:].sum() == 2
    assert not bench.select_hard(scores, fold, 0.0).any()
    assert bench.select_hard(scores, fold, 1.0).all()


def test_baseline_latency_counts_detector1_head_on_hard_images():
    """A training-free router runs detector 1 (B1 + head) on every image and
    then the hard route on those it sends hard: t_hard + (t_easy - t_b1)."""
    t_easy = np.array([10., 10., 10., 10.])
    t_hard = np.array([16., 16., 16., 16.])
    t_b1 = np.array([4., 4., 4., 4.])
    hard = np.array([True, False, True, False])
    assert bench.route_latency(hard, t_easy, t_hard) == 13.0
    # hard images: 16 + (10 - 4) = 22; easy: 10
    assert bench.route_latency(hard, t_easy, t_hard,
                               t_easy - t_b1) == 16.0


def test_d1_uncertainty_scores():
    preds = [dict(scores=np.array([0.9, 0.5, 0.2])),
             dict(scores=np.array([0.25])),
             dict(scores=np.zeros(0))]
    out = bench.d1_uncertainty(preds, floor=0.3)
    np.testing.assert_allclose(out['d1_top'], [0.1, 0.75, 1.0])
    np.testing.assert_allclose(out['d1_mean'], [1 - 0.7, 1.0, 1.0])


def _image(scores, matched, num_gt):
    m = np.tile(np.asarray(matched, dtype=bool), (10, 1))
    return {0: dict(scores=np.asarray(scores, float), matched=m,
                    ignored=np.zeros_like(m), num_gt=num_gt)}


def test_weighted_pooling_equals_repeated_lists():
    """A bootstrap weighting (counts on the route each image takes) gives
    the AP of the list with each image repeated that many times."""
    rng = np.random.default_rng(0)
    easy = [_image(rng.uniform(0, 1, 3), rng.uniform(0, 1, 3) > 0.5, 2)
            for _ in range(6)]
    hard = [_image(rng.uniform(0, 1, 3), rng.uniform(0, 1, 3) > 0.3, 2)
            for _ in range(6)]
    table = PooledMatches([easy, hard])
    counts = np.array([2, 0, 1, 3, 1, 0])
    route = np.array([1, 0, 0, 1, 1, 0], dtype=bool)
    listed = [m for i in range(6)
              for m in [hard[i] if route[i] else easy[i]] * counts[i]]
    w = np.stack([counts * ~route, counts * route])
    assert table.ap(w)['mAP'] == pytest.approx(pooled_ap(listed)['mAP'])
    assert table.ap(w)['mAP_50'] == pytest.approx(
        pooled_ap(listed)['mAP_50'])


def test_spearman_matches_scipy():
    from scipy.stats import spearmanr
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, 30).astype(float)  # ties
    b = a + rng.normal(0, 2, 30)
    assert bench.spearman(a, b) == pytest.approx(spearmanr(a, b).correlation)
    assert bench.spearman([1, 1, 1], [1, 2, 3]) is None


def _coco(tmp_path, n):
    """n images of 100x100 px with one ground-truth box each."""
    coco = dict(
        images=[dict(id=i + 1, file_name=f'{i}.jpg', width=100, height=100)
                for i in range(n)],
        annotations=[dict(id=i + 1, image_id=i + 1, category_id=1,
                          bbox=[10, 10, 40, 40], area=1600, iscrowd=0)
                     for i in range(n)],
        categories=[dict(id=1, name='thing')])
    path = tmp_path / 'all.json'
    path.write_text(json.dumps(coco))
    return str(path)


def _fold_records(img_ids, boxes_easy, boxes_hard):
    def preds(boxes):
        return [dict(img_id=i, bboxes=np.asarray([b], np.float32),
                     scores=np.asarray([s], np.float32),
                     labels=np.zeros(1, np.int64))
                for i, (b, s) in zip(img_ids, boxes)]

    rec = dict(img_id=np.asarray(img_ids))
    for route, boxes in (('easy', boxes_easy), ('hard', boxes_hard)):
        rec.update(bench.flatten_predictions(preds(boxes), route))
        rec[f'{route}_img_id'] = rec['img_id']
    return rec


def test_pooling_folds_equals_coco_metric(tmp_path):
    """Two folds' records pooled give mmdet's CocoMetric figures on the
    same predictions of all images."""
    from mmdet_dynamic.apis.coco_eval import evaluate
    from mmdet_dynamic.registry import METRICS
    ann = _coco(tmp_path, 6)
    metric = METRICS.build(dict(type='CocoMetric', ann_file=ann,
                                metric='bbox'))
    metric.dataset_meta = dict(classes=('thing', ))
    hit, near, miss = [10, 10, 50, 50], [14, 10, 54, 50], [60, 60, 90, 90]
    parts = [
        _fold_records([1, 3, 5], [(hit, .9), (miss, .8), (near, .7)],
                      [(hit, .9), (hit, .6), (near, .7)]),
        _fold_records([2, 4, 6], [(near, .5), (hit, .4), (miss, .95)],
                      [(hit, .5), (hit, .4), (hit, .3)]),
    ]
    table = bench.route_tables(metric, parts)
    for r, route in enumerate(bench.ROUTES):
        results = [(dict(img_id=p['img_id']), p) for part in parts
                   for p in bench.unflatten_predictions(part, route)]
        theirs = evaluate(metric, results)
        w = np.zeros((2, 6))
        w[r] = 1
        ours = table.ap(w)
        assert ours['mAP'] == pytest.approx(theirs['bbox_mAP'], abs=5e-4)
        assert ours['mAP_50'] == pytest.approx(theirs['bbox_mAP_50'],
                                               abs=5e-4)


def test_records_round_trip_without_pickle(tmp_path):
    rec = _fold_records([1, 2], [([0, 0, 5, 5], .5), ([1, 1, 4, 4], .7)],
                        [([0, 0, 5, 5], .6), ([1, 1, 4, 4], .2)])
    path = str(tmp_path / 'records.npz')
    bench.save_records(path, rec)
    back = bench.load_records(path)
    for key in rec:
        np.testing.assert_array_equal(back[key], rec[key])
    assert [p['img_id'] for p in bench.unflatten_predictions(back, 'hard')
            ] == [1, 2]


def test_summary_is_valid_json_with_intervals_and_a_reading(tmp_path):
    """summarize on two hand-made folds: every method at every ratio, the
    intervals around the point values, strict JSON (no NaN), a CSV row per
    ratio and method, a PNG."""
    from mmdet_dynamic.registry import METRICS
    ann = _coco(tmp_path, 8)
    metric = METRICS.build(dict(type='CocoMetric', ann_file=ann,
                                metric='bbox'))
    metric.dataset_meta = dict(classes=('thing', ))
    hit, miss = [10, 10, 50, 50], [60, 60, 90, 90]
    parts = []
    for ids in ([1, 2, 3, 4], [5, 6, 7, 8]):
        rec = _fold_records(ids, [(hit, .9), (miss, .8), (hit, .3),
                                  (miss, .2)],
                            [(hit, .9), (hit, .8), (hit, .7), (miss, .6)])
        n = len(ids)
        rec.update(logit=np.arange(n, dtype=float), loss_diff=np.ones(n),
                   feat=np.zeros((n, 2), np.float32),
                   t_b1=np.full(n, 2.), t_easy=np.full(n, 5.),
                   t_hard=np.full(n, 8.))
        parts.append({f'heldout_{k}': v for k, v in rec.items()})
        parts[-1]['device'] = np.asarray('cuda:0')  # as evaluate_fold's
    summary = bench.summarize(parts, metric, [0.0, 0.5, 1.0],
                              random_splits=3, bootstrap=50, progress=False)
    # the latencies keep the device they were measured on, also when the
    # report runs elsewhere (--resume on a CPU machine)
    assert summary['device'] == 'cuda:0'
    text = json.dumps(summary, allow_nan=False)  # raises on NaN
    assert 'NaN' not in text
    methods = {r['method'] for r in summary['rows']}
    assert methods == set(bench.METHODS)
    for row in summary['rows']:
        lo, hi = row['mAP_ci']
        assert lo - 1e-9 <= row['mAP'] <= hi + 1e-9 or row['hard_ratio'] in (
            0.0, 1.0)
    end = [r for r in summary['rows'] if r['hard_ratio'] == 1.0]
    assert [r['mAP'] for r in end] == pytest.approx([end[0]['mAP']] *
                                                    len(end))  # all hard
    half = {r['method']: r for r in summary['rows']
            if r['hard_ratio'] == 0.5}
    # the oracle sends hard the two images per fold that detector 2 fixes
    assert half['oracle']['mAP'] >= half['random']['mAP']
    # latency: 2 of 4 images per fold hard, baselines pay detector 1's head
    assert half['router']['latency_ms'] == pytest.approx(6.5)
    assert half['d1_top']['latency_ms'] == pytest.approx(6.5 + 1.5)
    assert summary['latency_ms'] == dict(easy=5.0, hard=8.0, b1_router=2.0)
    rows = bench.csv_rows(summary)
    assert len(rows) == 3 * len(bench.METHODS)
    assert {'mAP_ci_low', 'mAP_ci_high', 'mAP_minus_random_ci_low'} <= set(
        rows[0])
    lines = bench.reading(summary)
    assert lines[0].startswith('full cascade minus detector 1')
    bench.plot_summary(summary, str(tmp_path / 's.png'))
    assert (tmp_path / 's.png').read_bytes()[:4] == b'\x89PNG'
