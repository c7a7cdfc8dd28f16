# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""YOLOv7's spatial pyramid pooling blocks: SPPCSPC and the tiny SPP."""
from typing import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig


@MODELS.register_module()
class SPPCSPC(BaseModule):
    """SPP in a CSP block, the first layer of YOLOv7's neck.

    Full form (L, X, P6 archs), with ``c = out_channels``: branch 1 is
    1x1 conv, 3x3 conv, 1x1 conv (``x1``), then max-pools of ``x1`` with
    kernels 5, 9, 13 (stride 1), concatenated as ``[x1, p5, p9, p13]``,
    1x1 conv and 3x3 conv (``y1``); branch 2 is a 1x1 conv (``y2``); the
    output is a 1x1 conv of ``[y1, y2]``. Every conv is ``c`` wide.

    Tiny form (``tiny=True``, YOLOv7-tiny's head layers 29-37): ``a`` =
    1x1 conv, ``b`` = 1x1 conv, pools of ``b``, 1x1 conv of
    ``[p13, p9, p5, b]``, then a 1x1 conv of ``[that, a]``.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output (and hidden) channels.
        kernel_sizes (Sequence[int]): Pool kernels. Defaults to (5, 9, 13).
        tiny (bool): Build the tiny form. Defaults to False.
        norm_cfg (dict): Norm config.
        act_cfg (dict): Activation config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_sizes: Sequence[int] = (5, 9, 13),
                 tiny: bool = False,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.tiny = tiny
        c = out_channels
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.pools = nn.ModuleList(
            nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernel_sizes)
        n = len(kernel_sizes) + 1
        if tiny:
            self.short_conv = ConvModule(in_channels, c, 1, **conv)
            self.main_conv = ConvModule(in_channels, c, 1, **conv)
            self.pool_conv = ConvModule(n * c, c, 1, **conv)
            self.final_conv = ConvModule(2 * c, c, 1, **conv)
            return
        self.main_convs = nn.Sequential(
            ConvModule(in_channels, c, 1, **conv),
            ConvModule(c, c, 3, padding=1, **conv),
            ConvModule(c, c, 1, **conv))
        self.short_conv = ConvModule(in_channels, c, 1, **conv)
        self.fuse_convs = nn.Sequential(
            ConvModule(n * c, c, 1, **conv),
            ConvModule(c, c, 3, padding=1, **conv))
        self.final_conv = ConvModule(2 * c, c, 1, **conv)

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_channels, H, W) -> (N, out_channels, H, W)."""
        if self.tiny:
            a, b = self.short_conv(x), self.main_conv(x)
            pooled = [p(b) for p in self.pools]
            y = self.pool_conv(torch.cat(pooled[::-1] + [b], dim=1))
            return self.final_conv(torch.cat([y, a], dim=1))
        x1 = self.main_convs(x)
        y1 = self.fuse_convs(torch.cat([x1] + [p(x1) for p in self.pools],
                                       dim=1))
        return self.final_conv(torch.cat([y1, self.short_conv(x)], dim=1))
