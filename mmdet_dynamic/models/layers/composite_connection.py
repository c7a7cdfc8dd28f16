# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Composite connection of the dynamic cascade (CBNetV2's DHLC)."""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import OptConfigType, OptMultiConfig


@MODELS.register_module()
class CompositeConnection(BaseModule):
    """Dense higher-level composition from backbone 1 into backbone 2.

    With the fused levels ``L_1 .. L_n`` of the two backbones (CBNetV2
    layout: every stage after the stem; DynamicDet's YOLO layout: every
    level from stride 2, see :mod:`..backbone_stages`), the fusion point of
    backbone-2 level ``k`` gets ``sum_{j >= k} resize(Conv1x1(F1_j), size
    of that point, nearest)``, where ``F1_j`` is backbone 1's level-``j``
    output.

    This implementation follows CBNetV2: each 1x1 conv is followed by a
    norm layer whose weight starts at zero, so the connection outputs zeros
    at initialisation and backbone 2 starts as a plain backbone. With
    ``norm_cfg=None`` the biased conv itself is zero-initialised, unless
    ``zero_init=False``: DynamicDet's YOLO code (CBLinear) keeps PyTorch's
    default conv init. DynamicDet's CBLinear is one conv per source level
    whose output is split per target level; here each (target, source)
    pair has its own conv: the same weights, split the same way, and the
    same parameter count.

    Args:
        b1_channels (Sequence[int]): Output channels of backbone-1 levels
            ``L_1 .. L_n``.
        b2_in_channels (Sequence[int]): Channels at the fusion points of
            backbone-2 levels ``L_1 .. L_n``.
        norm_cfg (dict, optional): Norm after each conv. Defaults to BN.
        zero_init (bool): Start the connection at zero output. Defaults to
            True.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 b1_channels: Sequence[int],
                 b2_in_channels: Sequence[int],
                 norm_cfg: OptConfigType = dict(type='BN'),
                 zero_init: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(b1_channels) != len(b2_in_channels):
            raise ValueError(
                'the two backbones need the same number of stages for the '
                f'composite connection, got {len(b1_channels)} and '
                f'{len(b2_in_channels)}')
        self.num_levels = len(b1_channels)
        self.norm_cfg = norm_cfg
        self.zero_init = zero_init
        self.convs = nn.ModuleDict()
        for k in range(self.num_levels):
            for j in range(k, self.num_levels):
                self.convs[f'{k}_{j}'] = ConvModule(
                    b1_channels[j],
                    b2_in_channels[k],
                    1,
                    norm_cfg=norm_cfg,
                    act_cfg=None)
        self._zero_init()

    def init_weights(self) -> None:
        super().init_weights()
        self._zero_init()

    def _zero_init(self) -> None:
        if not self.zero_init:
            return
        for conv in self.convs.values():
            if conv.with_norm:
                nn.init.zeros_(conv.norm.weight)
                nn.init.zeros_(conv.norm.bias)
            else:
                nn.init.zeros_(conv.conv.weight)
                nn.init.zeros_(conv.conv.bias)

    def forward(self, level: int, feats1: Sequence[Tensor],
                size) -> Tensor:
        """Composite input for the fusion point of backbone-2 level
        ``level`` (0-based among ``L_1 .. L_n``).

        Args:
            level (int): 0-based index among levels ``L_1 .. L_n``.
            feats1 (Sequence[Tensor]): Backbone-1 outputs of ``L_1 .. L_n``,
                each (N, b1_channels[j], H_j, W_j).
            size (tuple[int, int]): Spatial size at that fusion point.

        Returns:
            Tensor: (N, b2_in_channels[level], *size).
        """
        out = None
        for j in range(level, self.num_levels):
            y = F.interpolate(
                self.convs[f'{level}_{j}'](feats1[j]), size=size,
                mode='nearest')
            out = y if out is None else out + y
        return out
