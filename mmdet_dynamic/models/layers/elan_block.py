# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""ELAN and E-ELAN blocks of YOLOv7."""
from typing import List, Optional

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from .rep_conv import RepConvN


@MODELS.register_module()
class ELANBlock(BaseModule):
    """Efficient Layer Aggregation Network block (YOLOv7).

    Two 1x1 convs from the input (``mid_channels`` each, ``a`` and ``b``);
    a chain of ``num_convs`` 3x3 convs on ``b``; the outputs of every
    ``concat_step``-th chain conv, ``b`` and ``a`` are concatenated (latest
    first, as in the official cfgs) and a 1x1 transition conv maps them to
    ``out_channels``. YOLOv7-L: 4 convs, step 2 (4 parts); tiny: 2 convs,
    step 1; X/E6: 6 convs; D6: 8 convs. The neck's ELAN-H blocks keep every
    chain output (step 1) and use a chain narrower than the two 1x1 convs
    (``chain_channels``), e.g. 256 / 128 in YOLOv7-L's neck.

    E-ELAN (``num_branches=2``, YOLOv7-E6E): the released code's reading of
    "expand, shuffle, merge cardinality": ``num_branches`` parallel ELAN
    branches on the same input whose transition outputs are added. (The
    paper's group-conv + channel-shuffle wording computes the same family
    of functions with the groups laid out in one tensor.)

    Args:
        in_channels (int): Input channels.
        mid_channels (int): Width of the two 1x1 convs (and of the chain,
            unless ``chain_channels``).
        out_channels (int): Output channels of the transition conv.
        num_convs (int): 3x3 convs in the chain.
        concat_step (int): Every how many chain convs an output is kept.
        num_branches (int): 1 for ELAN, 2 for E-ELAN.
        chain_channels (int, optional): Width of the chain's 3x3 convs.
            Defaults to ``mid_channels``.
        use_repconv (bool): Chain convs as :class:`RepConvN` (they sit on a
            concatenation path, so no identity branch). Defaults to False.
        deploy (bool): Build RepConvN in fused form.
        norm_cfg (dict): Norm config.
        act_cfg (dict): Activation config.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 mid_channels: int,
                 out_channels: int,
                 num_convs: int = 4,
                 concat_step: int = 2,
                 num_branches: int = 1,
                 chain_channels: Optional[int] = None,
                 use_repconv: bool = False,
                 deploy: bool = False,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: ConfigType = dict(type='SiLU'),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_convs % concat_step:
            raise ValueError(f'num_convs={num_convs} must be a multiple of '
                             f'concat_step={concat_step}')
        self.num_convs = num_convs
        self.concat_step = concat_step
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        chain_channels = chain_channels or mid_channels

        def chain_conv(in_ch: int) -> nn.Module:
            if use_repconv:
                return RepConvN(in_ch, chain_channels, deploy=deploy, **conv)
            return ConvModule(in_ch, chain_channels, 3, padding=1, **conv)

        def branch() -> nn.ModuleDict:
            return nn.ModuleDict(
                dict(
                    short_conv=ConvModule(in_channels, mid_channels, 1,
                                          **conv),
                    main_conv=ConvModule(in_channels, mid_channels, 1,
                                         **conv),
                    chain=nn.ModuleList(
                        chain_conv(mid_channels if i == 0 else chain_channels)
                        for i in range(num_convs)),
                    transition=ConvModule(
                        2 * mid_channels + chain_channels *
                        (self.num_parts() - 2), out_channels, 1, **conv)))

        self.branches = nn.ModuleList(branch() for _ in range(num_branches))

    def num_parts(self) -> int:
        """Number of maps concatenated before the transition conv."""
        return 2 + self.num_convs // self.concat_step

    def _branch(self, branch: nn.ModuleDict, x: Tensor) -> Tensor:
        parts: List[Tensor] = [branch['short_conv'](x)]
        y = branch['main_conv'](x)
        parts.append(y)
        for i, conv in enumerate(branch['chain'], start=1):
            y = conv(y)
            if i % self.concat_step == 0:
                parts.append(y)
        return branch['transition'](torch.cat(parts[::-1], dim=1))

    def forward_branches(self, x: Tensor) -> List[Tensor]:
        """Each branch's transition output, (N, out_channels, H, W); the
        block's output is their sum. (YOLOv7-E6E's auxiliary head reads the
        last branch alone.)"""
        return [self._branch(branch, x) for branch in self.branches]

    def forward(self, x: Tensor) -> Tensor:
        """(N, in_channels, H, W) -> (N, out_channels, H, W)."""
        outs = self.forward_branches(x)
        return sum(outs[1:], outs[0])
