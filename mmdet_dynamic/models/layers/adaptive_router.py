# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""DynamicDet's adaptive router."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import OptMultiConfig


@MODELS.register_module()
class AdaptiveRouter(BaseModule):
    """Difficulty score of each image from backbone-1 features.

    Global average pooling of every level, concatenation (d = sum of the
    levels' channels), FC d -> floor(d / 4), ReLU, FC -> 1, sigmoid.

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

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Args: feats: maps (N, C_i, H_i, W_i).

        Returns:
            Tensor: Scores phi in (0, 1), shape (N, ).
        """
        pooled = torch.cat(
            [F.adaptive_avg_pool2d(f, 1).flatten(1) for f in feats], dim=1)
        return self.fc2(F.relu(self.fc1(pooled))).sigmoid().squeeze(1)
