# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""LCNet's building blocks (RSANet): CCM and DSM."""
import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_activation_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig


@MODELS.register_module()
class CCM(BaseModule):
    """Constant Channel Module: (depthwise 3x3, pointwise 1x1) twice with a
    residual connection; every conv keeps ``channels`` channels (no
    expansion, minimal memory access cost as in ShuffleNetV2's guideline).

    Layout (our choice, the paper gives no code): dw3x3-BN, pw1x1-BN-act,
    dw3x3-BN, pw1x1-BN, add the input, act.

    Args:
        channels (int): Input = output channels.
        norm_cfg (dict): Norm config.
        act_cfg (dict): Activation config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 channels: int,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)

        def dw() -> ConvModule:
            return ConvModule(channels, channels, 3, padding=1,
                              groups=channels, norm_cfg=norm_cfg,
                              act_cfg=None)

        self.body = nn.Sequential(
            dw(),
            ConvModule(channels, channels, 1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg), dw(),
            ConvModule(channels, channels, 1, norm_cfg=norm_cfg,
                       act_cfg=None))
        self.act = build_activation_layer(act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, C, H, W)."""
        return self.act(x + self.body(x))


@MODELS.register_module()
class DSM(BaseModule):
    """Down-Sampling Module: depthwise 3x3 stride-2 conv (BN) and 3x3
    stride-2 max-pool of the input, concatenated, then a 1x1 conv (BN, act)
    to ``out_channels``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        norm_cfg (dict): Norm config.
        act_cfg (dict): Activation config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.dw_down = ConvModule(in_channels, in_channels, 3, stride=2,
                                  padding=1, groups=in_channels,
                                  norm_cfg=norm_cfg, act_cfg=None)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.fuse = ConvModule(2 * in_channels, out_channels, 1,
                               norm_cfg=norm_cfg, act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, H, W) -> (N, out_channels, ceil(H/2), ceil(W/2))."""
        return self.fuse(torch.cat([self.dw_down(x), self.pool(x)], dim=1))
