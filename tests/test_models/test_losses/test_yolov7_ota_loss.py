# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""YOLOv7's OTA loss on a case worked out by hand."""
import math

import pytest
import torch

from mmdet_dynamic.models.losses import YOLOv7OTALoss, ciou_xywh

# three levels on a 64 x 64 input (8 x 8, 4 x 4, 2 x 2 cells), square
# anchors; only level 0's first anchor (16 x 16) fits a 16 x 16 box within
# anchor_t = 1.5
ANCHORS = [[(16, 16), (64, 64), (128, 128)], [(300, 300)] * 3,
           [(600, 600)] * 3]


def make_loss(**kwargs):
    return YOLOv7OTALoss(
        num_classes=2,
        anchors=ANCHORS,
        strides=(8, 16, 32),
        box_gain=1.0,
        obj_gain=1.0,
        cls_gain=1.0,
        anchor_t=1.5,
        **kwargs)


def zero_preds(batch=1):
    """All-zero logits: every prediction is its anchor box centred on its
    cell, objectness and class probabilities 0.5."""
    return [torch.zeros(batch, 3, s, s, 7) for s in (8, 4, 2)]


# one 16 x 16 box of class 1 centred at (34, 34) px = cell (4.25, 4.25)
TARGET = torch.tensor([[0, 1, 34 / 64, 34 / 64, 16 / 64, 16 / 64]])


def test_candidates_lead_and_aux():
    loss = make_loss()
    preds = zero_preds()
    idx, _ = loss.find_candidates(preds, TARGET, g=0.5)
    # the own cell plus the nearer horizontal and vertical neighbours
    cells = sorted(zip(idx[0][2].tolist(), idx[0][3].tolist()))
    assert cells == [(3, 4), (4, 3), (4, 4)]
    assert idx[0][1].tolist() == [0, 0, 0]  # only the 16 x 16 anchor fits
    assert len(idx[1][0]) == 0 and len(idx[2][0]) == 0
    idx, _ = loss.find_candidates(preds, TARGET, g=1.0)
    cells = sorted(zip(idx[0][2].tolist(), idx[0][3].tolist()))
    assert cells == [(3, 4), (4, 3), (4, 4), (4, 5), (5, 4)]


def test_assignment_takes_the_cheapest_cell():
    # candidate IoUs with the target: own cell 196/316, the two near
    # neighbours 140/372 each -> dynamic k = int(1.373) = 1, and the own
    # cell has the lowest IoU cost (class costs are equal)
    loss = make_loss()
    idx, tgt, anc = loss.assign(zero_preds(), TARGET, (64, 64), 0.5, 10)
    assert [t.tolist() for t in idx[0]] == [[0], [0], [4], [4]]
    assert torch.equal(tgt[0], TARGET)
    assert anc[0].tolist() == [[2.0, 2.0]]  # 16 px in stride-8 cells
    assert all(len(i[0]) == 0 for i in idx[1:])


def test_loss_values_by_hand():
    loss = make_loss()
    out = loss(zero_preds(), TARGET, (64, 64))
    # box: in cells, prediction (0.5, 0.5, 2, 2), target (0.25, 0.25, 2, 2):
    # IoU 1.75^2 / (8 - 1.75^2); centre distance^2 0.125 over the enclosing
    # diagonal^2 2 * 2.25^2; same aspect ratio, so no v term
    iou = 1.75**2 / (8 - 1.75**2)
    ciou = iou - 0.125 / (2 * 2.25**2)
    assert out['loss_bbox'].item() == pytest.approx(1 - ciou, abs=1e-5)
    # objectness: BCE of a zero logit is log 2 whatever the target, on
    # every cell; level balance 4.0 + 1.0 + 0.4
    assert out['loss_obj'].item() == pytest.approx(5.4 * math.log(2),
                                                   rel=1e-6)
    # class BCE of zero logits against (0, 1): log 2
    assert out['loss_cls'].item() == pytest.approx(math.log(2), rel=1e-6)


def test_loss_scales_with_batch_and_gains():
    loss = YOLOv7OTALoss(2, ANCHORS, (8, 16, 32), box_gain=0.1,
                         obj_gain=0.2, cls_gain=0.3, anchor_t=1.5)
    second = TARGET.clone()
    second[:, 0] = 1  # the same box on image 1
    targets = torch.cat([TARGET, second])
    single = make_loss()(zero_preds(), TARGET, (64, 64))
    out = loss(zero_preds(2), targets, (64, 64))
    # two identical images: per-term means unchanged, times batch 2 and gain
    for key, gain in (('loss_bbox', 0.1), ('loss_obj', 0.2),
                      ('loss_cls', 0.3)):
        assert out[key].item() == pytest.approx(
            2 * gain * single[key].item(), rel=1e-5)


def test_one_class_has_no_class_loss():
    loss = YOLOv7OTALoss(1, ANCHORS, (8, 16, 32), 1., 1., 1., anchor_t=1.5)
    preds = [torch.zeros(1, 3, s, s, 6) for s in (8, 4, 2)]
    target = TARGET.clone()
    target[:, 1] = 0
    out = loss(preds, target, (64, 64))
    assert out['loss_cls'].item() == 0.0
    assert out['loss_bbox'].item() > 0


def test_aux_terms_weigh_a_quarter():
    loss = make_loss()
    lead = loss(zero_preds(), TARGET, (64, 64))
    both = loss(zero_preds(), TARGET, (64, 64), aux_preds=zero_preds())
    # the aux assignment is the same own cell here (dynamic k = 1), so each
    # term gains a quarter of itself
    for key in lead:
        assert both[key].item() == pytest.approx(1.25 * lead[key].item(),
                                                 rel=1e-5)


def test_ciou_of_identical_boxes_is_one():
    boxes = torch.tensor([[1., 2., 3., 4.]])
    assert ciou_xywh(boxes, boxes).item() == pytest.approx(1.0, abs=1e-6)
