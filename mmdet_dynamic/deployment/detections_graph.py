# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Heads' post-processing (decoding, score threshold, class-aware NMS,
``max_per_img``) in standard ONNX ops, padded to a fixed number of
detections per image.

What mmdet computes image by image with dynamic shapes (``predict_by_feat``
of the heads) is computed here for a whole batch in a form that traces to
ONNX: candidates are (N, B, C) score tables where excluded (box, class)
pairs score -1; ONNX ``NonMaxSuppression`` runs per image and class; the
kept pairs are scattered into one row per image and the ``max_per_img``
best taken with ``TopK``. Each head's rules are those of its mmdet code:

* :class:`~mmdet_dynamic.models.dense_heads.YOLOv7Head`: objectness above
  the score threshold, then class scores (multi-label or the best class),
  the ``nms_pre`` best pairs;
* mmdet's ``YOLOXHead``: the best class times objectness, at or above the
  threshold;
* anchor heads (``AnchorHead`` and subclasses: RetinaNet, EfficientDet):
  per level the ``nms_pre`` best (anchor, class) pairs above the threshold,
  boxes decoded and clipped to the image, ``min_bbox_size``;
* two-stage detectors: RPN proposals (per level ``nms_pre``, clipped,
  ``min_bbox_size``, NMS over the levels, ``max_per_img``), RoI features
  (ONNX ``RoiAlign``), the box head's softmax scores and class-specific
  boxes, ``score_thr``, class-aware NMS; with a mask head, the mask head's
  (28 x 28) probabilities of each kept detection's class.

Outputs: ``dets`` (N, K, 5) ``x1, y1, x2, y2, score`` in the coordinates of
the input image, ``labels`` (N, K) int64 (-1 for padding), ``num_dets``
(N, ) int64, and for mask detectors ``masks`` (N, K, h, w). The kept
detections of an image come first, in descending score order.
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd import Function

from .onnx_ops import roi_align
from .two_stage_graph import UnsupportedExportError

EMPTY = -1.0  # the score of an excluded (box, class) pair


# --------------------------------------------------------------------- NMS
class _BatchedNMS(Function):
    """Per image and class greedy NMS: ONNX ``NonMaxSuppression``."""

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, max_per_class: int,
                iou_threshold: float) -> Tensor:
        from mmcv.ops import nms
        out = []
        for b in range(boxes.shape[0]):
            for c in range(scores.shape[1]):
                idx = (scores[b, c] > EMPTY / 2).nonzero().flatten()
                if len(idx):
                    _, keep = nms(boxes[b, idx], scores[b, c, idx],
                                  iou_threshold)
                    idx = idx[keep[:max_per_class]]
                out.append(torch.stack([torch.full_like(idx, b),
                                        torch.full_like(idx, c), idx], 1))
        if not out:
            return boxes.new_zeros((0, 3), dtype=torch.long)
        return torch.cat(out).long()

    @staticmethod
    def symbolic(g, boxes, scores, max_per_class, iou_threshold):
        return g.op(
            'NonMaxSuppression', boxes, scores,
            g.op('Constant', value_t=torch.tensor([max_per_class])),
            g.op('Constant',
                 value_t=torch.tensor([iou_threshold], dtype=torch.float)),
            g.op('Constant',
                 value_t=torch.tensor([EMPTY / 2], dtype=torch.float)))


def topk_rows(x: Tensor, k: int) -> Tuple[Tensor, Tensor]:
    """``x.topk(k, dim=1)`` of an (N, M) tensor, computed with one extra
    row so that ONNX ``TopK`` never gets an empty batch (N is 0 for a route
    no image takes): onnxruntime before 1.24 (the last that supports
    Python 3.10 is 1.23) stops the process on it."""
    n = x.shape[0]
    padded = torch.cat([x, x.new_full((1, x.shape[1]), EMPTY)], 0)
    values, idx = padded.topk(k, dim=1)
    return values[:n], idx[:n]


def keep_top(scores: Tensor, k: int) -> Tensor:
    """``scores`` (N, M) with all but each row's ``k`` highest set to
    :data:`EMPTY` (excluded pairs stay excluded)."""
    n = scores.shape[0]
    padded = torch.cat([scores, scores.new_full((n, k), EMPTY)], 1)
    _, idx = topk_rows(padded, k)
    mask = torch.zeros_like(padded, dtype=torch.bool).scatter(
        1, idx, torch.ones_like(idx, dtype=torch.bool))
    return torch.where(mask[:, :scores.shape[1]], scores,
                       scores.new_tensor(EMPTY))


def padded_nms(boxes: Tensor,
               scores: Tensor,
               iou_threshold: float,
               max_per_img: int,
               nms_boxes: Optional[Tensor] = None
               ) -> Tuple[Tensor, Tensor, Tensor]:
    """Class-aware NMS of a batch, the ``max_per_img`` best kept per image.

    Args:
        boxes (Tensor): (N, B, 4) boxes shared by the classes, or
            (N, B, C, 4) a box per class.
        scores (Tensor): (N, B, C); pairs scoring :data:`EMPTY` are out.
        iou_threshold (float): NMS IoU threshold (a box is dropped above
            it).
        max_per_img (int): K, the detections kept (and padded to) per
            image.
        nms_boxes (Tensor, optional): Boxes to suppress with, if not
            ``boxes`` (same shape; e.g. shifted per level).

    Returns:
        tuple: ``dets`` (N, K, 5), ``labels`` (N, K) int64 (-1 padding),
        ``num_dets`` (N, ) int64.
    """
    n, b, c = scores.shape
    k = int(max_per_img)
    per_class = boxes.dim() == 4
    suppress = boxes if nms_boxes is None else nms_boxes
    if per_class:  # each class's own boxes: columns j = box * C + class
        flat_boxes = boxes.reshape(n, b * c, 4)
        cols = (torch.arange(b, device=scores.device)[None, :] * c +
                torch.arange(c, device=scores.device)[:, None])  # (C, B)
        nms_scores = scores.new_full((n, c, b * c), EMPTY).scatter(
            2, cols[None].expand(n, -1, -1), scores.permute(0, 2, 1))
        suppress = suppress.reshape(n, b * c, 4)
    else:
        flat_boxes = boxes
        nms_scores = scores.permute(0, 2, 1)
    kept = _BatchedNMS.apply(suppress, nms_scores.contiguous(), k,
                             float(iou_threshold))
    img, cls, box = kept[:, 0], kept[:, 1], kept[:, 2]
    col = box if per_class else box * c + cls
    kept_scores = nms_scores[img, cls, box]
    table = scores.new_full((n, b * c + k), EMPTY).index_put(
        (img, col), kept_scores)
    top_scores, top_cols = topk_rows(table, k)
    valid = top_scores > EMPTY / 2
    top_cols = torch.where(valid, top_cols, torch.zeros_like(top_cols))
    box_idx = top_cols if per_class else torch.div(
        top_cols, c, rounding_mode='floor')
    labels = torch.remainder(top_cols, c)
    top_boxes = torch.gather(flat_boxes, 1,
                             box_idx[..., None].expand(-1, -1, 4))
    dets = torch.cat([top_boxes, top_scores[..., None]], -1)
    dets = torch.where(valid[..., None], dets, dets.new_tensor(0.))
    labels = torch.where(valid, labels, torch.full_like(labels, -1))
    return dets, labels, valid.sum(1)


# ------------------------------------------------------------------ boxes
def cells_last(t: Tensor, last: int) -> Tensor:
    """(N, A * last, H, W) -> (N, H * W * A, last), with every size
    explicit: an empty batch (a route that no image takes in the end-to-end
    graph) reshapes too, where a ``-1`` would be ambiguous."""
    n, ch, h, w = t.shape
    return t.permute(0, 2, 3, 1).reshape(n, h * w * (ch // last), last)


def decode_deltas(coder, anchors: Tensor, deltas: Tensor,
                  valid_hw: Tensor, wh_ratio_clip: float = 16 / 1000
                  ) -> Tensor:
    """``DeltaXYWHBBoxCoder.decode`` of (N, M, 4) deltas on (N, M, 4) (or
    (M, 4)) anchors, each image's boxes clipped to its own (h, w) when the
    coder clips (what ``max_shape=img_shape`` does).

    The arithmetic of mmdet's ``delta2bbox``, written on (..., 4) tensors
    without its reshapes: in the end-to-end graph N is 0 for a route that
    no image takes, where a reshape to ``(N * M, -1)`` is ambiguous."""
    means = deltas.new_tensor(coder.means)
    stds = deltas.new_tensor(coder.stds)
    d = deltas * stds + means
    dxy, dwh = d[..., :2], d[..., 2:]
    pxy = (anchors[..., :2] + anchors[..., 2:]) * 0.5
    pwh = anchors[..., 2:] - anchors[..., :2]
    dxy_wh = pwh * dxy
    max_ratio = abs(math.log(wh_ratio_clip))
    if coder.add_ctr_clamp:
        dxy_wh = dxy_wh.clamp(min=-coder.ctr_clamp, max=coder.ctr_clamp)
        dwh = dwh.clamp(max=max_ratio)
    else:
        dwh = dwh.clamp(min=-max_ratio, max=max_ratio)
    gxy = pxy + dxy_wh
    gwh = pwh * dwh.exp()
    boxes = torch.cat([gxy - gwh * 0.5, gxy + gwh * 0.5], -1)
    if coder.clip_border:
        boxes = clip_to_images(boxes, valid_hw)
    return boxes


def clip_to_images(boxes: Tensor, valid_hw: Tensor) -> Tensor:
    """(N, ..., 4) boxes clipped to each image's own (h, w)."""
    hw = valid_hw.to(boxes.dtype).reshape(
        (valid_hw.shape[0], ) + (1, ) * (boxes.dim() - 2) + (2, ))
    zero = boxes.new_tensor(0.)
    x = torch.min(torch.max(boxes[..., 0::2], zero), hw[..., 1:2])
    y = torch.min(torch.max(boxes[..., 1::2], zero), hw[..., 0:1])
    return torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], -1)


def _min_size_mask(boxes: Tensor, min_size: float) -> Tensor:
    return ((boxes[..., 2] - boxes[..., 0]) > min_size) & (
        (boxes[..., 3] - boxes[..., 1]) > min_size)


def _nms_settings(cfg, what: str, max_per_img: bool = True
                  ) -> Tuple[float, int]:
    """The NMS IoU threshold and K, the detections kept per image, of a
    head's test config: the smaller of ``max_per_img`` (where the head
    caps its results with it; YOLOX does not) and ``nms.max_num`` (mmcv's
    ``batched_nms`` keeps that many best).

    Raises:
        UnsupportedExportError: For an NMS other than plain ``nms``, or
            where nothing caps the detections.
    """
    nms = dict(cfg.get('nms') or {})
    kind = nms.get('type', 'nms')
    kind = getattr(kind, '__name__', kind)
    if kind != 'nms':
        raise UnsupportedExportError(
            f"{what}: test_cfg.nms type {kind!r} has no standard ONNX op "
            "(only greedy 'nms' exports end to end; soft-NMS does not): "
            "set its test_cfg.nms to dict(type='nms', iou_threshold=...)")
    caps = [int(nms['max_num'])] if nms.get('max_num', -1) > 0 else []
    if max_per_img and 'max_per_img' in cfg:
        caps.append(int(cfg['max_per_img']))
    if not caps:
        setting = 'test_cfg.max_per_img or test_cfg.nms.max_num' \
            if max_per_img else 'test_cfg.nms.max_num (it ignores ' \
            'max_per_img)'
        raise UnsupportedExportError(
            f'{what}: nothing caps the detections per image, and the '
            'end-to-end graph pads each image\'s detections to a fixed K: '
            f'set {setting}, e.g. 100, in the config (PyTorch then keeps '
            'the same K best)')
    return float(nms['iou_threshold']), min(caps)


# ------------------------------------------------------------ dense heads
def dense_family(head) -> str:
    """``'yolov7'``, ``'yolox'`` or ``'anchor'``: which post-processing
    rule a dense head follows.

    Raises:
        UnsupportedExportError: For a head family without a rule here.
    """
    from mmdet.models.dense_heads import AnchorHead, YOLOXHead

    from ..models.dense_heads import YOLOv7Head
    if isinstance(head, YOLOv7Head):
        return 'yolov7'
    if isinstance(head, YOLOXHead):
        return 'yolox'
    if isinstance(head, AnchorHead) and type(
            head.bbox_coder).__name__ == 'DeltaXYWHBBoxCoder':
        return 'anchor'
    raise UnsupportedExportError(
        f'{type(head).__name__}: its post-processing has no end-to-end ONNX '
        'form here (supported: YOLOv7Head, YOLOXHead, anchor heads with '
        'DeltaXYWHBBoxCoder); export without --end2end (the graphs then '
        'stop at the head outputs and the Python runner decodes them)')


def dense_candidates(head, outs: Sequence, valid_hw: Tensor,
                     cfg) -> Tuple[Tensor, Tensor]:
    """A dense head's forward outputs as candidates: boxes (N, B, 4) in
    input pixels and scores (N, B, C) (:data:`EMPTY` where mmdet's
    ``predict_by_feat`` drops the pair before NMS)."""
    family = dense_family(head)
    if family == 'yolov7':
        return _yolov7_candidates(head, outs[0], cfg)
    if family == 'yolox':
        return _yolox_candidates(head, outs, cfg)
    return _anchor_candidates(head, outs, valid_hw, cfg)


def _single_or_multi(cls_scores: Tensor, valid: Tensor, score_thr: float,
                     multi_label: bool, strict: bool = True) -> Tensor:
    """(N, B, C) candidate scores: every class above the threshold
    (multi-label) or only each box's best class."""
    above = cls_scores > score_thr if strict else cls_scores >= score_thr
    empty = cls_scores.new_tensor(EMPTY)
    if multi_label:
        return torch.where(valid[..., None] & above, cls_scores, empty)
    best, label = cls_scores.max(-1, keepdim=True)
    keep = valid[..., None] & (best > score_thr if strict else
                               best >= score_thr)
    return torch.full_like(cls_scores, EMPTY).scatter(
        -1, label, torch.where(keep, best, empty))


def _yolov7_candidates(head, preds: Sequence[Tensor], cfg):
    score_thr = cfg.get('score_thr', 0.001)
    multi_label = cfg.get('multi_label', True) and head.num_classes > 1
    nms_pre = cfg.get('nms_pre', 30000)
    det = head.decode(preds)
    boxes = torch.cat([det[..., :2] - det[..., 2:4] / 2,
                       det[..., :2] + det[..., 2:4] / 2], -1)
    obj = det[..., 4]
    cls = obj[..., None] if head.num_classes == 1 else \
        det[..., 5:] * obj[..., None]
    scores = _single_or_multi(cls, obj > score_thr, score_thr, multi_label)
    n, b, c = scores.shape
    if nms_pre > 0:
        scores = keep_top(scores.reshape(n, b * c), nms_pre).view(n, b, c)
    return boxes, scores


def _yolox_candidates(head, outs: Sequence, cfg):
    cls_scores, bbox_preds, objectnesses = outs
    priors = torch.cat(
        head.prior_generator.grid_priors(
            [c.shape[2:] for c in cls_scores],
            dtype=cls_scores[0].dtype,
            device=cls_scores[0].device,
            with_stride=True))
    cls = torch.cat([cells_last(c, head.num_classes) for c in cls_scores],
                    1).sigmoid()
    deltas = torch.cat([cells_last(p, 4) for p in bbox_preds], 1)
    obj = torch.cat([cells_last(o, 1)[..., 0] for o in objectnesses],
                    1).sigmoid()
    boxes = head._bbox_decode(priors, deltas)
    # mmdet: the best class, its score times objectness, >= score_thr
    best, label = cls.max(-1, keepdim=True)
    score = best * obj[..., None]
    keep = score >= cfg.score_thr
    scores = torch.full_like(cls, EMPTY).scatter(
        -1, label, torch.where(keep, score, score.new_tensor(EMPTY)))
    return _min_size(boxes, scores, cfg)


def _min_size(boxes: Tensor, scores: Tensor, cfg) -> Tuple[Tensor, Tensor]:
    """``_bbox_post_process``'s ``min_bbox_size`` filter."""
    min_size = cfg.get('min_bbox_size', -1)
    if min_size >= 0:
        keep = _min_size_mask(boxes, min_size)[..., None]
        scores = torch.where(keep, scores, scores.new_tensor(EMPTY))
    return boxes, scores


def _anchor_candidates(head, outs: Sequence, valid_hw: Tensor, cfg):
    cls_scores, bbox_preds = outs[0], outs[1]
    n = cls_scores[0].shape[0]
    score_thr = cfg.get('score_thr', 0)
    nms_pre = cfg.get('nms_pre', -1)
    if nms_pre <= 0:
        raise UnsupportedExportError(
            f'{type(head).__name__}: test_cfg.nms_pre must be positive for '
            'the end-to-end export (mmdet drops one candidate per level '
            'with nms_pre=-1)')
    priors = head.prior_generator.grid_priors(
        [c.shape[2:] for c in cls_scores], dtype=cls_scores[0].dtype,
        device=cls_scores[0].device)
    all_boxes, all_scores = [], []
    for cls, reg, anchors in zip(cls_scores, bbox_preds, priors):
        logits = cells_last(cls, head.cls_out_channels)
        s = logits.sigmoid() if head.use_sigmoid_cls else \
            logits.softmax(-1)[..., :-1]
        b, c = s.shape[1], s.shape[2]
        s = torch.where(s > score_thr, s, s.new_tensor(EMPTY))
        s = keep_top(s.reshape(n, b * c), nms_pre).view(n, b, c)
        deltas = cells_last(reg, 4)
        all_boxes.append(decode_deltas(head.bbox_coder, anchors, deltas,
                                       valid_hw))
        all_scores.append(s)
    return _min_size(torch.cat(all_boxes, 1), torch.cat(all_scores, 1), cfg)


def dense_detections(head, outs: Sequence, valid_hw: Tensor
                     ) -> Dict[str, Tensor]:
    """A dense head's forward outputs -> padded detections (see the module
    docstring)."""
    cfg = head.test_cfg
    boxes, scores = dense_candidates(head, outs, valid_hw, cfg)
    iou, k = _nms_settings(cfg, type(head).__name__,
                           dense_family(head) != 'yolox')
    dets, labels, num = padded_nms(boxes, scores, iou, k)
    return dict(dets=dets, labels=labels, num_dets=num)


# ---------------------------------------------------------------- two-stage
def roi_features(extractor, feats: Sequence[Tensor], rois: Tensor) -> Tensor:
    """``SingleRoIExtractor`` on ``rois`` (M, 5): (M, C, h, w), with ONNX
    ``RoiAlign``."""
    layers = extractor.roi_layers
    out_size = tuple(layers[0].output_size)
    feats = feats[:extractor.num_inputs]
    out = feats[0].new_zeros(rois.shape[0], extractor.out_channels,
                             *out_size)
    levels = extractor.map_roi_levels(rois, len(feats))
    for i, (feat, layer) in enumerate(zip(feats, layers)):
        inds = (levels == i).nonzero().flatten()
        pooled = roi_align(feat, rois[inds], layer.output_size,
                           layer.spatial_scale, layer.sampling_ratio,
                           layer.aligned)
        out = out.index_put((inds, ), pooled)
    return out


def rpn_proposals(rpn, x: Sequence[Tensor], valid_hw: Tensor
                  ) -> Tuple[Tensor, Tensor]:
    """``RPNHead`` proposals, padded: boxes (N, R, 4) and a validity mask
    (N, R) (R = ``max_per_img``), each image's in descending score order,
    as ``RPNHead._predict_by_feat_single`` computes them."""
    cfg = rpn.test_cfg
    nms_pre = cfg.get('nms_pre', -1)
    cls_scores, bbox_preds = rpn(x)
    scores, boxes, levels = [], [], []
    priors = rpn.prior_generator.grid_priors(
        [c.shape[2:] for c in cls_scores], dtype=cls_scores[0].dtype,
        device=cls_scores[0].device)
    for lvl, (cls, reg, anchors) in enumerate(
            zip(cls_scores, bbox_preds, priors)):
        s = cells_last(cls, 1)[..., 0].sigmoid()
        d = cells_last(reg, 4)
        if nms_pre > 0:
            s = keep_top(s, nms_pre)
        scores.append(s)
        boxes.append(decode_deltas(rpn.bbox_coder, anchors, d, valid_hw))
        levels.append(torch.full_like(s, lvl))
    scores, boxes = torch.cat(scores, 1), torch.cat(boxes, 1)
    levels = torch.cat(levels, 1)
    min_size = cfg.get('min_bbox_size', -1)
    if min_size >= 0:
        scores = torch.where(_min_size_mask(boxes, min_size), scores,
                             scores.new_tensor(EMPTY))
    # mmcv's batched_nms keeps the levels apart by offsets of (max
    # coordinate + 1), the max over the boxes that take part
    valid = scores > EMPTY / 2
    max_coord = torch.where(valid[..., None], boxes,
                            boxes.new_tensor(0.)).flatten(1).max(1)[0]
    offsets = levels * (max_coord[:, None] + 1)
    dets, _, num = padded_nms(boxes, scores[..., None],
                              cfg.nms['iou_threshold'], cfg.max_per_img,
                              nms_boxes=boxes + offsets[..., None])
    r = dets.shape[1]
    return dets[..., :4], torch.arange(r, device=dets.device)[None] < \
        num[:, None]


def two_stage_detections(detector, x: Sequence[Tensor], valid_hw: Tensor
                         ) -> Dict[str, Tensor]:
    """RPN, RoI features, box head (and mask head) -> padded detections,
    as ``rpn_head.predict`` then ``roi_head.predict`` compute them."""
    roi_head = detector.roi_head
    bbox_head = roi_head.bbox_head
    cfg = roi_head.test_cfg
    iou, k = _nms_settings(cfg, 'roi_head')
    proposals, valid = rpn_proposals(detector.rpn_head, x, valid_hw)
    n, r = valid.shape
    img = torch.arange(n, device=proposals.device)[:, None].expand(-1, r)
    rois = torch.cat([img.reshape(-1, 1).to(proposals.dtype),
                      proposals.reshape(-1, 4)], 1)
    feats = roi_features(roi_head.bbox_roi_extractor, x, rois)
    if roi_head.with_shared_head:
        feats = roi_head.shared_head(feats)
    cls_score, bbox_pred = bbox_head(feats)
    c = bbox_head.num_classes
    scores = F.softmax(cls_score, dim=-1)[:, :c].reshape(n, r, c)
    scores = torch.where(
        valid[..., None] & (scores > cfg.score_thr), scores,
        scores.new_tensor(EMPTY))
    per_class = not bbox_head.reg_class_agnostic
    # (N, R, C, 4) a box per class, or (N, R, 4) one per proposal
    deltas = bbox_pred.reshape((n, r, c, 4) if per_class else (n, r, 4))
    anchors = proposals[:, :, None, :] if per_class else proposals
    boxes = decode_deltas(bbox_head.bbox_coder, anchors, deltas, valid_hw)
    dets, labels, num = padded_nms(boxes, scores, iou, k)
    out = dict(dets=dets, labels=labels, num_dets=num)
    if roi_head.with_mask:
        out['masks'] = mask_probabilities(roi_head, x, dets, labels)
    return out


def mask_probabilities(roi_head, x: Sequence[Tensor], dets: Tensor,
                       labels: Tensor) -> Tensor:
    """The mask head's probabilities (N, K, h, w) of each detection's
    class, on its box (what ``FCNMaskHead.predict_by_feat`` pastes into
    the image)."""
    n, k = labels.shape
    img = torch.arange(n, device=dets.device)[:, None].expand(-1, k)
    rois = torch.cat([img.reshape(-1, 1).to(dets.dtype),
                      dets[..., :4].reshape(-1, 4)], 1)
    feats = roi_features(roi_head.mask_roi_extractor, x, rois)
    if roi_head.with_shared_head and roi_head.share_roi_extractor:
        feats = roi_head.shared_head(feats)
    preds = roi_head.mask_head(feats)  # (N*K, C or 1, h, w)
    cls = labels.clamp(min=0).reshape(-1)
    if preds.shape[1] > 1:
        preds = preds[torch.arange(n * k, device=preds.device), cls]
    else:
        preds = preds[:, 0]
    return preds.sigmoid().reshape(n, k, *preds.shape[-2:])


def detector_detections(detector, backbone_outs: Sequence[Tensor],
                        valid_hw: Tensor) -> Dict[str, Tensor]:
    """A detector's neck, heads and post-processing on its backbone's
    outputs: padded detections."""
    from mmdet.models.detectors import TwoStageDetector

    from ..models.detectors.detector_heads import neck_features
    x = neck_features(detector, backbone_outs)
    if isinstance(detector, TwoStageDetector):
        return two_stage_detections(detector, x, valid_hw)
    return dense_detections(detector.bbox_head, detector.bbox_head(x),
                            valid_hw)


def check_end2end_exportable(detector) -> None:
    """Refuse, before tracing, what the end-to-end graph cannot compute.

    Raises:
        UnsupportedExportError: Naming the head, the NMS type or the
            missing setting.
    """
    from mmdet.models.detectors import TwoStageDetector
    if isinstance(detector, TwoStageDetector):
        cfg = detector.roi_head.test_cfg
        _nms_settings(cfg, 'roi_head')
        if type(detector.roi_head).__name__ != 'StandardRoIHead':
            raise UnsupportedExportError(
                f'roi_head {type(detector.roi_head).__name__} is not '
                'supported end to end (only StandardRoIHead)')
        if detector.roi_head.with_mask and type(
                detector.roi_head.mask_head).__name__ != 'FCNMaskHead':
            raise UnsupportedExportError(
                f'mask head {type(detector.roi_head.mask_head).__name__} '
                'is not supported end to end (only FCNMaskHead)')
        return
    head = detector.bbox_head
    _nms_settings(head.test_cfg, type(head).__name__,
                  dense_family(head) != 'yolox')


def clips_to_original(detector) -> bool:
    """Whether the detector's head clamps its final boxes to the original
    image after rescaling (YOLOv7Head, as the official ``scale_coords``):
    the graph cannot (it does not know the original size, and a ``Pad`` in
    the test pipeline hides it), so the export records it for the runner
    (metadata ``clip_to_original``)."""
    from mmdet.models.detectors import TwoStageDetector
    return not isinstance(detector, TwoStageDetector) and dense_family(
        detector.bbox_head) == 'yolov7'
