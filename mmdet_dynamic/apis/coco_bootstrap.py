# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""COCO AP of any multiset of images, for bootstrap intervals of AP.

``COCOeval.evaluate`` matches detections to ground truth image by image
(``evalImgs``); ``accumulate`` then pools the matches of the evaluated
images into precision/recall. A bootstrap resample draws images with
replacement, which ``accumulate`` cannot express (it selects images by id,
so a repeated image counts once). :func:`pooled_ap` pools the per-image
matches of any list of images, repeats included, the way ``accumulate``
and ``summarize`` compute AP (area ``all``, ``maxDets`` 100, 101 recall
points, IoU 0.50:0.95 and 0.50), so that on the plain image set it equals
mmdet's ``CocoMetric`` figure (tested).
"""
import contextlib
import io
import os.path as osp
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np

RECALL_POINTS = np.linspace(0.0, 1.0, 101)


def per_image_matches(metric, results: Sequence, iou_type: str = 'bbox'
                      ) -> List[Optional[Dict]]:
    """COCOeval's per-image matches of ``results`` (the ``CocoMetric``
    results of every image, in order), one dict per image: ``scores``
    (D, ), ``matched`` and ``ignored`` (T, D) booleans over the 10 IoU
    thresholds, ``num_gt`` (not ignored ground truths), summed over
    categories by pooling; None for an image with neither.
    """
    from pycocotools.cocoeval import COCOeval
    from mmengine.fileio import load
    gts, preds = zip(*results)
    with tempfile.TemporaryDirectory() as tmp, \
            contextlib.redirect_stdout(io.StringIO()):
        if metric._coco_api is None:
            metric._coco_api = __import__(
                'pycocotools.coco', fromlist=['COCO']).COCO(
                    metric.gt_to_coco_json(gts, osp.join(tmp, 'gt')))
        if metric.cat_ids is None:
            metric.cat_ids = metric._coco_api.get_cat_ids(
                cat_names=metric.dataset_meta['classes'])
        files = metric.results2json(preds, osp.join(tmp, 'results'))
        img_ids = [p['img_id'] for p in preds]
        dets = load(files[iou_type])
        coco_dt = metric._coco_api.loadRes(dets) if dets else None
        out: List[Optional[Dict]] = []
        if coco_dt is None:
            return [None] * len(img_ids)
        ev = COCOeval(metric._coco_api, coco_dt, iou_type)
        ev.params.imgIds = img_ids
        ev.evaluate()
    p = ev.params
    num_imgs = len(p.imgIds)
    area_all = 0  # p.areaRng[0] is 'all'
    index = {img: i for i, img in enumerate(p.imgIds)}
    for img in img_ids:
        recs = [
            ev.evalImgs[k * len(p.areaRng) * num_imgs + area_all * num_imgs
                        + index[img]] for k in range(len(p.catIds))
        ]
        recs = [r for r in recs if r is not None]
        if not recs:
            out.append(None)
            continue
        max_det = p.maxDets[-1]
        out.append(
            dict(
                scores=np.concatenate(
                    [np.asarray(r['dtScores'][:max_det]) for r in recs]),
                matched=np.concatenate(
                    [r['dtMatches'][:, :max_det] > 0 for r in recs], axis=1),
                ignored=np.concatenate(
                    [r['dtIgnore'][:, :max_det].astype(bool) for r in recs],
                    axis=1),
                num_gt=int(
                    sum(np.count_nonzero(np.asarray(r['gtIgnore']) == 0)
                        for r in recs))))
    return out


def pooled_ap(matches: Sequence[Optional[Dict]]) -> Dict[str, float]:
    """COCO AP (IoU 0.50:0.95) and AP50 of the pooled per-image matches
    (repeats count as often as they appear). Single-category pooling, as
    the raccoon and balloon sets have one class."""
    recs = [m for m in matches if m is not None]
    num_gt = sum(m['num_gt'] for m in recs)
    if not recs or num_gt == 0:
        return dict(mAP=0.0, mAP_50=0.0)
    scores = np.concatenate([m['scores'] for m in recs])
    order = np.argsort(-scores, kind='mergesort')
    matched = np.concatenate([m['matched'] for m in recs], axis=1)[:, order]
    ignored = np.concatenate([m['ignored'] for m in recs], axis=1)[:, order]
    tp = np.cumsum(matched & ~ignored, axis=1, dtype=np.float64)
    fp = np.cumsum(~matched & ~ignored, axis=1, dtype=np.float64)
    aps = []
    for t in range(tp.shape[0]):
        recall = tp[t] / num_gt
        precision = tp[t] / (tp[t] + fp[t] + np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1] \
            if precision.size else precision
        inds = np.searchsorted(recall, RECALL_POINTS, side='left')
        q = np.zeros(RECALL_POINTS.size)
        valid = inds < precision.size
        q[valid] = precision[inds[valid]]
        aps.append(q.mean())
    return dict(mAP=float(np.mean(aps)), mAP_50=float(aps[0]))


def bootstrap_ap_difference(first: Sequence[Optional[Dict]],
                            second: Sequence[Sequence[Optional[Dict]]],
                            num_samples: int = 1000,
                            level: float = 0.95,
                            seed: int = 0,
                            key: str = 'mAP'):
    """Paired bootstrap of ``AP(first) - mean_s AP(second[s])`` over
    images: each resample draws the same image indices for both sides.

    Args:
        first: Per-image matches under one routing (n images).
        second: Per-image matches under one or more other routings (the
            random splits), each n images, averaged.

    Returns:
        tuple[float, float, float]: the difference on all images, and the
        lower and upper percentile bounds.
    """
    n = len(first)
    rng = np.random.default_rng(seed)

    def diff(idx):
        a = pooled_ap([first[i] for i in idx])[key]
        b = np.mean([pooled_ap([s[i] for i in idx])[key] for s in second])
        return a - b

    full = diff(np.arange(n))
    draws = [diff(rng.integers(0, n, n)) for _ in range(num_samples)]
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(draws, [alpha, 1.0 - alpha])
    return float(full), float(lo), float(hi)
