# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""BiFPN neck (EfficientDet, Tan et al., CVPR 2020)."""
from typing import List, Optional, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from ..layers.bifpn_layer import (BiFPNLayer, check_pool_mode,
                                  max_pool_3x3_s2)
from ..layers.neck_inputs import check_neck_inputs


@MODELS.register_module()
class BiFPN(BaseModule):
    """Bidirectional Feature Pyramid Network, a drop-in for mmdet's ``FPN``.

    Backbone levels from ``start_level`` are projected to ``out_channels``
    by 1x1 conv + BN where their width differs; extra levels (P6, P7, ...)
    up to ``num_outs`` come from the last input by 1x1 conv + BN (when the
    width differs) and 3x3/s2 max-pool, then further max-pools. Then
    ``num_repeats`` :class:`BiFPNLayer` are stacked.

    Design choice: the paper's first layer uses separate 1x1 projections
    of the backbone maps for its top-down and bottom-up edges; here one
    shared projection feeds both, which saves parameters and matches every
    later layer.

    Compound scaling presets (``arch``): width ``64 * 1.35^phi`` rounded as
    in the paper and ``3 + phi`` repeats (D6/D7 cap both).

    Args:
        in_channels (list[int]): Channels of each backbone level given.
        out_channels (int, optional): Width of every output level; overrides
            the preset's width when given.
        num_outs (int): Number of output levels. Defaults to 5 (P3-P7).
        start_level (int): First backbone level used. Defaults to 0.
        num_repeats (int, optional): Stacked BiFPN layers; overrides the
            preset's repeats when given.
        arch (str, optional): Preset ``'D0'`` .. ``'D7'`` giving the width
            and repeats not set explicitly. Defaults to ``'D0'``.
        fusion (str, optional): ``'fast'`` (normalised), ``'softmax'`` or
            ``'sum'``. Defaults to the official choice: ``'sum'`` for D6/D7
            (for stability), ``'fast'`` otherwise.
        eps (float): Fast-fusion epsilon. Defaults to 1e-4.
        norm_cfg (dict): Norm config. Defaults to BN (momentum 0.01,
            eps 1e-3) as in EfficientDet.
        act_cfg (dict): Activation before each separable conv. Defaults to
            Swish.
        pool (str): Alignment of every down-sampling 3x3/s2 max-pool (P6,
            P7 and the bottom-up path): ``'same'``, TensorFlow's SAME as the
            official EfficientDet and mmdet's ``projects/EfficientDet``
            (default); ``'torch'``, ``F.max_pool2d(padding=1)``, whose
            windows sit one pixel up/left (this package's BiFPN before;
            outputs on P6/P7 differ, the weights are the same).
        init_cfg (dict, optional): Initialisation config.

    Example:
        >>> import torch
        >>> neck = BiFPN([40, 112, 320], arch='D0').eval()
        >>> feats = [torch.rand(1, c, s, s)
        ...          for c, s in zip([40, 112, 320], [64, 32, 16])]
        >>> [tuple(o.shape) for o in neck(feats)]
        [(1, 64, 64, 64), (1, 64, 32, 32), (1, 64, 16, 16), (1, 64, 8, 8), \
(1, 64, 4, 4)]
    """

    arch_settings = {
        'D0': (64, 3),
        'D1': (88, 4),
        'D2': (112, 5),
        'D3': (160, 6),
        'D4': (224, 7),
        'D5': (288, 7),
        'D6': (384, 8),
        'D7': (384, 8),
    }
    # the official D6/D7 use plain sum fusion, for training stability
    sum_fusion_archs = ('D6', 'D7')

    def __init__(self,
                 in_channels: List[int],
                 out_channels: Optional[int] = None,
                 num_outs: int = 5,
                 start_level: int = 0,
                 num_repeats: Optional[int] = None,
                 arch: Optional[str] = None,
                 fusion: Optional[str] = None,
                 eps: float = 1e-4,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.01, eps=1e-3),
                 act_cfg: ConfigType = dict(type='Swish'),
                 pool: str = 'same',
                 init_cfg: OptMultiConfig = dict(
                     type='Xavier', layer='Conv2d',
                     distribution='uniform')) -> None:
        super().__init__(init_cfg=init_cfg)
        arch = 'D0' if arch is None else arch
        if arch not in self.arch_settings:
            raise ValueError(f'Unknown BiFPN arch {arch!r}; valid: '
                             f'{list(self.arch_settings)}')
        width, repeats = self.arch_settings[arch]
        if fusion is None:
            fusion = 'sum' if arch in self.sum_fusion_archs else 'fast'
        self.fusion = fusion
        self.pool = check_pool_mode(pool)
        out_channels = width if out_channels is None else out_channels
        num_repeats = repeats if num_repeats is None else num_repeats
        if not 0 <= start_level < len(in_channels):
            raise ValueError(f'start_level={start_level} is out of range for '
                             f'{len(in_channels)} input levels')
        num_used = len(in_channels) - start_level
        if num_outs < max(num_used, 2):
            raise ValueError(
                f'num_outs={num_outs} must be >= the {num_used} input levels '
                f'used (in_channels[{start_level}:]) and >= 2')

        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_outs = num_outs
        self.start_level = start_level
        self.num_repeats = num_repeats
        self.arch = arch

        def project(c: int) -> nn.Module:
            if c == out_channels:
                return nn.Identity()
            return ConvModule(c, out_channels, 1, norm_cfg=norm_cfg,
                              act_cfg=None)

        self.lateral_convs = nn.ModuleList(
            project(c) for c in self.in_channels[start_level:])
        self.num_extra = num_outs - num_used
        self.extra_proj = project(self.in_channels[-1]) \
            if self.num_extra else None
        self.layers = nn.Sequential(*(BiFPNLayer(
            out_channels,
            num_outs,
            fusion=fusion,
            eps=eps,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            pool=pool) for _ in range(num_repeats)))

    def forward(self, inputs: Tuple[Tensor]) -> Tuple[Tensor]:
        """Args: inputs: backbone maps (N, in_channels[i], H_i, W_i).

        Returns:
            tuple[Tensor]: ``num_outs`` maps (N, out_channels, H_j, W_j),
            finest first; each extra level halves the previous one.
        """
        check_neck_inputs('BiFPN', self.in_channels, inputs)
        feats = [
            conv(x) for conv, x in zip(self.lateral_convs,
                                       inputs[self.start_level:])
        ]
        if self.num_extra:
            x = self.extra_proj(inputs[-1])
            for _ in range(self.num_extra):
                x = max_pool_3x3_s2(x, self.pool)
                feats.append(x)
        for layer in self.layers:
            feats = layer(feats)
        return tuple(feats)
