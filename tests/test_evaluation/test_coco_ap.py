# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""One image's COCO AP (the router's AP-gain target) equals pycocotools'."""
import contextlib
import io

import numpy as np
import pytest

from mmdet_dynamic.evaluation import image_ap


def test_hand_worked_cases():
    gt = [[0, 0, 10, 10]]
    assert image_ap([[0, 0, 10, 10]], [0.9], [0], gt, [0]) == pytest.approx(1)
    # IoU 0.64: a match at thresholds 0.50 .. 0.60 (3 of 10)
    assert image_ap([[0, 0, 8, 8]], [0.9], [0], gt, [0]) == pytest.approx(0.3)
    # a false positive ranked above the hit: precision 1/2 at recall 1
    assert image_ap([[50, 50, 60, 60], [0, 0, 10, 10]], [0.9, 0.8], [0, 0],
                    gt, [0]) == pytest.approx(0.5)
    # a detection of a class without ground truth does not count
    assert image_ap([[0, 0, 10, 10], [50, 50, 60, 60]], [0.5, 0.9], [0, 1],
                    gt, [0]) == pytest.approx(1)
    # classes with ground truth are averaged: one found, one missed
    assert image_ap([[0, 0, 10, 10]], [0.9], [0],
                    [[0, 0, 10, 10], [20, 20, 30, 30]],
                    [0, 1]) == pytest.approx(0.5)
    assert image_ap([], [], [], [], []) == 0.0  # no ground truth
    assert image_ap([], [], [], gt, [0]) == 0.0


@pytest.mark.parametrize('seed', range(4))
def test_equals_cocoeval_on_crowded_random_boxes(seed):
    """Overlapping ground truths and detections of 3 classes, so that the
    greedy matching order matters."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    rng = np.random.default_rng(seed)

    def boxes(n):
        xy = rng.uniform(0, 60, (n, 2))
        wh = rng.uniform(8, 40, (n, 2))
        return np.concatenate([xy, xy + wh], axis=1).round(1)

    gt_b, gt_l = boxes(12), rng.integers(0, 3, 12)
    jitter = rng.normal(0, 4, (12, 4))
    det_b = np.concatenate([gt_b + jitter, boxes(20)])
    det_b[:, 2:] = np.maximum(det_b[:, 2:], det_b[:, :2] + 1)
    det_l = np.concatenate([gt_l, rng.integers(0, 3, 20)])
    det_s = rng.uniform(0.05, 1, len(det_b)).round(4)
    coco = COCO()
    coco.dataset = dict(
        images=[dict(id=1, width=120, height=120)],
        categories=[dict(id=c + 1, name=str(c)) for c in range(3)],
        annotations=[
            dict(id=i + 1, image_id=1, category_id=int(l) + 1,
                 bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]],
                 area=float((b[2] - b[0]) * (b[3] - b[1])), iscrowd=0)
            for i, (b, l) in enumerate(zip(gt_b, gt_l))
        ])
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
        dets = coco.loadRes([
            dict(image_id=1, category_id=int(l) + 1,
                 bbox=[b[0], b[1], b[2] - b[0], b[3] - b[1]], score=float(s))
            for b, l, s in zip(det_b, det_l, det_s)
        ])
        ev = COCOeval(coco, dets, 'bbox')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert image_ap(det_b, det_s, det_l, gt_b, gt_l) == pytest.approx(
        ev.stats[0], abs=1e-9)
