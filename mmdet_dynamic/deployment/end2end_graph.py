# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""One ONNX graph from image to detections, routing included.

:class:`CascadeEnd2End` (a :class:`DynamicCascadeDetector`):

``image`` (N, 3, H, W), ``valid_hw`` (N, 2) int64, ``threshold`` (a float32
scalar, clamped to [0, 1]) -> ``dets`` (N, K, 5), ``labels`` (N, K),
``num_dets`` (N, ), ``route`` (N, ) int64 (1 hard), ``phi`` (N, )
[, ``masks`` (N, K, h, w)].

B1 and the router run once on the batch; an image is hard if its router
logit exceeds ``logit(threshold)``. The hard images are gathered
(``NonZero``, ``Gather``) through B2 with the composite connection and
detector 2, the easy ones through detector 1; both routes' padded
detections (:mod:`.detections_graph`) are scattered back in input order.
A route with no image runs on an empty batch.

:class:`DetectorEnd2End` (a plain mmdet detector): ``image, valid_hw ->
dets, labels, num_dets [, masks]``.

Each image is computed on the batch tensor as given: as in PyTorch, an
image's detections do not depend on its batch-mates when the batch holds
images of one padded size (the runner batches them so).
"""
from typing import List

import torch
import torch.nn as nn
from torch import Tensor

from .detections_graph import detector_detections

DET_KEYS = ('dets', 'labels', 'num_dets', 'masks')


def _outputs(found: dict) -> List[str]:
    return [k for k in DET_KEYS if k in found]


class DetectorEnd2End(nn.Module):
    """A plain mmdet detector, image to padded detections."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector
        self.output_names: List[str] = []

    def forward(self, image: Tensor, valid_hw: Tensor):
        out = detector_detections(self.detector,
                                  self.detector.backbone(image), valid_hw)
        self.output_names = _outputs(out)
        return tuple(out[k] for k in self.output_names)


class CascadeEnd2End(nn.Module):
    """A DynamicCascadeDetector, image to padded detections with the
    routing inside (see the module docstring)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.output_names: List[str] = []

    def forward(self, image: Tensor, valid_hw: Tensor, threshold: Tensor):
        model = self.model
        feats1, out1 = model.run_backbone1(image)
        logit = model.router.masked_logits(
            [feats1[k] for k in model.stages1.routed], valid_hw,
            image.shape[-2:])
        t = threshold.to(logit.dtype).clamp(0, 1)
        # phi > t on the logits: log(0) = -inf sends every image hard,
        # log1p(-1) = -inf none
        hard = logit > torch.log(t) - torch.log1p(-t)
        hard_idx = hard.nonzero().flatten()
        easy_idx = (~hard).nonzero().flatten()
        easy = detector_detections(model.detector1,
                                   [o[easy_idx] for o in out1],
                                   valid_hw[easy_idx])
        sources: List = [None] * len(model.stages1.stages)
        for k in model.stages1.fused:
            sources[k] = feats1[k][hard_idx]
        out2 = model.run_backbone2(image[hard_idx], sources)
        hard_dets = detector_detections(model.detector2, out2,
                                        valid_hw[hard_idx])
        self.output_names = _outputs(easy) + ['route', 'phi']
        n = image.shape[0]
        merged = []
        for key in _outputs(easy):
            e, h = easy[key], hard_dets[key]
            full = e.new_zeros((n, ) + tuple(e.shape[1:]))
            full = full.index_put((easy_idx, ), e).index_put((hard_idx, ), h)
            merged.append(full)
        return tuple(merged) + (hard.long(), logit.sigmoid())
