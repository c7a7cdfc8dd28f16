# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""mmdet's CocoMetric used as a function: build it from a config and score
a list of stored per-image results quietly (for tools that evaluate many
variants of the same predictions)."""
import contextlib
import copy
import io
import logging
from typing import Dict, List, Sequence

from mmengine.logging import MMLogger

AP_KEYS = ('mAP', 'mAP_50')


def ap_names(metric, keys: Sequence[str] = AP_KEYS) -> List[str]:
    """``bbox_mAP``, ``bbox_mAP_50`` (and ``segm_...``) for the metric's
    tasks."""
    return [f'{m}_{k}' for m in metric.metrics for k in keys]


def coco_results(metric, samples: Sequence) -> List:
    """The per-image results ``metric.process`` makes of ``samples``
    (``DetDataSample`` predictions), taken back out of ``metric.results``
    so they can be scored in any combination with :func:`evaluate`."""
    start = len(metric.results)
    metric.process({}, [s.to_dict() for s in samples])
    out = metric.results[start:]
    del metric.results[start:]
    return out


def build_coco_metric(cfg, split: str, dataset_meta: Dict):
    """mmdet's ``CocoMetric`` from ``{split}_evaluator``.

    Raises:
        ValueError: If the evaluator is not (or does not contain) one.
    """
    from mmdet_dynamic.registry import METRICS
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
    return {
        **{n: 0.0 for n in ap_names(metric)},
        **{k: float(v) for k, v in out.items()}
    }
