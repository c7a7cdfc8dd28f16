# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Learned weighted fusion of same-shaped feature maps (EfficientDet)."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS

FUSION_MODES = ('fast', 'softmax', 'sum')


@MODELS.register_module()
class WeightedFusion(BaseModule):
    """Fuse ``n`` feature maps of the same shape with learned weights.

    * ``'fast'`` (fast normalised fusion, EfficientDet's default):
      ``O = sum_i w_i / (eps + sum_j w_j) * I_i`` with ``w = ReLU(weight)``;
    * ``'softmax'``: ``O = sum_i softmax(weight)_i * I_i`` (about 1.3x
      slower in the paper);
    * ``'sum'``: ``O = sum_i I_i``, no weights.

    Weights start at 1.

    Args:
        num_inputs (int): Number of maps fused.
        mode (str): One of ``'fast'``, ``'softmax'``, ``'sum'``.
        eps (float): Stabiliser of the fast normalisation. Defaults to 1e-4.
    """

    def __init__(self,
                 num_inputs: int,
                 mode: str = 'fast',
                 eps: float = 1e-4) -> None:
        super().__init__()
        if mode not in FUSION_MODES:
            raise ValueError(
                f'fusion mode {mode!r} is not supported; choose one of '
                f'{FUSION_MODES}')
        self.mode = mode
        self.eps = eps
        self.num_inputs = num_inputs
        if mode != 'sum':
            self.weight = nn.Parameter(torch.ones(num_inputs))

    def normalized_weights(self) -> Tensor:
        """The weights applied to the inputs, shape (num_inputs, )."""
        if self.mode == 'fast':
            w = F.relu(self.weight)
            return w / (w.sum() + self.eps)
        if self.mode == 'softmax':
            return self.weight.softmax(dim=0)
        return torch.ones(self.num_inputs)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Fuse maps, each (N, C, H, W), into one (N, C, H, W)."""
        if len(inputs) != self.num_inputs:
            raise ValueError(f'expected {self.num_inputs} inputs, got '
                             f'{len(inputs)}')
        if self.mode == 'sum':
            return torch.stack(list(inputs)).sum(0)
        w = self.normalized_weights()
        return sum(w[i] * x for i, x in enumerate(inputs))
