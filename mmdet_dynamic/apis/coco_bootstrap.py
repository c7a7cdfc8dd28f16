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
    results of every image, in order). One entry per image: a dict from
    category index to that category's matches in the image, ``scores``
    (D, ), ``matched`` and ``ignored`` (T, D) booleans over the 10 IoU
    thresholds and ``num_gt`` (ground truths not ignored); None for an
    image with neither detections nor ground truth.
    """
    from mmengine.fileio import load
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    gts, preds = zip(*results)
    img_ids = [p['img_id'] for p in preds]
    with tempfile.TemporaryDirectory() as tmp, \
            contextlib.redirect_stdout(io.StringIO()):
        if metric._coco_api is None:
            metric._coco_api = COCO(
                metric.gt_to_coco_json(gts, osp.join(tmp, 'gt')))
        if metric.cat_ids is None:
            metric.cat_ids = metric._coco_api.get_cat_ids(
                cat_names=metric.dataset_meta['classes'])
        files = metric.results2json(preds, osp.join(tmp, 'results'))
        dets = load(files[iou_type])
        if not dets:
            return [None] * len(img_ids)
        ev = COCOeval(metric._coco_api, metric._coco_api.loadRes(dets),
                      iou_type)
        ev.params.imgIds = img_ids
        ev.evaluate()
    p = ev.params
    num_imgs, num_areas = len(p.imgIds), len(p.areaRng)
    max_det = p.maxDets[-1]
    index = {img: i for i, img in enumerate(p.imgIds)}
    out: List[Optional[Dict]] = []
    for img in img_ids:
        per_cat = {}
        for k in range(len(p.catIds)):
            # evalImgs is ordered category, area range, image; area 0 is
            # 'all'
            r = ev.evalImgs[k * num_areas * num_imgs + index[img]]
            if r is None:
                continue
            per_cat[k] = dict(
                scores=np.asarray(r['dtScores'][:max_det]),
                matched=r['dtMatches'][:, :max_det] > 0,
                ignored=r['dtIgnore'][:, :max_det].astype(bool),
                num_gt=int(np.count_nonzero(np.asarray(r['gtIgnore']) == 0)))
        out.append(per_cat or None)
    return out


def _category_aps(recs: List[Dict]) -> Optional[np.ndarray]:
    """AP at each IoU threshold (T, ) of one category's pooled matches, as
    COCOeval's ``accumulate`` computes it; None without ground truth."""
    num_gt = sum(r['num_gt'] for r in recs)
    if num_gt == 0:
        return None
    scores = np.concatenate([r['scores'] for r in recs])
    order = np.argsort(-scores, kind='mergesort')
    matched = np.concatenate([r['matched'] for r in recs], axis=1)[:, order]
    ignored = np.concatenate([r['ignored'] for r in recs], axis=1)[:, order]
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
    return np.asarray(aps)


def pooled_ap(matches: Sequence[Optional[Dict]]) -> Dict[str, float]:
    """COCO AP (IoU 0.50:0.95) and AP50 of the pooled per-image matches
    (repeats count as often as they appear): per category over the images,
    then the mean over the categories that have ground truth, as
    ``summarize`` does."""
    by_cat: Dict[int, List[Dict]] = {}
    for per_cat in matches:
        for k, rec in (per_cat or {}).items():
            by_cat.setdefault(k, []).append(rec)
    aps = [a for a in map(_category_aps, by_cat.values()) if a is not None]
    if not aps:
        return dict(mAP=0.0, mAP_50=0.0)
    aps = np.stack(aps)  # (categories, T)
    return dict(mAP=float(aps.mean()), mAP_50=float(aps[:, 0].mean()))


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
    if n == 0:
        raise ValueError('paired bootstrap of no images')
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
