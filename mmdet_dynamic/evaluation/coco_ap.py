# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""COCO AP as ``pycocotools``' ``COCOeval`` computes it, for one image (a
router target) and for weighted cumulative counts (the bootstrap reports).

Both follow COCOeval with area range ``all`` and at most 100 detections
per image and category: detections are matched in descending score order
(stable), each to the unmatched ground truth of its class with the highest
IoU at or above the threshold (the later one on a tie), at the ten IoU
thresholds 0.50:0.05:0.95; precision is made monotone from the right and
read at 101 recall points; a class's AP is their mean; the image's or
dataset's AP is the mean over the classes that have ground truth.
"""
import numpy as np

RECALL_POINTS = np.linspace(0.0, 1.0, 101)
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
MAX_DETS = 100


def interpolated_ap(tp: np.ndarray, fp: np.ndarray,
                    num_gt: np.ndarray) -> np.ndarray:
    """COCO's 101-point interpolated precision, averaged.

    Args:
        tp (np.ndarray): (B, D) cumulative (weighted) true positives of
            detections in descending score order, one row per case.
        fp (np.ndarray): (B, D) cumulative false positives.
        num_gt (np.ndarray): (B, ) ground truths of each row.

    Returns:
        np.ndarray: (B, ) AP; 0 for rows without ground truth.
    """
    tp, fp = np.atleast_2d(tp), np.atleast_2d(fp)
    return counted_ap(tp, tp + fp, num_gt)


def counted_ap(tp: np.ndarray, dets: np.ndarray,
               num_gt: np.ndarray) -> np.ndarray:
    """:func:`interpolated_ap` from the cumulative true positives ``tp``
    and the cumulative detections that count, ``dets`` (true plus false
    positives), both (B, D): one cumulative sum fewer where ``dets`` is
    shared by the ten IoU thresholds."""
    num_gt = np.atleast_1d(np.asarray(num_gt, dtype=np.float64))
    out = np.zeros(tp.shape[0])
    if tp.shape[1] == 0:
        return out
    precision = tp / (dets + np.spacing(1))
    precision = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    for b in np.flatnonzero(num_gt > 0):
        recall = tp[b] / num_gt[b]
        inds = np.searchsorted(recall, RECALL_POINTS, side='left')
        valid = inds < recall.size
        out[b] = precision[b, inds[valid]].sum() / RECALL_POINTS.size
    return out


def _box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU (D, G) of boxes (x1, y1, x2, y2) as COCOeval computes it for
    boxes given as (x, y, w, h) with the same corners."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _class_matches(iou: np.ndarray) -> np.ndarray:
    """(T, D) booleans: whether each detection (rows of ``iou``, in score
    order) is matched at each IoU threshold, COCOeval's greedy rule."""
    num_det, num_gt = iou.shape
    matched = np.zeros((IOU_THRESHOLDS.size, num_det), dtype=bool)
    taken = np.zeros((IOU_THRESHOLDS.size, num_gt), dtype=bool)
    thr = np.minimum(IOU_THRESHOLDS, 1 - 1e-10)[:, None]
    for d in range(num_det):
        cand = np.where(~taken & (iou[d][None] >= thr), iou[d][None], -1.0)
        best = cand.max(axis=1)
        has = best >= 0
        # the last ground truth with the best IoU, as COCOeval's loop
        pick = num_gt - 1 - np.argmax(cand[:, ::-1] == best[:, None], axis=1)
        matched[has, d] = True
        taken[np.flatnonzero(has), pick[has]] = True
    return matched


def image_ap(pred_bboxes, pred_scores, pred_labels, gt_bboxes,
             gt_labels) -> float:
    """COCO AP (IoU 0.50:0.95) of one image's detections against its
    ground truth: per class with ground truth, then the mean (detections of
    classes without ground truth do not count, as in COCOeval on one
    image). 0 for an image without ground truth.

    Args:
        pred_bboxes: (D, 4) boxes (x1, y1, x2, y2), array-like.
        pred_scores: (D, ) scores.
        pred_labels: (D, ) class indices.
        gt_bboxes: (G, 4) ground-truth boxes, same coordinates.
        gt_labels: (G, ) class indices.

    Returns:
        float: AP in [0, 1].
    """
    pb, ps, pl, gb, gl = (np.asarray(x, dtype=np.float64).reshape(shape)
                          for x, shape in ((pred_bboxes, (-1, 4)),
                                           (pred_scores, (-1, )),
                                           (pred_labels, (-1, )),
                                           (gt_bboxes, (-1, 4)),
                                           (gt_labels, (-1, ))))
    aps = []
    for c in np.unique(gl):
        gts = gb[gl == c]
        mask = pl == c
        order = np.argsort(-ps[mask], kind='mergesort')[:MAX_DETS]
        dets = pb[mask][order]
        if not len(dets):
            aps.append(0.0)
            continue
        matched = _class_matches(_box_iou(dets, gts))
        tp = np.cumsum(matched, axis=1, dtype=np.float64)
        fp = np.cumsum(~matched, axis=1, dtype=np.float64)
        aps.append(
            float(interpolated_ap(tp, fp, np.full(len(tp), len(gts))).mean()))
    return float(np.mean(aps)) if aps else 0.0
