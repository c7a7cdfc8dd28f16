# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Accuracy/latency trade-off of a DynamicCascadeDetector.

Every evaluation image is run once on each route (batch 1, timed), and
both predictions are kept in the form mmdet's ``CocoMetric`` stores them.
For a hard ratio k the router sends the ``floor(k n)`` images with the
highest scores hard (the threshold :mod:`.variable_speed` would pick on
this set); a random router sends a random set of the same size. AP comes
from ``CocoMetric.compute_metrics`` on the chosen predictions; latency is
the mean over images of the measured time of the route each image takes.
"""
import csv
import json
from typing import Dict, List, Sequence

import numpy as np
from mmengine.utils import ProgressBar

from .coco_eval import AP_KEYS, ap_names, coco_results, evaluate
from .variable_speed import (DEFAULT_RATIOS, num_hard,
                             threshold_for_hard_ratio, timed_route)


def collect_route_records(model, loader, metric,
                          progress: bool = True) -> Dict:
    """Run every image on both routes.

    Returns:
        dict: ``scores`` (n, ): the router logits, ``time_easy`` / ``time_hard`` (n, ) in ms,
        ``easy`` / ``hard``: the ``CocoMetric`` result of each image on each
        route.
    """
    rec = dict(scores=[], time_easy=[], time_hard=[], easy=[], hard=[])
    bar = ProgressBar(len(loader.dataset)) if progress else None
    for data in loader:
        for route in ('easy', 'hard'):
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


def _pick(rec: Dict, hard: np.ndarray):
    results = [h if is_hard else e
               for e, h, is_hard in zip(rec['easy'], rec['hard'], hard)]
    latency = float(
        np.where(hard, rec['time_hard'], rec['time_easy']).mean())
    return results, latency


def tradeoff_table(rec: Dict,
                   metric,
                   ratios: Sequence[float] = DEFAULT_RATIOS,
                   random_seeds: int = 3,
                   keys: Sequence[str] = AP_KEYS,
                   progress: bool = True) -> List[Dict]:
    """One row per hard ratio: threshold, realised hard share, latency and
    AP for the router, and AP (mean over ``random_seeds`` splits) for a
    random router of the same size."""
    scores = rec['scores']
    n = len(scores)
    order = np.argsort(-scores, kind='stable')
    names = ap_names(metric, keys)
    rows = []
    bar = ProgressBar(len(ratios)) if progress else None
    for k in ratios:
        m = num_hard(n, k)
        hard = np.zeros(n, dtype=bool)
        hard[order[:m]] = True
        results, latency = _pick(rec, hard)
        ap = evaluate(metric, results)
        row = dict(
            hard_ratio=float(k),
            threshold=threshold_for_hard_ratio(scores, k),
            realised_hard_ratio=m / n,
            latency_ms=latency)
        row.update({name: ap[name] for name in names})
        random_aps = {name: [] for name in names}
        random_lat = []
        for seed in range(random_seeds):
            rand = np.zeros(n, dtype=bool)
            rand[np.random.default_rng(seed).permutation(n)[:m]] = True
            results, lat = _pick(rec, rand)
            ap = evaluate(metric, results)
            random_lat.append(lat)
            for name in names:
                random_aps[name].append(ap[name])
        row['random_latency_ms'] = float(np.mean(random_lat))
        for name in names:
            row[f'random_{name}'] = float(np.mean(random_aps[name]))
        rows.append(row)
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    return rows


def format_table(rows: List[Dict], metric_names: Sequence[str]) -> str:
    """Markdown table of :func:`tradeoff_table` rows."""
    head = ['hard ratio', 'latency (ms)'] + [
        f'{n} router' for n in metric_names
    ] + [f'{n} random' for n in metric_names]
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        cells = [f"{r['hard_ratio']:.1f}", f"{r['latency_ms']:.1f}"]
        cells += [f'{r[n]:.3f}' for n in metric_names]
        cells += [f"{r['random_' + n]:.3f}" for n in metric_names]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def write_table(rows: List[Dict], csv_file: str, json_file: str,
                meta: Dict) -> None:
    """Rows as CSV and, with ``meta``, as JSON."""
    with open(csv_file, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(json_file, 'w') as f:
        json.dump(dict(meta, rows=rows), f, indent=1)


def plot_tradeoff(rows: List[Dict], metric_names: Sequence[str],
                  out_file: str, title: str = '') -> None:
    """PNG of AP against latency: the router, the random router, detector
    1 alone (hard ratio 0) and the full cascade (hard ratio 1) marked."""
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
    fig.savefig(out_file, dpi=120)
