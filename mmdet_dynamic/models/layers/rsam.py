# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""RSAM: the RSANet feature-fusion block (LCCU + channel attention)."""
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig


@MODELS.register_module()
class RSAM(BaseModule):
    """Fuse a coarse high-level map into a finer low-level map.

    ``RSAM(high, low)``:

    1. pointwise conv halves the high-level channels, 2x nearest upsample
       to the low-level size, concatenate with ``low``;
    2. LCCU (lightweight context unit): 1x1 reduction to ``out_channels``
       (``r``), two depthwise 3x3 convs, 1x1 mix (``y``);
    3. CAM: global average pool of ``high``, 1x1 conv to ``out_channels``,
       sigmoid (``a``);
    4. output ``y * a + r``.

    Design choice (the paper publishes no code): the residual adds the LCCU's
    reduced input ``r`` (the only tensor of matching width), and every conv
    but the last 1x1 of the CAM has BN + activation.

    Args:
        high_channels (int): Channels of the high-level (coarse) input.
        low_channels (int): Channels of the low-level (fine) input.
        out_channels (int): Output channels.
        norm_cfg (dict): Norm config. Defaults to BN.
        act_cfg (dict): Activation config. Defaults to ReLU.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 high_channels: int,
                 low_channels: int,
                 out_channels: int,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        half = max(high_channels // 2, 1)
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.high_reduce = ConvModule(high_channels, half, 1, **conv)
        self.reduce = ConvModule(half + low_channels, out_channels, 1, **conv)
        self.context = nn.Sequential(
            ConvModule(
                out_channels,
                out_channels,
                3,
                padding=1,
                groups=out_channels,
                **conv),
            ConvModule(
                out_channels,
                out_channels,
                3,
                padding=1,
                groups=out_channels,
                **conv),
            ConvModule(out_channels, out_channels, 1, **conv))
        self.attention = nn.Conv2d(high_channels, out_channels, 1)

    def forward(self, high: Tensor, low: Tensor) -> Tensor:
        """Args:
            high (Tensor): (N, high_channels, H/2, W/2) (any coarser size).
            low (Tensor): (N, low_channels, H, W).

        Returns:
            Tensor: (N, out_channels, H, W).
        """
        up = F.interpolate(
            self.high_reduce(high), size=low.shape[-2:], mode='nearest')
        r = self.reduce(torch.cat([up, low], dim=1))
        a = self.attention(F.adaptive_avg_pool2d(high, 1)).sigmoid()
        return self.context(r) * a + r
