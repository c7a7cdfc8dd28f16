# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""YOLOv7's training loss: OTA label assignment (lead head) and the
coarse-to-fine assignment of the auxiliary head (official ``utils/loss.py``,
``ComputeLossOTA`` and ``ComputeLossAuxOTA``, as ``train.py`` uses them)."""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmdet_dynamic.registry import MODELS

Indices = Tuple[Tensor, Tensor, Tensor, Tensor]  # image, anchor, gj, gi


def xywh_to_xyxy(boxes: Tensor) -> Tensor:
    """(n, 4) centre/size boxes to corners."""
    xy, wh = boxes[:, :2], boxes[:, 2:4]
    return torch.cat([xy - wh / 2, xy + wh / 2], dim=1)


def pairwise_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """IoU of every pair of corner boxes, (n, m)."""
    area1 = (boxes1[:, 2] - boxes1[:, 0]) * (boxes1[:, 3] - boxes1[:, 1])
    area2 = (boxes2[:, 2] - boxes2[:, 0]) * (boxes2[:, 3] - boxes2[:, 1])
    lt = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])
    rb = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(2)
    return inter / (area1[:, None] + area2[None] - inter)


def ciou_xywh(box1: Tensor, box2: Tensor, eps: float = 1e-7) -> Tensor:
    """Complete IoU of matching rows of two (n, 4) centre/size box sets,
    with YOLOv7's eps placement (``bbox_iou(..., CIoU=True)``); the
    aspect-ratio weight alpha is not differentiated."""
    b1_x1, b1_x2 = box1[:, 0] - box1[:, 2] / 2, box1[:, 0] + box1[:, 2] / 2
    b1_y1, b1_y2 = box1[:, 1] - box1[:, 3] / 2, box1[:, 1] + box1[:, 3] / 2
    b2_x1, b2_x2 = box2[:, 0] - box2[:, 2] / 2, box2[:, 0] + box2[:, 2] / 2
    b2_y1, b2_y2 = box2[:, 1] - box2[:, 3] / 2, box2[:, 1] + box2[:, 3] / 2
    inter = (torch.min(b1_x2, b2_x2) - torch.max(b1_x1, b2_x1)).clamp(0) * \
        (torch.min(b1_y2, b2_y2) - torch.max(b1_y1, b2_y1)).clamp(0)
    w1, h1 = b1_x2 - b1_x1, b1_y2 - b1_y1 + eps
    w2, h2 = b2_x2 - b2_x1, b2_y2 - b2_y1 + eps
    union = w1 * h1 + w2 * h2 - inter + eps
    iou = inter / union
    cw = torch.max(b1_x2, b2_x2) - torch.min(b1_x1, b2_x1)
    ch = torch.max(b1_y2, b2_y2) - torch.min(b1_y1, b2_y1)
    c2 = cw**2 + ch**2 + eps
    rho2 = ((b2_x1 + b2_x2 - b1_x1 - b1_x2)**2 +
            (b2_y1 + b2_y2 - b1_y1 - b1_y2)**2) / 4
    v = (4 / math.pi**2) * torch.pow(
        torch.atan(w2 / (h2 + eps)) - torch.atan(w1 / (h1 + eps)), 2)
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (rho2 / c2 + v * alpha)


@MODELS.register_module()
class YOLOv7OTALoss(nn.Module):
    """YOLOv7's loss with OTA assignment.

    Candidates (YOLOv5 style): for each target and anchor of a level, keep
    the anchor if ``max(r, 1 / r) < anchor_t`` for both wh ratios ``r``;
    the target takes its own cell and neighbour cells: the nearer
    horizontal and vertical one (offset ``g = 0.5``, lead head) or all four
    (``g = 1.0``, the auxiliary head's coarser assignment).

    SimOTA among the candidates of an image (all levels, no centre prior):
    IoU in pixels between targets and the decoded candidate predictions;
    dynamic ``k = max(1, int(sum of the top-q IoUs))`` with ``q = 10``
    (lead head alone) or 20 (with the auxiliary head); cost =
    BCE(sqrt(sigmoid(cls) * sigmoid(obj)), one-hot) summed over classes
    + 3 * (-log(IoU + 1e-8)); each target takes its k cheapest candidates;
    a candidate claimed by several targets goes to the cheapest. Both
    assignments are computed from the lead head's predictions.

    Losses per level (summed over levels): box ``mean(1 - CIoU)`` over
    the positives; objectness BCE over every cell against
    ``(1 - gr) + gr * IoU.detach().clamp(0)``, weighted by the level
    balance ([4.0, 1.0, 0.4] for 3 levels, [4.0, 1.0, 0.25, 0.06] for 4);
    class BCE against 1/0 (smoothed by ``label_smoothing``), only when
    there is more than one class, as the official code. The auxiliary
    head's three terms weigh ``aux_weight`` (0.25). Each total is
    multiplied by its gain and by the batch size, as ``train.py`` does.

    Inputs are in the official layout: per level (N, na, H, W, 5 + nc)
    raw outputs; targets (n, 6) rows ``(image, class, cx, cy, w, h)`` with
    the box normalised by the input width and height. (The official code
    converts normalised boxes back to pixels with the input *height* on
    both axes, which is the same for its square inputs; here each axis
    uses its own size.)

    Args:
        num_classes (int): Number of classes.
        anchors (Sequence): Per level, ``na`` anchors (w, h) in pixels.
        strides (Sequence[int]): Level strides.
        box_gain, obj_gain, cls_gain (float): Final gains (after
            ``train.py``'s scaling by levels, classes and image size).
        anchor_t (float): Anchor-ratio threshold. Defaults to 4.0.
        gr (float): IoU ratio of the objectness target. Defaults to 1.0.
        label_smoothing (float): Class label smoothing. Defaults to 0.
        balance (Sequence[float], optional): Objectness weight per level.
        aux_weight (float): Weight of the auxiliary head's terms.
    """

    def __init__(self,
                 num_classes: int,
                 anchors: Sequence[Sequence[Tuple[float, float]]],
                 strides: Sequence[int],
                 box_gain: float,
                 obj_gain: float,
                 cls_gain: float,
                 anchor_t: float = 4.0,
                 gr: float = 1.0,
                 label_smoothing: float = 0.0,
                 balance: Optional[Sequence[float]] = None,
                 aux_weight: float = 0.25) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.num_levels = len(strides)
        self.strides = [float(s) for s in strides]
        anchors_px = torch.tensor(anchors, dtype=torch.float32).view(
            self.num_levels, -1, 2)
        # anchors in grid units of each level, as the official Detect keeps
        self.register_buffer(
            'grid_anchors',
            anchors_px / torch.tensor(self.strides).view(-1, 1, 1),
            persistent=False)
        self.num_anchors = anchors_px.shape[1]
        self.box_gain, self.obj_gain, self.cls_gain = \
            box_gain, obj_gain, cls_gain
        self.anchor_t = anchor_t
        self.gr = gr
        self.cp, self.cn = 1.0 - 0.5 * label_smoothing, 0.5 * label_smoothing
        if balance is None:
            balance = {3: [4.0, 1.0, 0.4]}.get(self.num_levels,
                                               [4.0, 1.0, 0.25, 0.06, .02])
        self.balance = list(balance)
        self.aux_weight = aux_weight

    # ------------------------------------------------------------ candidates
    def find_candidates(self, preds: Sequence[Tensor], targets: Tensor,
                        g: float) -> Tuple[List[Indices], List[Tensor]]:
        """YOLOv5-style candidate cells: per level, (image, anchor, gj, gi)
        and the anchors (grid units) of every candidate (one row per
        target, anchor and cell, duplicates kept)."""
        na, nt = self.num_anchors, targets.shape[0]
        device = targets.device
        ai = torch.arange(na, device=device).float().view(na, 1).repeat(
            1, nt)
        t_all = torch.cat((targets.repeat(na, 1, 1), ai[:, :, None]), 2)
        off = torch.tensor([[0, 0], [1, 0], [0, 1], [-1, 0], [0, -1]],
                           device=device).float() * g
        indices, anchors = [], []
        for i, p in enumerate(preds):
            level_anchors = self.grid_anchors[i].to(device)
            h, w = p.shape[2], p.shape[3]
            gain = torch.tensor([1, 1, w, h, w, h, 1], device=device,
                                dtype=torch.float32)
            t = t_all * gain
            if nt:
                r = t[:, :, 4:6] / level_anchors[:, None]
                keep = torch.max(r, 1. / r).max(2)[0] < self.anchor_t
                t = t[keep]
                gxy = t[:, 2:4]
                gxi = gain[[2, 3]] - gxy
                j, k = ((gxy % 1. < g) & (gxy > 1.)).T
                l_, m = ((gxi % 1. < g) & (gxi > 1.)).T
                sel = torch.stack((torch.ones_like(j), j, k, l_, m))
                t = t.repeat((5, 1, 1))[sel]
                offsets = (torch.zeros_like(gxy)[None] + off[:, None])[sel]
            else:
                t = t_all[0]
                offsets = 0
            b = t[:, 0].long()
            gij = (t[:, 2:4] - offsets).long()
            gi, gj = gij.T
            a = t[:, 6].long()
            indices.append((b, a, gj.clamp(0, h - 1), gi.clamp(0, w - 1)))
            anchors.append(level_anchors[a])
        return indices, anchors

    # ------------------------------------------------------------ assignment
    @torch.no_grad()
    def assign(self, preds: Sequence[Tensor], targets: Tensor,
               input_size: Tuple[int, int], g: float, topk: int
               ) -> Tuple[List[Indices], List[Tensor], List[Tensor]]:
        """SimOTA among the candidate cells (see the class docstring).

        Returns:
            tuple: Per level the positives' (image, anchor, gj, gi), their
            targets (rows of ``targets``) and anchors (grid units).
        """
        indices, anch = self.find_candidates(preds, targets, g)
        device = targets.device
        nl = len(preds)
        in_h, in_w = input_size
        scale = torch.tensor([in_w, in_h, in_w, in_h], device=device,
                             dtype=torch.float32)
        m_idx: List[List[Tensor]] = [[] for _ in range(nl)]
        m_tgt: List[List[Tensor]] = [[] for _ in range(nl)]
        m_anc: List[List[Tensor]] = [[] for _ in range(nl)]
        for batch_idx in range(preds[0].shape[0]):
            this_target = targets[targets[:, 0] == batch_idx]
            if this_target.shape[0] == 0:
                continue
            txyxy = xywh_to_xyxy(this_target[:, 2:6] * scale)
            boxes, p_obj, p_cls, layer, cand, cand_anch = [], [], [], [], \
                [], []
            for i, pi in enumerate(preds):
                b, a, gj, gi = indices[i]
                sel = b == batch_idx
                b, a, gj, gi = b[sel], a[sel], gj[sel], gi[sel]
                fg = pi[b, a, gj, gi].float()
                grid = torch.stack([gi, gj], dim=1)
                pxy = (fg[:, :2].sigmoid() * 2. - 0.5 + grid) * \
                    self.strides[i]
                pwh = (fg[:, 2:4].sigmoid() * 2)**2 * anch[i][sel] * \
                    self.strides[i]
                boxes.append(xywh_to_xyxy(torch.cat([pxy, pwh], dim=-1)))
                p_obj.append(fg[:, 4:5])
                p_cls.append(fg[:, 5:])
                layer.append(torch.full((len(b), ), i, device=device))
                cand.append(torch.stack([b, a, gj, gi], dim=1))
                cand_anch.append(anch[i][sel])
            pboxes = torch.cat(boxes)
            if pboxes.shape[0] == 0:
                continue
            p_obj, p_cls = torch.cat(p_obj), torch.cat(p_cls)
            layer, cand = torch.cat(layer), torch.cat(cand)
            cand_anch = torch.cat(cand_anch)

            iou = pairwise_iou(txyxy, pboxes)
            iou_cost = -torch.log(iou + 1e-8)
            top, _ = torch.topk(iou, min(topk, iou.shape[1]), dim=1)
            dynamic_ks = torch.clamp(top.sum(1).int(), min=1)
            num_gt = this_target.shape[0]
            onehot = F.one_hot(this_target[:, 1].long(),
                               self.num_classes).float()
            onehot = onehot[:, None].repeat(1, pboxes.shape[0], 1)
            y = (p_cls.sigmoid()[None] * p_obj.sigmoid()[None]).repeat(
                num_gt, 1, 1).sqrt()
            cls_cost = F.binary_cross_entropy_with_logits(
                torch.log(y / (1 - y)), onehot, reduction='none').sum(-1)
            cost = cls_cost + 3.0 * iou_cost

            matching = torch.zeros_like(cost)
            for gt_idx in range(num_gt):
                _, pos = torch.topk(cost[gt_idx],
                                    k=int(dynamic_ks[gt_idx]),
                                    largest=False)
                matching[gt_idx][pos] = 1.0
            claimed = matching.sum(0)
            if (claimed > 1).any():
                _, argmin = torch.min(cost[:, claimed > 1], dim=0)
                matching[:, claimed > 1] *= 0.0
                matching[argmin, claimed > 1] = 1.0
            fg_mask = matching.sum(0) > 0.0
            matched_gt = matching[:, fg_mask].argmax(0)
            layer, cand = layer[fg_mask], cand[fg_mask]
            cand_anch = cand_anch[fg_mask]
            matched_targets = this_target[matched_gt]
            for i in range(nl):
                on = layer == i
                m_idx[i].append(cand[on])
                m_tgt[i].append(matched_targets[on])
                m_anc[i].append(cand_anch[on])
        out_idx, out_tgt, out_anc = [], [], []
        for i in range(nl):
            if m_idx[i]:
                cand = torch.cat(m_idx[i])
                out_tgt.append(torch.cat(m_tgt[i]))
                out_anc.append(torch.cat(m_anc[i]))
            else:
                cand = torch.zeros((0, 4), dtype=torch.long, device=device)
                out_tgt.append(targets.new_zeros((0, 6)))
                out_anc.append(targets.new_zeros((0, 2)))
            out_idx.append(tuple(cand.T))
        return out_idx, out_tgt, out_anc

    # ------------------------------------------------------------------ loss
    def _level_terms(self, pi: Tensor, idx: Indices, tgt: Tensor,
                     anc: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Box, objectness and class terms of one level (unweighted)."""
        b, a, gj, gi = idx
        tobj = torch.zeros_like(pi[..., 0])
        zero = pi.new_zeros(())
        lbox, lcls = zero, zero
        n = b.shape[0]
        if n:
            ps = pi[b, a, gj, gi]
            grid = torch.stack([gi, gj], dim=1)
            pxy = ps[:, :2].sigmoid() * 2. - 0.5
            pwh = (ps[:, 2:4].sigmoid() * 2)**2 * anc
            pbox = torch.cat((pxy, pwh), 1)
            h, w = pi.shape[2], pi.shape[3]
            tbox = tgt[:, 2:6] * torch.tensor([w, h, w, h], device=pi.device,
                                              dtype=tgt.dtype)
            tbox = torch.cat([tbox[:, :2] - grid, tbox[:, 2:]], dim=1)
            iou = ciou_xywh(pbox, tbox)
            lbox = (1.0 - iou).mean()
            tobj[b, a, gj, gi] = (1.0 - self.gr) + \
                self.gr * iou.detach().clamp(0).type(tobj.dtype)
            if self.num_classes > 1:
                t = torch.full_like(ps[:, 5:], self.cn)
                t[range(n), tgt[:, 1].long()] = self.cp
                lcls = F.binary_cross_entropy_with_logits(ps[:, 5:], t)
        lobj = F.binary_cross_entropy_with_logits(pi[..., 4], tobj)
        return lbox, lobj, lcls

    def forward(self,
                preds: Sequence[Tensor],
                targets: Tensor,
                input_size: Tuple[int, int],
                aux_preds: Optional[Sequence[Tensor]] = None
                ) -> Dict[str, Tensor]:
        """YOLOv7's loss.

        Args:
            preds (Sequence[Tensor]): Lead outputs, per level
                (N, na, H_i, W_i, 5 + num_classes).
            targets (Tensor): (n, 6) ``(image, class, cx, cy, w, h)``,
                boxes normalised by the input size.
            input_size (tuple): (H, W) of the network input.
            aux_preds (Sequence[Tensor], optional): Auxiliary outputs, same
                shapes as ``preds``; with them the loss is
                ``ComputeLossAuxOTA`` (top-20 dynamic k), without
                ``ComputeLossOTA`` (top-10).

        Returns:
            dict: ``loss_bbox``, ``loss_obj``, ``loss_cls``, each already
            multiplied by its gain and the batch size.
        """
        with_aux = bool(aux_preds)
        topk = 20 if with_aux else 10
        idx, tgt, anc = self.assign(preds, targets, input_size, 0.5, topk)
        if with_aux:
            aux_idx, aux_tgt, aux_anc = self.assign(preds, targets,
                                                    input_size, 1.0, topk)
        lbox = lobj = lcls = preds[0].new_zeros(())
        for i, pi in enumerate(preds):
            box, obj, cls = self._level_terms(pi, idx[i], tgt[i], anc[i])
            lbox, lcls = lbox + box, lcls + cls
            lobj = lobj + obj * self.balance[i]
            if with_aux:
                box, obj, cls = self._level_terms(aux_preds[i], aux_idx[i],
                                                  aux_tgt[i], aux_anc[i])
                lbox = lbox + self.aux_weight * box
                lcls = lcls + self.aux_weight * cls
                lobj = lobj + self.aux_weight * obj * self.balance[i]
        bs = preds[0].shape[0]
        return dict(
            loss_bbox=lbox * self.box_gain * bs,
            loss_obj=lobj * self.obj_gain * bs,
            loss_cls=lcls * self.cls_gain * bs)
