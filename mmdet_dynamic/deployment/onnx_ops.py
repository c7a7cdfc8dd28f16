# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Operators that export to *standard* ONNX ops.

mmcv's ops export to custom ``mmcv::`` domains (or, for RoIAlign, to the
opset-10 ``RoiAlign`` with a hand-made half-pixel shift), which onnxruntime
without mmdeploy's plugins cannot run. These two functions compute in
PyTorch what mmcv computes (they call mmcv) and export to the standard op
that computes the same thing:

* :func:`roi_align` -> ``RoiAlign`` (opset 16): mmcv's ``aligned=True`` is
  ``coordinate_transformation_mode='half_pixel'``, ``aligned=False`` is
  ``'output_half_pixel'``; ``sampling_ratio=0`` is adaptive in both.
* :func:`nms_indices` -> ``NonMaxSuppression``: greedy NMS per image, the
  kept boxes of each image in descending score order, at most
  ``max_per_img`` of them (mmcv's ``nms`` followed by ``[:max_per_img]``).
"""
import torch
from torch import Tensor
from torch.autograd import Function


class _RoIAlign(Function):

    @staticmethod
    def forward(ctx, feat: Tensor, rois: Tensor, output_size: tuple,
                spatial_scale: float, sampling_ratio: int,
                aligned: bool) -> Tensor:
        from mmcv.ops import roi_align
        return roi_align(feat, rois, output_size, spatial_scale,
                         sampling_ratio, 'avg', aligned)

    @staticmethod
    def symbolic(g, feat, rois, output_size, spatial_scale, sampling_ratio,
                 aligned):
        batch = g.op('Gather', rois,
                     g.op('Constant', value_t=torch.tensor(0)), axis_i=1)
        batch = g.op('Cast', batch, to_i=7)  # INT64
        boxes = g.op('Gather', rois,
                     g.op('Constant', value_t=torch.tensor([1, 2, 3, 4])),
                     axis_i=1)
        return g.op(
            'RoiAlign',
            feat,
            boxes,
            batch,
            coordinate_transformation_mode_s='half_pixel'
            if aligned else 'output_half_pixel',
            mode_s='avg',
            output_height_i=output_size[0],
            output_width_i=output_size[1],
            sampling_ratio_i=max(0, sampling_ratio),
            spatial_scale_f=spatial_scale)


def roi_align(feat: Tensor, rois: Tensor, output_size: tuple,
              spatial_scale: float, sampling_ratio: int,
              aligned: bool) -> Tensor:
    """mmcv's ``roi_align`` (average pooling) that exports to ONNX
    ``RoiAlign``.

    Args:
        feat (Tensor): (N, C, H, W) map.
        rois (Tensor): (K, 5) rows ``(batch index, x1, y1, x2, y2)`` in
            input pixels.
        output_size (tuple): (h, w) of each pooled RoI.
        spatial_scale (float): 1 / stride of ``feat``.
        sampling_ratio (int): Samples per bin side, 0 for adaptive.
        aligned (bool): mmcv's ``aligned`` (half-pixel shift).

    Returns:
        Tensor: (K, C, h, w).
    """
    return _RoIAlign.apply(feat, rois, tuple(output_size),
                           float(spatial_scale), int(sampling_ratio),
                           bool(aligned))


class _NMS(Function):

    @staticmethod
    def forward(ctx, boxes: Tensor, scores: Tensor, max_per_img: int,
                iou_threshold: float, score_threshold: float) -> Tensor:
        from mmcv.ops import nms
        out = []
        for b in range(boxes.shape[0]):
            keep_mask = scores[b] > score_threshold
            idx = keep_mask.nonzero().flatten()
            if len(idx):
                _, keep = nms(boxes[b, idx], scores[b, idx], iou_threshold)
                idx = idx[keep[:max_per_img]]
            out.append(
                torch.stack([
                    torch.full_like(idx, b),
                    torch.zeros_like(idx), idx
                ], 1))
        return torch.cat(out).long()

    @staticmethod
    def symbolic(g, boxes, scores, max_per_img, iou_threshold,
                 score_threshold):
        return g.op(
            'NonMaxSuppression', boxes,
            g.op('Unsqueeze', scores,
                 g.op('Constant', value_t=torch.tensor([1]))),
            g.op('Constant', value_t=torch.tensor([max_per_img])),
            g.op('Constant',
                 value_t=torch.tensor([iou_threshold], dtype=torch.float)),
            g.op('Constant',
                 value_t=torch.tensor([score_threshold],
                                      dtype=torch.float)))


def nms_indices(boxes: Tensor, scores: Tensor, max_per_img: int,
                iou_threshold: float,
                score_threshold: float = -1.0) -> Tensor:
    """Greedy NMS of each image of a batch that exports to ONNX
    ``NonMaxSuppression``.

    Args:
        boxes (Tensor): (N, K, 4) boxes ``(x1, y1, x2, y2)``.
        scores (Tensor): (N, K) scores; boxes scoring ``<= score_threshold``
            take no part.
        max_per_img (int): At most this many kept boxes per image.
        iou_threshold (float): A box is dropped if its IoU with a kept,
            higher-scoring box exceeds this.
        score_threshold (float): See ``scores``.

    Returns:
        Tensor: (M, 3) int64 rows ``(image, 0, box index)``, image by image,
        each image's boxes in descending score order.
    """
    return _NMS.apply(boxes, scores, int(max_per_img), float(iou_threshold),
                      float(score_threshold))
