# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The four DetNAS / SPOS choice units: ShuffleNetV2 (3x3, 5x5, 7x7) and
Xception-like, for stride 1 and stride 2."""
from typing import Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig


def channel_split(x: Tensor) -> Tuple[Tensor, Tensor]:
    """Channel shuffle (2 groups) then split in halves: returns the even and
    the odd channels of ``x`` (N, C, H, W), each (N, C/2, H, W)."""
    return x[:, 0::2], x[:, 1::2]


class _ChoiceUnitBase(BaseModule):
    """Shared wiring of a choice unit.

    Stride 1: the input is shuffled and split; one half passes through, the
    other goes through ``main`` (to ``out - in/2`` channels); concatenated.
    Stride 2: ``proj`` (depthwise k x k stride 2 + 1x1) keeps ``in`` channels
    and ``main`` maps the full input to ``out - in`` channels; concatenated.
    The mid width is ``out / 2``.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int,
                 init_cfg: OptMultiConfig) -> None:
        super().__init__(init_cfg=init_cfg)
        if stride not in (1, 2):
            raise ValueError(f'stride must be 1 or 2, got {stride}')
        if stride == 1 and in_channels != out_channels:
            raise ValueError('stride-1 units need in_channels == '
                             f'out_channels, got {in_channels}, '
                             f'{out_channels}')
        self.stride = stride
        self.main_in = in_channels // 2 if stride == 1 else in_channels
        self.main_out = out_channels - self.main_in
        self.mid = out_channels // 2

    def _proj(self, in_channels: int, kernel: int, norm_cfg: ConfigType,
              act_cfg: ConfigType) -> nn.Module:
        return nn.Sequential(
            ConvModule(in_channels, in_channels, kernel, stride=2,
                       padding=kernel // 2, groups=in_channels,
                       norm_cfg=norm_cfg, act_cfg=None),
            ConvModule(in_channels, in_channels, 1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg))

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, H, W) -> (N, C_out, H / stride, W / stride)."""
        if self.stride == 1:
            keep, x = channel_split(x)
            return torch.cat([keep, self.main(x)], dim=1)
        return torch.cat([self.proj(x), self.main(x)], dim=1)


@MODELS.register_module()
class ShuffleUnit(_ChoiceUnitBase):
    """ShuffleNetV2 unit with a ``kernel_size`` depthwise conv (3, 5, 7):
    main branch 1x1 (BN, ReLU), depthwise k x k (BN), 1x1 (BN, ReLU).

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (int): Depthwise kernel size.
        stride (int): 1 or 2.
        norm_cfg (dict): Norm config.
        act_cfg (dict): Activation config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 3,
                 stride: int = 1,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(in_channels, out_channels, stride, init_cfg)
        self.main = nn.Sequential(
            ConvModule(self.main_in, self.mid, 1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg),
            ConvModule(self.mid, self.mid, kernel_size, stride=stride,
                       padding=kernel_size // 2, groups=self.mid,
                       norm_cfg=norm_cfg, act_cfg=None),
            ConvModule(self.mid, self.main_out, 1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg))
        if stride == 2:
            self.proj = self._proj(in_channels, kernel_size, norm_cfg,
                                   act_cfg)


@MODELS.register_module()
class XceptionUnit(_ChoiceUnitBase):
    """Xception-like unit: three (depthwise 3x3 (BN), 1x1 (BN, ReLU)) pairs
    in the main branch, the first depthwise conv carrying the stride.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): 1 or 2.
        norm_cfg (dict): Norm config.
        act_cfg (dict): Activation config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(in_channels, out_channels, stride, init_cfg)
        layers = []
        widths = [(self.main_in, self.mid), (self.mid, self.mid),
                  (self.mid, self.main_out)]
        for i, (cin, cout) in enumerate(widths):
            layers += [
                ConvModule(cin, cin, 3, stride=stride if i == 0 else 1,
                           padding=1, groups=cin, norm_cfg=norm_cfg,
                           act_cfg=None),
                ConvModule(cin, cout, 1, norm_cfg=norm_cfg, act_cfg=act_cfg)
            ]
        self.main = nn.Sequential(*layers)
        if stride == 2:
            self.proj = self._proj(in_channels, 3, norm_cfg, act_cfg)
