# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""YOLOR's implicit knowledge layers, used by YOLOv7's IDetect head."""
import torch
import torch.nn as nn
from torch import Tensor

from mmdet_dynamic.registry import MODELS


@MODELS.register_module()
class ImplicitA(nn.Module):
    """Adds a learned per-channel vector: ``x + a``, ``a`` of shape
    (1, C, 1, 1), initialised from N(0, 0.02) as YOLOv7 does."""

    def __init__(self, channels: int, mean: float = 0., std: float = .02):
        super().__init__()
        self.implicit = nn.Parameter(torch.empty(1, channels, 1, 1))
        nn.init.normal_(self.implicit, mean=mean, std=std)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.implicit


@MODELS.register_module()
class ImplicitM(nn.Module):
    """Multiplies by a learned per-channel vector: ``x * m``, ``m`` of
    shape (1, C, 1, 1), initialised from N(1, 0.02) as YOLOv7 does."""

    def __init__(self, channels: int, mean: float = 1., std: float = .02):
        super().__init__()
        self.implicit = nn.Parameter(torch.empty(1, channels, 1, 1))
        nn.init.normal_(self.implicit, mean=mean, std=std)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.implicit
