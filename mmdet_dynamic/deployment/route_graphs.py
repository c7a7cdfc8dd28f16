# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The modules that :func:`export_onnx` traces: one per exported graph.

Each composes the parts of a trained (eval-mode) model; none copies
weights. Outputs are flat tuples of tensors; :func:`flatten_outputs`
records the nesting of a head's outputs so that the runner rebuilds the
arguments of the head's ``predict_by_feat``.
"""
from typing import Dict, List, Sequence, Tuple, Union

import torch.nn as nn
from torch import Tensor

from mmdet.models.detectors import BaseDetector, TwoStageDetector
from ..models.detectors.detector_heads import neck_features
from .two_stage_graph import TwoStageHeadsGraph

Structure = List[int]  # per head output: -1 a tensor, k a list of k tensors


def flatten_outputs(outs: Sequence) -> Tuple[List[Tensor], Structure]:
    """A head's ``forward`` outputs (tensors and lists of tensors) as a
    flat list and its structure (-1 for a tensor, k for a list of k)."""
    flat, structure = [], []
    for item in outs:
        if isinstance(item, Tensor):
            flat.append(item)
            structure.append(-1)
        else:
            flat.extend(item)
            structure.append(len(item))
    return flat, structure


def unflatten_outputs(flat: Sequence, structure: Structure) -> list:
    """Inverse of :func:`flatten_outputs`."""
    out, pos = [], 0
    for k in structure:
        if k < 0:
            out.append(flat[pos])
            pos += 1
        else:
            out.append(list(flat[pos:pos + k]))
            pos += k
    return out


def _unique(tensors: Sequence[Tensor]) -> List[Tensor]:
    """Each tensor once (an ONNX graph output has one name)."""
    seen: Dict[int, Tensor] = {}
    for t in tensors:
        seen.setdefault(id(t), t)
    return list(seen.values())


class HeadsGraph(nn.Module):
    """A detector's neck and heads on its backbone's outputs: the head's
    ``forward`` outputs (single-stage) or RoIs with the box head's outputs
    (two-stage, see :class:`TwoStageHeadsGraph`)."""

    def __init__(self, detector: BaseDetector) -> None:
        super().__init__()
        self.detector = detector
        self.two_stage = isinstance(detector, TwoStageDetector)
        self.rcnn = TwoStageHeadsGraph(detector) if self.two_stage else None
        self.structure: Structure = []

    def forward(self, backbone_outs: Sequence[Tensor],
                valid_hw: Union[Tensor, None]) -> List[Tensor]:
        x = neck_features(self.detector, backbone_outs)
        if self.two_stage:
            outs = self.rcnn(x, valid_hw)
        else:
            outs = self.detector.bbox_head(x)
        flat, self.structure = flatten_outputs(outs)
        return flat


class DetectorGraph(nn.Module):
    """A plain mmdet detector: ``image [, valid_hw] -> head outputs``."""

    def __init__(self, detector: BaseDetector) -> None:
        super().__init__()
        self.detector = detector
        self.heads = HeadsGraph(detector)

    def forward(self, image: Tensor, valid_hw: Tensor = None):
        return tuple(self.heads(self.detector.backbone(image), valid_hw))


class RouterGraph(nn.Module):
    """Graph (a) of a cascade: ``image, valid_hw -> logit, phi, B1
    features``.

    The features are B1's outputs (what detector 1's neck takes) and the
    outputs of B1's fused stages (what the composite connection takes),
    each tensor once: :attr:`easy_names` and :attr:`hard_names` name those
    each route needs, in order. The router pools each image's own region
    (``valid_hw``), as :meth:`DynamicCascadeDetector.route` does.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.easy_names: List[str] = []
        self.hard_names: List[str] = []

    def forward(self, image: Tensor, valid_hw: Tensor):
        model = self.model
        feats1, out1 = model.run_backbone1(image)
        logit = model.router.masked_logits(
            [feats1[k] for k in model.stages1.routed], valid_hw,
            image.shape[-2:])
        sources = [feats1[k] for k in model.stages1.fused]
        feats = _unique(list(out1) + sources)
        names = {id(t): f'b1_feat{i}' for i, t in enumerate(feats)}
        self.easy_names = [names[id(t)] for t in out1]
        self.hard_names = [names[id(t)] for t in sources]
        return (logit, logit.sigmoid(), *[f.clone() for f in feats])


class EasyRouteGraph(nn.Module):
    """Graph (b): ``B1 outputs [, valid_hw] -> detector 1's head
    outputs``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.heads = HeadsGraph(model.detector1)

    def forward(self, *inputs: Tensor):
        feats, valid_hw = _split_valid_hw(inputs, self.heads.two_stage)
        return tuple(self.heads(list(feats), valid_hw))


class HardRouteGraph(nn.Module):
    """Graph (c): ``image, B1's fused stage outputs [, valid_hw] ->
    detector 2's head outputs`` (B2 with the composite input, then
    detector 2's neck and heads)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.heads = HeadsGraph(model.detector2)

    def forward(self, image: Tensor, *inputs: Tensor):
        sources, valid_hw = _split_valid_hw(inputs, self.heads.two_stage)
        model = self.model
        feats1: List = [None] * len(model.stages1.stages)
        for k, source in zip(model.stages1.fused, sources):
            feats1[k] = source
        out2 = model.run_backbone2(image, feats1)
        return tuple(self.heads(out2, valid_hw))


def _split_valid_hw(inputs: Sequence[Tensor], two_stage: bool):
    if two_stage:
        return list(inputs[:-1]), inputs[-1]
    return list(inputs), None
