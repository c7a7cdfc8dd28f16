# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""YOLOv7's down-sampling layers: MP transition, DownC and ReOrg."""
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig


@MODELS.register_module()
class MPDownsample(BaseModule):
    """YOLOv7-L/X "MP" transition: concat of (1x1 conv to
    ``out_channels // 2``, 3x3 stride-2 conv) and (2x2 max-pool, 1x1 conv),
    each branch ``out_channels // 2``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels (even).
        norm_cfg (dict): Norm config.
        act_cfg (dict): Activation config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        half = out_channels // 2
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        mid = self.conv_mid_channels(in_channels, out_channels)
        self.conv_down = nn.Sequential(
            ConvModule(in_channels, mid, 1, **conv),
            ConvModule(mid, half, 3, stride=2, padding=1, **conv))
        self.pool_conv = nn.Sequential(
            nn.MaxPool2d(2, 2), ConvModule(in_channels, half, 1, **conv))

    @staticmethod
    def conv_mid_channels(in_channels: int, out_channels: int) -> int:
        """Width of the conv branch's 1x1 conv."""
        return out_channels // 2

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, H, W) -> (N, out_channels, H/2, W/2)."""
        return torch.cat([self.conv_down(x), self.pool_conv(x)], dim=1)


@MODELS.register_module()
class DownC(MPDownsample):
    """YOLOv7-E6/D6/E6E down-sampling: as :class:`MPDownsample` but the conv
    branch's 1x1 conv keeps the input width (``in_channels``) before its
    3x3 stride-2 conv. Arguments as :class:`MPDownsample`."""

    @staticmethod
    def conv_mid_channels(in_channels: int, out_channels: int) -> int:
        return in_channels


@MODELS.register_module()
class ReOrg(BaseModule):
    """Space-to-depth stem of the P6 models: (N, C, H, W) -> (N, 4C, H/2,
    W/2), pixel order as YOLOv7's ReOrg / YOLOv5's Focus."""

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([
            x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2],
            x[..., 1::2, 1::2]
        ], 1)
