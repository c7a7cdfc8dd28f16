# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""RSAFPN neck (RSANet)."""
from typing import List, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from ..layers.neck_inputs import check_neck_inputs
from ..layers.rsam import RSAM


@MODELS.register_module()
class RSAFPN(BaseModule):
    """RSANet's feature pyramid: :class:`RSAM` blocks assembled top-down.

    The coarsest used level is projected to ``out_channels`` by a 1x1 conv;
    then, going to finer levels, ``P_i = RSAM(high=P_{i+1}, low=C_i)``.
    Extra levels up to ``num_outs`` are added like mmdet's ``FPN``: 1x1/s2
    max-pools of the last output (``add_extra_convs=False``) or 3x3/s2 convs
    on the last output (``add_extra_convs=True``).

    Args:
        in_channels (list[int]): Channels of each backbone level given.
        out_channels (int): Width of every output level.
        num_outs (int): Number of output levels.
        start_level (int): First backbone level used. Defaults to 0.
        add_extra_convs (bool): Extra levels by stride-2 convs instead of
            max-pool. Defaults to False.
        norm_cfg (dict): Norm config. Defaults to BN.
        act_cfg (dict): Activation config. Defaults to ReLU.
        init_cfg (dict, optional): Initialisation config.

    Example:
        >>> import torch
        >>> neck = RSAFPN([64, 128, 256], 96, num_outs=3).eval()
        >>> feats = [torch.rand(1, c, s, s)
        ...          for c, s in zip([64, 128, 256], [52, 26, 13])]
        >>> [tuple(o.shape) for o in neck(feats)]
        [(1, 96, 52, 52), (1, 96, 26, 26), (1, 96, 13, 13)]
    """

    def __init__(self,
                 in_channels: List[int],
                 out_channels: int,
                 num_outs: int,
                 start_level: int = 0,
                 add_extra_convs: bool = False,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = dict(
                     type='Kaiming', layer='Conv2d')) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0 <= start_level < len(in_channels):
            raise ValueError(f'start_level={start_level} is out of range for '
                             f'{len(in_channels)} input levels')
        used = list(in_channels[start_level:])
        if num_outs < len(used):
            raise ValueError(
                f'num_outs={num_outs} must be >= the {len(used)} input '
                f'levels used (in_channels[{start_level}:])')
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.start_level = start_level
        self.add_extra_convs = add_extra_convs
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)

        self.top_conv = ConvModule(used[-1], out_channels, 1, **conv)
        # rsams[i] fuses into used level i (the top level has none)
        self.rsams = nn.ModuleList(
            RSAM(out_channels, c, out_channels, norm_cfg, act_cfg)
            for c in used[:-1])
        num_extra = num_outs - len(used)
        self.extra_convs = nn.ModuleList(
            ConvModule(
                out_channels, out_channels, 3, stride=2, padding=1, **conv)
            for _ in range(num_extra if add_extra_convs else 0))
        self.num_extra = num_extra

    def forward(self, inputs: Tuple[Tensor]) -> Tuple[Tensor]:
        """Args: inputs: backbone maps (N, in_channels[i], H_i, W_i).

        Returns:
            tuple[Tensor]: ``num_outs`` maps (N, out_channels, H_j, W_j),
            finest first.
        """
        check_neck_inputs('RSAFPN', self.in_channels, inputs)
        feats = list(inputs[self.start_level:])
        outs = [self.top_conv(feats[-1])]
        for i in range(len(feats) - 2, -1, -1):
            outs.insert(0, self.rsams[i](outs[0], feats[i]))
        for i in range(self.num_extra):
            if self.add_extra_convs:
                outs.append(self.extra_convs[i](outs[-1]))
            else:
                outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)
