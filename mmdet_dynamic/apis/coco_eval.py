# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""mmdet's CocoMetric used as a function: build it from a config and score
a list of stored per-image results quietly (for tools that evaluate many
variants of the same predictions)."""
import contextlib
import copy
import io
import logging
from typing import Dict, Sequence

from mmengine.logging import MMLogger


def build_coco_metric(cfg, split: str, dataset_meta: Dict):
    """mmdet's ``CocoMetric`` from ``{split}_evaluator``.

    Raises:
        ValueError: If the evaluator is not (or does not contain) one.
    """
    from mmdet.registry import METRICS
    ev = cfg.get(f'{split}_evaluator')
    cfgs = ev if isinstance(ev, (list, tuple)) else [ev]
    for one in cfgs:
        if one and str(one.get('type', '')).split('.')[-1] == 'CocoMetric':
            one = copy.deepcopy(one)
            one['format_only'] = False
            metric = METRICS.build(one)
            metric.dataset_meta = dataset_meta
            return metric
    raise ValueError(f'{split}_evaluator has no CocoMetric (got {ev}); '
                     'scores here are COCO AP')


def evaluate(metric, results: Sequence) -> Dict[str, float]:
    """``metric.compute_metrics`` without its console output."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            out = metric.compute_metrics(list(results))
    finally:
        logger.setLevel(level)
    # CocoMetric returns no AP at all when no image has a detection
    names = [f'{m}_{k}' for m in metric.metrics for k in ('mAP', 'mAP_50')]
    return {**{n: 0.0 for n in names}, **{k: float(v) for k, v in out.items()}}
