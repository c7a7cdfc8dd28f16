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

from ..evaluation.coco_ap import counted_ap


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


class PooledMatches:
    """COCO AP of n images on R routes under any number of weightings at
    once: the engine of :func:`pooled_ap` and of the bootstrap intervals.

    A weighting ``w`` (R, n) gives each image a multiplicity on the route
    it takes (0 elsewhere): ``w[r, i] = c`` counts image ``i``'s matches on
    route ``r`` ``c`` times, as if the image appeared ``c`` times in a list
    (a bootstrap resample draws images with replacement), and its ground
    truths ``sum_r w[r, i]`` times. Every category's detections of every
    image and route are sorted once (by score, stable, images in order);
    a weighting then only scales them, so COCO's cumulative true and false
    positives are weighted cumulative sums. This equals pooling the listed
    matches in image order, as ``COCOeval.accumulate`` does (tested against
    mmdet's ``CocoMetric``).

    Args:
        routes (Sequence[Sequence[dict | None]]): R lists of the n images'
            :func:`per_image_matches` (the same images in the same order).
    """

    def __init__(self, routes: Sequence[Sequence[Optional[Dict]]]) -> None:
        self.num_routes = len(routes)
        self.num_images = len(routes[0]) if routes else 0
        if any(len(r) != self.num_images for r in routes):
            raise ValueError('every route needs the matches of the same '
                             f'images, got {[len(r) for r in routes]}')
        cats = sorted({k for route in routes for m in route
                       for k in (m or {})})
        self.categories = []
        for k in cats:
            num_gt = np.zeros(self.num_images)
            parts = []
            for i in range(self.num_images):
                for r, route in enumerate(routes):
                    rec = (route[i] or {}).get(k)
                    if rec is None:
                        continue
                    num_gt[i] = rec['num_gt']  # the same on every route
                    parts.append((rec, r, i))
            if not parts:
                continue
            scores = np.concatenate([p[0]['scores'] for p in parts])
            order = np.argsort(-scores, kind='mergesort')
            matched = np.concatenate([p[0]['matched'] for p in parts],
                                     axis=1)[:, order]
            ignored = np.concatenate([p[0]['ignored'] for p in parts],
                                     axis=1)[:, order]
            route = np.concatenate(
                [np.full(len(p[0]['scores']), p[1]) for p in parts])[order]
            image = np.concatenate(
                [np.full(len(p[0]['scores']), p[2]) for p in parts])[order]
            # detections that count (not ignored): with area 'all' and no
            # crowd, the same at every IoU threshold, so one cumulative sum
            # of them serves all ten (false positives = counted - true)
            counted = (~ignored).astype(np.float64)
            self.categories.append(
                dict(tp=(matched & ~ignored).astype(np.float64),
                     counted=counted[:1] if (counted == counted[0]).all()
                     else counted,
                     route=route, image=image, num_gt=num_gt))

    def ap(self, weights: np.ndarray) -> Dict[str, np.ndarray]:
        """AP (IoU 0.50:0.95) and AP50 of each weighting.

        Args:
            weights (np.ndarray): (B, R, n) weightings (each image weighted
                on one route per row), or (R, n) for one.

        Returns:
            dict: ``mAP`` and ``mAP_50``, arrays (B, ) (floats for one
            weighting): per category, then the mean over the categories
            with ground truth in that weighting (0 where none has any).
        """
        weights = np.asarray(weights, dtype=np.float64)
        single = weights.ndim == 2
        if single:
            weights = weights[None]
        batch = weights.shape[0]
        image_weight = weights.sum(axis=1)  # (B, n)
        total = np.zeros((batch, 10))
        counted = np.zeros(batch)
        for cat in self.categories:
            num_gt = image_weight @ cat['num_gt']  # (B, )
            has_gt = num_gt > 0
            if not has_gt.any():
                continue
            aps = np.zeros((batch, cat['tp'].shape[0]))
            # rows in chunks of about 2e6 weighted detections each
            step = max(1, int(2e6 // max(1, cat['tp'].shape[1])))
            for rows in range(0, batch, step):
                part = slice(rows, rows + step)
                w = weights[part, cat['route'], cat['image']]  # (b, D)
                dets = [np.cumsum(w * c, axis=1) for c in cat['counted']]
                for t in range(cat['tp'].shape[0]):
                    tp = np.cumsum(w * cat['tp'][t], axis=1)
                    aps[part, t] = counted_ap(tp, dets[min(t, len(dets) - 1)],
                                              num_gt[part])
            total[has_gt] += aps[has_gt]
            counted += has_gt
        aps = total / np.maximum(counted, 1)[:, None]
        out = dict(mAP=aps.mean(axis=1), mAP_50=aps[:, 0])
        if single:
            return {k: float(v[0]) for k, v in out.items()}
        return out


def per_image_ap(table: PooledMatches, key: str = 'mAP') -> np.ndarray:
    """COCO AP of every image alone on every route, (R, n) (0 for an image
    without ground truth)."""
    r, n = table.num_routes, table.num_images
    w = np.zeros((r * n, r, n))
    for route in range(r):
        w[route * n + np.arange(n), route, np.arange(n)] = 1.0
    return table.ap(w)[key].reshape(r, n)


def pooled_ap(matches: Sequence[Optional[Dict]]) -> Dict[str, float]:
    """COCO AP (IoU 0.50:0.95) and AP50 of the pooled per-image matches
    (repeats count as often as they appear): per category over the images,
    then the mean over the categories that have ground truth, as
    ``summarize`` does."""
    if not matches:
        return dict(mAP=0.0, mAP_50=0.0)
    return PooledMatches([matches]).ap(np.ones((1, len(matches))))


def percentile_interval(draws: np.ndarray, level: float = 0.95):
    """The ``level`` percentile interval of bootstrap draws (along axis
    0)."""
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(np.asarray(draws), [alpha, 1.0 - alpha], axis=0)
    return lo, hi


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
    table = PooledMatches([first, *second])
    rng = np.random.default_rng(seed)
    counts = np.stack([np.ones(n)] + [
        np.bincount(rng.integers(0, n, n), minlength=n)
        for _ in range(num_samples)
    ])  # (1 + samples, n): the full set, then the resamples
    num = len(second) + 1
    diffs = []
    for chunk in np.array_split(np.arange(len(counts)),
                                max(1, len(counts) // 64)):
        w = np.zeros((len(chunk), num, num, n))
        for r in range(num):  # row r takes routing r on every image
            w[:, r, r] = counts[chunk]
        ap = table.ap(w.reshape(-1, num, n))[key].reshape(len(chunk), num)
        diffs.append(ap[:, 0] - ap[:, 1:].mean(axis=1))
    diffs = np.concatenate(diffs)
    lo, hi = percentile_interval(diffs[1:], level)
    return float(diffs[0]), float(lo), float(hi)
