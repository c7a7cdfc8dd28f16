# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""DynamicDet's adaptive router."""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import OptMultiConfig


def logit_of(phi: float) -> float:
    """``logit(phi)`` in float64: -inf for 0, +inf for 1. A routing
    threshold tau on phi is applied as ``logit > logit_of(tau)``."""
    if phi <= 0.0:
        return -math.inf
    if phi >= 1.0:
        return math.inf
    return math.log(phi) - math.log1p(-phi)


def sigmoid_of(logit: float) -> float:
    """``sigmoid(logit)`` in float64 (0 below a logit of -700, where
    ``exp`` would overflow)."""
    return 1.0 / (1.0 + math.exp(-logit)) if logit > -700 else 0.0


@MODELS.register_module()
class AdaptiveRouter(BaseModule):
    """Difficulty score of each image from backbone-1 features.

    Global average pooling of every level, concatenation (d = sum of the
    levels' channels), FC d -> floor(d / 4), ReLU, FC -> 1, sigmoid. Given
    each image's own size, the pooling averages only the cells that cover
    the image, not the padding of a batch, so an image's score does not
    depend on its batch-mates (the paper pools whole maps).

    Args:
        in_channels (Sequence[int]): Channels of the pooled levels.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        d = int(sum(in_channels))
        self.in_channels = list(in_channels)
        self.fc1 = nn.Linear(d, max(d // 4, 1))
        self.fc2 = nn.Linear(max(d // 4, 1), 1)

    def forward(self,
                feats: Sequence[Tensor],
                valid_shapes: Optional[Sequence[Tuple[int, int]]] = None,
                input_shape: Optional[Tuple[int, int]] = None) -> Tensor:
        """Score each image.

        Args:
            feats (Sequence[Tensor]): Maps (N, C_i, H_i, W_i) of a batch of
                inputs of size ``input_shape`` (padded).
            valid_shapes (Sequence[tuple], optional): Each image's own size
                (h, w) in input pixels (``img_shape``): only the cells that
                cover it, ``ceil(h * H_i / H)`` x ``ceil(w * W_i / W)``, are
                averaged, so the padding a batch adds does not change an
                image's score. Defaults to the whole maps.
            input_shape (tuple, optional): (H, W) of the padded input;
                needed with ``valid_shapes``.

        Returns:
            Tensor: Scores phi in (0, 1), shape (N, ).
        """
        return self.logits(feats, valid_shapes, input_shape).sigmoid()

    def logits(self,
               feats: Sequence[Tensor],
               valid_shapes: Optional[Sequence[Tuple[int, int]]] = None,
               input_shape: Optional[Tuple[int, int]] = None) -> Tensor:
        """The scores before the sigmoid, shape (N, ), same arguments as
        :meth:`forward`. Rankings and thresholds use them: a saturated
        sigmoid rounds different logits to the same phi (1.0 in float32
        from a logit of about 17), the logits stay apart."""
        return self.logits_of_pooled(
            self.pooled(feats, valid_shapes, input_shape))

    def pooled(self,
               feats: Sequence[Tensor],
               valid_shapes: Optional[Sequence[Tuple[int, int]]] = None,
               input_shape: Optional[Tuple[int, int]] = None) -> Tensor:
        """The router's input: every level average-pooled over each
        image's own cells and concatenated, shape (N, d) (same arguments as
        :meth:`forward`). In the router phase the features are frozen, so
        this vector is fixed per image: what an offline study of router
        targets needs."""
        return torch.cat([
            self._pool(f, valid_shapes, input_shape).flatten(1)
            for f in feats
        ], dim=1)

    def masked_logits(self, feats: Sequence[Tensor], valid_hw: Tensor,
                      input_hw: Tuple) -> Tensor:
        """:meth:`logits` with each image's size as a tensor, pooled with
        masks instead of crops: the same cells and the same function (to
        float rounding), written in tensor operations only, so that a traced
        export (ONNX) keeps it for any input size.

        Args:
            feats (Sequence[Tensor]): Maps (N, C_i, H_i, W_i).
            valid_hw (Tensor): (N, 2) int64, each image's own (h, w).
            input_hw (tuple): (H, W) of the padded input (ints, or traced
                sizes).

        Returns:
            Tensor: Logits (N, ).
        """
        in_h, in_w = input_hw
        pooled = []
        for feat in feats:
            hf, wf = feat.shape[-2:]
            rows = self._cells(valid_hw[:, 0], hf, in_h)
            cols = self._cells(valid_hw[:, 1], wf, in_w)
            mask = ((torch.arange(hf, device=feat.device)[None] <
                     rows[:, None])[:, :, None]
                    & (torch.arange(wf, device=feat.device)[None] <
                       cols[:, None])[:, None, :]).to(feat.dtype)
            total = (feat * mask[:, None]).sum(dim=(2, 3))
            pooled.append(total / (rows * cols).to(feat.dtype)[:, None])
        return self.logits_of_pooled(torch.cat(pooled, dim=1))

    @staticmethod
    def _cells(size: Tensor, cells, in_size) -> Tensor:
        """``min(cells, max(1, ceil(size * cells / in_size)))`` in integer
        tensor arithmetic."""
        n = torch.div(size * cells + in_size - 1, in_size,
                      rounding_mode='floor')
        return torch.minimum(n.clamp(min=1), torch.as_tensor(cells))

    def logits_of_pooled(self, pooled: Tensor) -> Tensor:
        """FC, ReLU, FC on the pooled (N, d) vectors of :meth:`pooled`:
        logits (N, ). With :meth:`pooled` it trains the router on cached
        inputs, as the router phase sees them (B1 frozen)."""
        return self.fc2(F.relu(self.fc1(pooled))).squeeze(1)

    @staticmethod
    def _pool(feat: Tensor, valid_shapes, input_shape) -> Tensor:
        """Average of each image's valid cells, (N, C)."""
        if valid_shapes is None:
            return F.adaptive_avg_pool2d(feat, 1)
        _, _, hf, wf = feat.shape
        in_h, in_w = input_shape
        sizes = torch.tensor(valid_shapes, dtype=torch.long).view(-1, 2)
        rows = AdaptiveRouter._cells(sizes[:, 0], hf, in_h).tolist()
        cols = AdaptiveRouter._cells(sizes[:, 1], wf, in_w).tolist()
        if all(r == hf for r in rows) and all(c == wf for c in cols):
            return F.adaptive_avg_pool2d(feat, 1)  # no padding to skip
        # each image's own cells (a crop, no masked copy of the map)
        return torch.stack([
            feat[i, :, :r, :c].mean(dim=(1, 2))
            for i, (r, c) in enumerate(zip(rows, cols))
        ])[:, :, None, None]
