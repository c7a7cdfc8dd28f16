# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""LCNet, the lightweight backbone of RSANet (Zhou et al., 2021)."""
from typing import Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from ..layers.lcnet_blocks import CCM, DSM
from .base_staged_backbone import BaseStagedBackbone


@MODELS.register_module()
class LCNet(BaseStagedBackbone):
    """Lightweight Convolutional Network.

    Five stages (layer indices 0..4, strides 2, 4, 8, 16, 32). Stage 1 is a
    3x3 stride-2 conv; stages 2-5 start with a :class:`DSM`. Each stage then
    has ``num_ccms`` :class:`CCM` blocks (1, 1, 2, 6, 3), which keep the
    stage's width. The last three stages feed detection.

    Widths are not published. The default ``channels=(64, 128, 192, 256,
    352)`` were chosen so that RSANet (this LCNet + :class:`RSAFPN` with 160
    channels + mmdet's ``YOLOV3Head`` with 160-channel convs, 20 classes,
    416 px) comes near the paper's 3.24M parameters / 3.54 GFLOPs: we
    measure 3.175M / 3.573G (``configs/rsanet``; command in the README).

    Args:
        channels (Sequence[int]): Width of each of the five stages.
        num_ccms (Sequence[int]): CCMs per stage.
        out_indices (Sequence[int]): Stages returned. Defaults to (2, 3, 4).
        frozen_stages (int): Freeze stages ``0..frozen_stages``.
        norm_eval (bool): Keep BN in eval mode while training.
        norm_cfg (dict): Norm config.
        act_cfg (dict): Activation config. Defaults to ReLU.
        init_cfg (dict, optional): Initialisation config.

    Example:
        >>> import torch
        >>> self = LCNet().eval()
        >>> [tuple(o.shape) for o in self(torch.rand(1, 3, 416, 416))]
        [(1, 192, 52, 52), (1, 256, 26, 26), (1, 352, 13, 13)]
    """

    def __init__(self,
                 channels: Sequence[int] = (64, 128, 192, 256, 352),
                 num_ccms: Sequence[int] = (1, 1, 2, 6, 3),
                 out_indices: Sequence[int] = (2, 3, 4),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = dict(
                     type='Kaiming', layer='Conv2d')) -> None:
        super().__init__(out_indices, frozen_stages, norm_eval, init_cfg)
        if len(channels) != 5 or len(num_ccms) != 5:
            raise ValueError(
                'LCNet has 5 stages: channels and num_ccms need 5 values '
                f'each, got {list(channels)} and {list(num_ccms)}')
        block = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        in_ch, stride = 3, 1
        for i, (c, n) in enumerate(zip(channels, num_ccms)):
            stride *= 2
            down = ConvModule(in_ch, c, 3, stride=2, padding=1, **block) \
                if i == 0 else DSM(in_ch, c, **block)
            self.add_layer(f'stage{i + 1}',
                           nn.Sequential(down, *(CCM(c, **block)
                                                 for _ in range(n))), c,
                           stride)
            in_ch = c
        self._setup_outputs()
