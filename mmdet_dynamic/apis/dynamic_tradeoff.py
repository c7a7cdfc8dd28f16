# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Accuracy/latency trade-off of a DynamicCascadeDetector.

Every evaluation image is run once on each route (batch 1, timed), and
both predictions are kept in the form mmdet's ``CocoMetric`` stores them.
For a hard ratio k the router sends the ``floor(k n)`` images with the
highest scores hard (the threshold :mod:`.variable_speed` would pick on
this set); a random router sends a random set of the same size. AP comes
from ``CocoMetric.compute_metrics`` on the chosen predictions; latency is
the mean over images of the measured time of the route each image takes.

Two references measure the router honestly:

* an **oracle router** sends hard the images where detector 2's
  per-image AP (COCO AP of that image alone, the first AP of the table,
  e.g. ``bbox_mAP``) exceeds detector 1's by the most: the upper bound of
  any router at that ratio;
* the router's **share of the oracle's gain over random**,
  ``(AP_router - AP_random) / (AP_oracle - AP_random)``;

and a **paired bootstrap** over images (95 %, seeded) gives the interval of
router minus random on the dataset AP itself: each resample draws images
with replacement, the same draw for the router's split and the random
splits, and COCO AP is pooled over the drawn images from COCOeval's
per-image matches (:mod:`.coco_bootstrap`). An interval that contains 0 is
a tie.
"""
import csv
import json
import os.path as osp
from typing import Dict, List, Sequence

import numpy as np
from mmengine.utils import ProgressBar

from .coco_bootstrap import PooledMatches, bootstrap_ap_difference
from .coco_bootstrap import per_image_ap as route_image_ap
from .coco_bootstrap import per_image_matches
from .coco_eval import AP_KEYS, ap_names, coco_results, evaluate
from .variable_speed import (DEFAULT_RATIOS, num_hard,
                             threshold_for_hard_ratio, timed_route)


def collect_route_records(model, loader, metric,
                          progress: bool = True, warmup: int = 2) -> Dict:
    """Run every image on both routes.

    Before the first batch is timed, both routes run on it ``warmup`` times
    untimed: on a GPU the first calls also pay for the CUDA context,
    cuDNN's choice of algorithms and the allocator's growth (on an H200
    the easy route then measured 47 ms per image where it takes 23 ms).

    Returns:
        dict: ``scores`` (n, ): the router logits; ``time_easy`` /
        ``time_hard`` (n, ) in ms; ``easy`` / ``hard``: the ``CocoMetric``
        result of each image on each route.
    """
    rec = dict(scores=[], time_easy=[], time_hard=[], easy=[], hard=[])
    bar = ProgressBar(len(loader.dataset)) if progress else None
    for i, data in enumerate(loader):
        if i == 0:
            for _ in range(warmup):  # untimed
                for route in ROUTES:
                    timed_route(model, data, route)
        for route in ROUTES:
            samples, seconds = timed_route(model, data, route)
            rec[route].extend(coco_results(metric, samples))
            rec[f'time_{route}'].extend([seconds * 1000 / len(samples)] *
                                        len(samples))
        rec['scores'].extend(s.metainfo['difficulty_logit'] for s in samples)
        if bar is not None:
            bar.update(len(samples))
    if bar is not None:
        print()
    for key in ('scores', 'time_easy', 'time_hard'):
        rec[key] = np.asarray(rec[key], dtype=np.float64)
    return rec


ROUTES = ('easy', 'hard')


def route_matches(rec: Dict, metric) -> Dict:
    """COCOeval's per-image matches of every image on each route (see
    :func:`~mmdet_dynamic.apis.coco_bootstrap.per_image_matches`), for the
    metric's first task (``bbox``, or ``segm``).

    Returns:
        dict: ``easy`` and ``hard``, lists of n per-image records.
    """
    task = metric.metrics[0]
    return {
        route: per_image_matches(metric, rec[route], task)
        for route in ROUTES
    }


def per_image_ap(matches: Dict) -> Dict:
    """COCO AP (IoU 0.50:0.95) of every image alone on each route (an
    image without ground truth counts 0).

    Returns:
        dict: ``easy`` and ``hard``, arrays (n, ).
    """
    ap = route_image_ap(PooledMatches([matches[r] for r in ROUTES]))
    return dict(zip(ROUTES, ap))


def oracle_order(ap_easy: np.ndarray, ap_hard: np.ndarray) -> np.ndarray:
    """Image indices by the oracle's preference for the hard route: the
    largest ``ap_hard - ap_easy`` first (ties in input order)."""
    return np.argsort(-(np.asarray(ap_hard) - np.asarray(ap_easy)),
                      kind='stable')


def _pick(rec: Dict, hard: np.ndarray):
    """The results of the route each image takes, and their mean latency."""
    results = _split(rec, hard)
    latency = float(
        np.where(hard, rec['time_hard'], rec['time_easy']).mean())
    return results, latency


def tradeoff_table(rec: Dict,
                   metric,
                   ratios: Sequence[float] = DEFAULT_RATIOS,
                   random_seeds: int = 3,
                   keys: Sequence[str] = AP_KEYS,
                   progress: bool = True,
                   matches: Dict = None,
                   bootstrap_seed: int = 0,
                   bootstrap_samples: int = 1000) -> List[Dict]:
    """One row per hard ratio: threshold, realised hard share, latency and
    AP for the router, AP (mean over ``random_seeds`` splits) for a random
    router of the same size, AP of the oracle router, the router's share of
    the oracle's gain over random, and the paired-bootstrap interval of
    router minus random (see the module docstring).

    Args:
        matches (dict, optional): :func:`route_matches` of ``rec``;
            computed when not given.
        bootstrap_seed (int): Seed of the paired bootstrap.
        bootstrap_samples (int): Its number of resamples.
    """
    scores = rec['scores']
    n = len(scores)
    order = np.argsort(-scores, kind='stable')
    if matches is None:
        matches = route_matches(rec, metric)
    image_ap = per_image_ap(matches)
    oracle = oracle_order(image_ap['easy'], image_ap['hard'])
    names = ap_names(metric, keys)
    first = names[0]
    rows = []
    bar = ProgressBar(len(ratios)) if progress else None
    for k in ratios:
        m = num_hard(n, k)
        hard = _top(order, m, n)
        results, latency = _pick(rec, hard)
        ap = evaluate(metric, results)
        row = dict(
            hard_ratio=float(k),
            threshold=threshold_for_hard_ratio(scores, k),
            realised_hard_ratio=m / n,
            latency_ms=latency)
        row.update({name: ap[name] for name in names})
        random_aps = {name: [] for name in names}
        random_lat, random_matches = [], []
        for seed in range(random_seeds):
            rand = _top(np.random.default_rng(seed).permutation(n), m, n)
            results, lat = _pick(rec, rand)
            ap = evaluate(metric, results)
            random_lat.append(lat)
            random_matches.append(_split(matches, rand))
            for name in names:
                random_aps[name].append(ap[name])
        row['random_latency_ms'] = float(np.mean(random_lat))
        for name in names:
            row[f'random_{name}'] = float(np.mean(random_aps[name]))
        oracle_results, row['oracle_latency_ms'] = _pick(
            rec, _top(oracle, m, n))
        oracle_ap = evaluate(metric, oracle_results)
        for name in names:
            row[f'oracle_{name}'] = oracle_ap[name]
        span = row[f'oracle_{first}'] - row[f'random_{first}']
        row['oracle_gain_share'] = float(
            (row[first] - row[f'random_{first}']) / span) if span > 0 \
            else float('nan')
        mean, lo, hi = bootstrap_ap_difference(
            _split(matches, hard), random_matches, bootstrap_samples,
            seed=bootstrap_seed)
        if m in (0, n):  # the same split on both sides
            mean = lo = hi = 0.0
        row.update(
            router_minus_random=mean,
            ci_low=lo,
            ci_high=hi,
            significant=bool(lo > 0 or hi < 0))
        rows.append(row)
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    return rows


def _top(order: np.ndarray, m: int, n: int) -> np.ndarray:
    """Mask (n, ) of the first ``m`` indices of ``order``."""
    mask = np.zeros(n, dtype=bool)
    mask[order[:m]] = True
    return mask


def _split(per_route: Dict, hard: np.ndarray) -> List:
    """Per image, the ``per_route['easy']`` or ``['hard']`` entry of the
    route the image takes (results, or COCOeval matches)."""
    return [h if is_hard else e for e, h, is_hard in zip(
        per_route['easy'], per_route['hard'], hard)]


def format_table(rows: List[Dict], metric_names: Sequence[str]) -> str:
    """Markdown table of :func:`tradeoff_table` rows."""
    first = metric_names[0]
    head = ['hard ratio', 'latency (ms)'] + [
        f'{n} router' for n in metric_names
    ] + [f'{n} random' for n in metric_names] + [
        f'{first} oracle', 'share of oracle gain',
        f'router - random ({first}, 95 % CI)'
    ]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        cells = [f"{r['hard_ratio']:.1f}", f"{r['latency_ms']:.1f}"]
        cells += [f'{r[n]:.3f}' for n in metric_names]
        cells += [f"{r['random_' + n]:.3f}" for n in metric_names]
        share = r['oracle_gain_share']
        cells += [
            f"{r['oracle_' + first]:.3f}",
            '-' if share is None or np.isnan(share) else f'{share:.2f}',
            f"{r['router_minus_random']:+.3f} [{r['ci_low']:+.3f}, "
            f"{r['ci_high']:+.3f}]" +
            (' significant' if r['significant'] else ' tie')
        ]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def reading(rows: List[Dict], ratio: float = 0.5) -> str:
    """One sentence on router against random at ``ratio`` (or the nearest
    evaluated ratio), saying whether the interval excludes 0."""
    row = min(rows, key=lambda r: abs(r['hard_ratio'] - ratio))
    verdict = ('the router beats the random split' if row['ci_low'] > 0
               else 'the random split beats the router'
               if row['ci_high'] < 0 else
               'router and random split tie (the interval contains 0)')
    share = row['oracle_gain_share']
    return (f"at {row['hard_ratio']:.0%} hard: router minus random "
            f"{row['router_minus_random']:+.4f} AP, 95 % paired bootstrap "
            f"interval over images [{row['ci_low']:+.4f}, "
            f"{row['ci_high']:+.4f}]: {verdict}; share of the oracle's gain "
            f"over random: "
            f"{'-' if share is None or np.isnan(share) else f'{share:.2f}'}")


def json_safe(obj):
    """``obj`` with every NaN or infinite float replaced by None, so that
    it is valid JSON (``null``), as ``json.dump(allow_nan=False)``
    requires."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def write_tradeoff(rows: List[Dict], meta: Dict, out_dir: str,
                   metric_names: Sequence[str], title: str = '') -> List[str]:
    """``tradeoff.csv``, ``tradeoff.json`` (valid JSON: undefined values
    are ``null``) and ``tradeoff.png`` in ``out_dir``, written together
    or not at all."""
    from ..utils import write_files_atomically
    rows = json_safe(rows)

    def write_csv(path):
        with open(path, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(
                [{k: '' if v is None else v for k, v in r.items()}
                 for r in rows])

    def write_json(path):
        with open(path, 'w') as f:
            json.dump(json_safe(dict(meta, rows=rows)), f, indent=1,
                      allow_nan=False)

    files = {
        osp.join(out_dir, 'tradeoff.csv'): write_csv,
        osp.join(out_dir, 'tradeoff.json'): write_json,
        osp.join(out_dir, 'tradeoff.png'):
        lambda path: plot_tradeoff(rows, metric_names, path, title)
    }
    return write_files_atomically(files)


def plot_tradeoff(rows: List[Dict], metric_names: Sequence[str],
                  out_file: str, title: str = '') -> None:
    """PNG of AP against latency: the router, the random router, the
    oracle router, detector 1 alone (hard ratio 0) and the full cascade
    (hard ratio 1) marked."""
    # an Agg-backed Figure of its own: the caller's pyplot backend and
    # figures are left alone
    from matplotlib.figure import Figure
    fig = Figure(figsize=(5.5 * len(metric_names), 4.2))
    axes = fig.subplots(1, len(metric_names), squeeze=False)
    lat = [r['latency_ms'] for r in rows]
    for ax, name in zip(axes[0], metric_names):
        ax.plot(lat, [r[name] for r in rows], 'o-', label='router')
        ax.plot([r['random_latency_ms'] for r in rows],
                [r[f'random_{name}'] for r in rows],
                's--',
                color='grey',
                label='random split')
        if f'oracle_{name}' in rows[0]:
            ax.plot([r['oracle_latency_ms'] for r in rows],
                    [r[f'oracle_{name}'] for r in rows],
                    '^:', color='tab:green', label='oracle router')
        for row, label, marker in ((rows[0], 'detector 1 alone', '*'),
                                   (rows[-1], 'full cascade', 'P')):
            ax.plot(row['latency_ms'], row[name], marker, markersize=14,
                    label=f"{label} (hard {row['hard_ratio']:.0%})")
        for r in rows:
            ax.annotate(f"{r['hard_ratio']:.0%}", (r['latency_ms'], r[name]),
                        textcoords='offset points', xytext=(4, -10),
                        fontsize=7)
        ax.set_xlabel('latency per image (ms, batch 1)')
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=120, format='png')
