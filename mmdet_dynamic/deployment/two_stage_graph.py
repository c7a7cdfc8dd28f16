# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The part of a two-stage mmdet detector after its neck, in a form that
exports to standard ONNX ops (proposals, RoI features, box head)."""
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

from mmdet.models.detectors import TwoStageDetector
from mmdet.models.task_modules.coders.delta_xywh_bbox_coder import \
    delta2bbox
from .onnx_ops import nms_indices, roi_align


class UnsupportedExportError(ValueError):
    """The model holds something that has no standard ONNX equivalent
    here."""


def check_two_stage_exportable(detector: TwoStageDetector) -> None:
    """Refuse, naming the part, what :class:`TwoStageHeadsGraph` cannot
    export exactly.

    Raises:
        UnsupportedExportError: For a mask branch, an RPN whose coder is
            not ``DeltaXYWHBBoxCoder``, softmax RPN scores, a RoI extractor
            other than ``SingleRoIExtractor`` with mmcv's average
            ``RoIAlign``, or a cascade of RoI heads.
    """
    rpn, roi_head = detector.rpn_head, detector.roi_head
    name = type(detector).__name__
    if not detector.with_rpn:
        raise UnsupportedExportError(
            f'{name} has no RPN (precomputed proposals): the exported '
            'graph computes its own proposals')
    if getattr(roi_head, 'with_mask', False):
        raise UnsupportedExportError(
            f'{name} has a mask branch; its ONNX export (mask head and '
            'paste-back) is not supported: export a Faster R-CNN-type '
            'detector or remove roi_head.mask_head')
    if type(roi_head).__name__ != 'StandardRoIHead':
        raise UnsupportedExportError(
            f'roi_head {type(roi_head).__name__} is not supported (only '
            'StandardRoIHead exports)')
    coder = type(rpn.bbox_coder).__name__
    if coder != 'DeltaXYWHBBoxCoder' or type(
            roi_head.bbox_head.bbox_coder).__name__ != coder:
        raise UnsupportedExportError(
            f'box coder {coder} is not supported (only DeltaXYWHBBoxCoder)')
    if not rpn.use_sigmoid_cls:
        raise UnsupportedExportError(
            'an RPN with softmax scores is not supported (use_sigmoid=True)')
    extractor = roi_head.bbox_roi_extractor
    if type(extractor).__name__ != 'SingleRoIExtractor':
        raise UnsupportedExportError(
            f'RoI extractor {type(extractor).__name__} is not supported '
            '(only SingleRoIExtractor)')
    for layer in extractor.roi_layers:
        if type(layer).__name__ != 'RoIAlign':
            raise UnsupportedExportError(
                f'RoI layer {type(layer).__name__} has no standard ONNX '
                'equivalent (ONNX RoiAlign covers mmcv RoIAlign only)')
        if layer.pool_mode != 'avg':
            raise UnsupportedExportError(
                "mmcv RoIAlign with pool_mode='max' has no standard ONNX "
                "equivalent (ONNX RoiAlign's max mode takes the max of "
                "weighted samples); use pool_mode='avg'")


class TwoStageHeadsGraph(nn.Module):
    """RPN proposals, RoI features and the box head of a two-stage
    detector: what ``rpn_head.predict`` and ``roi_head.predict`` compute
    before the box head's ``predict_by_feat`` (which the runner applies).

    The proposals follow ``RPNHead._predict_by_feat_single``: per level the
    ``nms_pre`` best sigmoid scores, boxes decoded and clipped to each
    image's own ``(h, w)``, boxes no wider or higher than ``min_bbox_size``
    dropped, NMS per level (mmcv's ``batched_nms`` offsets) and the
    ``max_per_img`` best kept. RoI features follow ``SingleRoIExtractor``
    (level by ``map_roi_levels``, then the level's RoIAlign).

    Args:
        detector (TwoStageDetector): Its ``rpn_head`` and ``roi_head`` are
            used (not copied).
    """

    def __init__(self, detector: TwoStageDetector) -> None:
        super().__init__()
        check_two_stage_exportable(detector)
        self.rpn_head = detector.rpn_head
        self.roi_head = detector.roi_head

    def forward(self, x: Sequence[Tensor],
                valid_hw: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Args:
            x (Sequence[Tensor]): Neck maps (N, C, H_i, W_i).
            valid_hw (Tensor): (N, 2) int64, each image's own (h, w)
                (``img_shape``) in input pixels.

        Returns:
            tuple: ``rois`` (K, 5) ``(image, x1, y1, x2, y2)``, image by
            image; ``cls_score`` (K, num_classes + 1); ``bbox_pred``
            (K, 4 * num_classes) (or (K, 4), class-agnostic).
        """
        rois = self.proposals(x, valid_hw)
        roi_head = self.roi_head
        extractor = roi_head.bbox_roi_extractor
        feats = self.roi_features(x[:extractor.num_inputs], rois)
        if roi_head.with_shared_head:
            feats = roi_head.shared_head(feats)
        cls_score, bbox_pred = roi_head.bbox_head(feats)
        return rois, cls_score, bbox_pred

    def proposals(self, x: Sequence[Tensor], valid_hw: Tensor) -> Tensor:
        """RPN proposals as RoIs (K, 5), at most ``max_per_img`` per
        image, each image's in descending score order."""
        rpn = self.rpn_head
        cfg = rpn.test_cfg
        nms_pre = cfg.get('nms_pre', -1)
        cls_scores, bbox_preds = rpn(x)
        n = x[0].shape[0]
        scores, deltas, anchors, levels = [], [], [], []
        for lvl, (cls, reg) in enumerate(zip(cls_scores, bbox_preds)):
            priors = rpn.prior_generator.single_level_grid_priors(
                cls.shape[-2:], lvl, dtype=cls.dtype, device=cls.device)
            s = cls.permute(0, 2, 3, 1).reshape(n, -1).sigmoid()
            d = reg.permute(0, 2, 3, 1).reshape(n, -1, 4)
            if nms_pre > 0:
                s, order = s.sort(dim=1, descending=True)
                s, order = s[:, :nms_pre], order[:, :nms_pre]
                d = torch.gather(d, 1, order[..., None].expand(-1, -1, 4))
                a = priors[order]
            else:
                a = priors[None].expand(n, -1, -1)
            scores.append(s)
            deltas.append(d)
            anchors.append(a)
            levels.append(torch.full_like(s, lvl))
        scores = torch.cat(scores, 1)
        levels = torch.cat(levels, 1)
        boxes = self._decode(rpn.bbox_coder, torch.cat(anchors, 1),
                             torch.cat(deltas, 1), valid_hw)
        min_size = cfg.get('min_bbox_size', -1)
        if min_size >= 0:
            valid = ((boxes[..., 2] - boxes[..., 0]) > min_size) & (
                (boxes[..., 3] - boxes[..., 1]) > min_size)
            scores = torch.where(valid, scores, scores.new_tensor(-1.))
        else:
            valid = torch.ones_like(scores, dtype=torch.bool)
        # mmcv's batched_nms: levels apart by offsets of (max coordinate +
        # 1), the max over the image's boxes that take part
        max_coord = torch.where(valid[..., None], boxes,
                                boxes.new_tensor(0.)).flatten(1).max(1)[0]
        offsets = levels * (max_coord[:, None] + 1)
        keep = nms_indices(boxes + offsets[..., None], scores,
                           cfg.max_per_img, cfg.nms['iou_threshold'],
                           score_threshold=-0.5)
        img, idx = keep[:, 0], keep[:, 2]
        return torch.cat([img[:, None].to(boxes.dtype), boxes[img, idx]], 1)

    @staticmethod
    def _decode(coder, anchors: Tensor, deltas: Tensor,
                valid_hw: Tensor) -> Tensor:
        """``coder.decode`` of (N, K, 4) deltas with each image's boxes
        clipped to its own (h, w)."""
        n = anchors.shape[0]
        boxes = delta2bbox(
            anchors.reshape(-1, 4),
            deltas.reshape(-1, 4),
            coder.means,
            coder.stds,
            max_shape=None,
            wh_ratio_clip=16 / 1000,  # decode()'s default, as the RPN uses
            clip_border=False,
            add_ctr_clamp=coder.add_ctr_clamp,
            ctr_clamp=coder.ctr_clamp).reshape(n, -1, 4)
        if coder.clip_border:
            hw = valid_hw.to(boxes.dtype)[:, None, :]
            zero = boxes.new_tensor(0.)
            x = torch.min(torch.max(boxes[..., 0::2], zero), hw[..., 1:2])
            y = torch.min(torch.max(boxes[..., 1::2], zero), hw[..., 0:1])
            boxes = torch.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]],
                                -1)
        return boxes

    def roi_features(self, feats: Sequence[Tensor], rois: Tensor) -> Tensor:
        """``SingleRoIExtractor`` on ``rois`` (K, 5): (K, C, h, w)."""
        extractor = self.roi_head.bbox_roi_extractor
        layers = extractor.roi_layers
        out_size = tuple(layers[0].output_size)
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
