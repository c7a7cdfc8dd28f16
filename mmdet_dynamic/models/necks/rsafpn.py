# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""RSAFPN neck (RSANet)."""
from typing import List, Optional, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from ..layers.neck_inputs import check_neck_inputs
from ..layers.rsam import RSAM


CHANNEL_PLANS = ('uniform', 'paper')


@MODELS.register_module()
class RSAFPN(BaseModule):
    """RSANet's feature pyramid: :class:`RSAM` blocks assembled top-down.

    The coarsest used level is projected to ``out_channels`` by a 1x1 conv;
    then, going to finer levels, ``P_i = RSAM(high=P_{i+1}, low=C_i)``.
    Extra levels up to ``num_outs`` are added like mmdet's ``FPN``: 1x1/s2
    max-pools of the last output (``add_extra_convs=False``) or 3x3/s2 convs
    on the last output (``add_extra_convs=True``).

    Channel plans (``channel_plan``):

    * ``'uniform'`` (default): every output level has ``out_channels``, so
      each RSAM halves a high-level map of ``out_channels`` whatever the
      low level's width. This package's RSANet config fits its widths this
      way to the paper's model size (see the README).
    * ``'paper'``: the paper's premise, the high-level map has twice the
      low-level map's channels at each RSAM, whose pointwise conv halves it
      to the low level's width: level i keeps the backbone's width
      ``in_channels[i]`` (which must double level by level);
      ``out_channels`` is then the list of those widths.

    Args:
        in_channels (list[int]): Channels of each backbone level given.
        out_channels (int, optional): Width of every output level
            (``'uniform'``); ignored by ``'paper'``.
        num_outs (int): Number of output levels.
        start_level (int): First backbone level used. Defaults to 0.
        add_extra_convs (bool): Extra levels by stride-2 convs instead of
            max-pool. Defaults to False.
        channel_plan (str): ``'uniform'`` or ``'paper'`` (see above).
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
                 out_channels: Optional[int],
                 num_outs: int,
                 start_level: int = 0,
                 add_extra_convs: bool = False,
                 channel_plan: str = 'uniform',
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
        if channel_plan not in CHANNEL_PLANS:
            raise ValueError(f'channel_plan must be one of {CHANNEL_PLANS}, '
                             f'got {channel_plan!r}')
        if channel_plan == 'paper':
            bad = [(low, high) for low, high in zip(used, used[1:])
                   if high != 2 * low]
            if bad:
                raise ValueError(
                    "channel_plan='paper' needs every used backbone level to "
                    'have twice the channels of the level below (so that '
                    f"RSAM's halving matches), got {used}; use "
                    "channel_plan='uniform' with an out_channels")
            widths = used
        else:
            if out_channels is None:
                raise ValueError("channel_plan='uniform' needs out_channels")
            widths = [out_channels] * len(used)
        self.channel_plan = channel_plan
        self.in_channels = list(in_channels)
        # per used level, finest first; extra levels keep the last width
        self.level_channels = widths + [widths[-1]] * (num_outs - len(used))
        self.out_channels = out_channels if channel_plan == 'uniform' \
            else self.level_channels
        self.num_outs = num_outs
        self.start_level = start_level
        self.add_extra_convs = add_extra_convs
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)

        self.top_conv = ConvModule(used[-1], widths[-1], 1, **conv)
        # rsams[i] fuses into used level i (the top level has none)
        self.rsams = nn.ModuleList(
            RSAM(widths[i + 1], c, widths[i], norm_cfg, act_cfg)
            for i, c in enumerate(used[:-1]))
        num_extra = num_outs - len(used)
        self.extra_convs = nn.ModuleList(
            ConvModule(
                widths[-1], widths[-1], 3, stride=2, padding=1, **conv)
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
