# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""EfficientDet's class/box head: separable convs shared across levels,
a BN per level."""
from typing import List, Tuple

import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import bias_init_with_prob
from torch import Tensor

from mmdet.models.dense_heads import AnchorHead
from mmdet.utils import ConfigType, OptMultiConfig
from mmdet_dynamic.registry import MODELS


class _SeparableConv(nn.Sequential):
    """Depthwise 3x3 (no bias) then pointwise 1x1 (with bias), the
    official EfficientDet ``SeparableConv2D``."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            nn.Conv2d(in_channels, in_channels, 3, padding=1,
                      groups=in_channels, bias=False),
            nn.Conv2d(in_channels, out_channels, 1))


@MODELS.register_module()
class EfficientDetSepBNHead(AnchorHead):
    """EfficientDet's head (Tan et al., CVPR 2020) as mmdet's
    ``projects/EfficientDet`` builds it.

    A class net and a box net, each ``stacked_convs`` separable 3x3 convs
    whose weights are shared across the levels, each followed by a BN of
    its own per level (not shared) and swish, then a separable 3x3 output
    conv (``num_base_priors * num_classes`` / ``num_base_priors * 4``
    channels, shared). Depth ``3 + floor(phi / 3)`` in the paper. Anchors,
    assignment and losses come from mmdet's ``AnchorHead`` config: the
    EfficientDet settings (9 anchors per location: scales 2^0, 2^(1/3),
    2^(2/3) x ratios 0.5, 1, 2, anchor scale 4; focal loss alpha 0.25,
    gamma 1.5; Huber box loss) are in ``configs/efficientdet``.

    Args:
        num_classes (int): Number of classes.
        num_ins (int): Number of levels (5 for P3-P7).
        in_channels (int): Channels of each level (the BiFPN width).
        feat_channels (int): Channels of the stacked convs.
        stacked_convs (int): Separable convs per net before the output.
        norm_cfg (dict): Per-level norm (BN, momentum 0.01, eps 1e-3, as
            the official model).
        act_cfg (dict): Activation (swish).
        init_cfg (dict, optional): Initialisation config.
        **kwargs: ``AnchorHead`` arguments (``anchor_generator``,
            ``bbox_coder``, ``loss_cls``, ``loss_bbox``, ``train_cfg``,
            ``test_cfg``).

    Shapes: ``forward`` takes ``num_ins`` maps (N, in_channels, H_i, W_i)
    and returns class scores (N, A * num_classes, H_i, W_i) and box deltas
    (N, A * 4, H_i, W_i) per level.
    """

    def __init__(self,
                 num_classes: int,
                 num_ins: int,
                 in_channels: int,
                 feat_channels: int,
                 stacked_convs: int = 3,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.01, eps=1e-3),
                 act_cfg: ConfigType = dict(type='Swish'),
                 init_cfg: OptMultiConfig = None,
                 **kwargs) -> None:
        self.num_ins = num_ins
        self.stacked_convs = stacked_convs
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        super().__init__(
            num_classes=num_classes,
            in_channels=in_channels,
            feat_channels=feat_channels,
            init_cfg=init_cfg,
            **kwargs)

    def _init_layers(self) -> None:

        def net(out_channels: int) -> nn.ModuleDict:
            convs = nn.ModuleList(
                _SeparableConv(self.in_channels if i == 0 else
                               self.feat_channels, self.feat_channels)
                for i in range(self.stacked_convs))
            norms = nn.ModuleList(
                nn.ModuleList(
                    build_norm_layer(self.norm_cfg, self.feat_channels)[1]
                    for _ in range(self.num_ins))
                for _ in range(self.stacked_convs))
            last = self.feat_channels if self.stacked_convs else \
                self.in_channels
            return nn.ModuleDict(
                dict(convs=convs, norms=norms,
                     out=_SeparableConv(last, out_channels)))

        self.cls_net = net(self.num_base_priors * self.cls_out_channels)
        self.reg_net = net(self.num_base_priors * 4)
        self.act = build_activation_layer(self.act_cfg)

    def init_weights(self) -> None:
        """Default conv init; zero biases; the class output's bias at the
        focal-loss prior 0.01."""
        super().init_weights()
        for net in (self.cls_net, self.reg_net):
            for conv in net['convs']:
                nn.init.zeros_(conv[1].bias)
        nn.init.constant_(self.cls_net['out'][1].bias,
                          bias_init_with_prob(0.01))
        nn.init.zeros_(self.reg_net['out'][1].bias)

    def _run(self, net: nn.ModuleDict, x: Tensor, level: int) -> Tensor:
        for conv, norms in zip(net['convs'], net['norms']):
            x = self.act(norms[level](conv(x)))
        return net['out'](x)

    def forward(self, x: Tuple[Tensor]) -> Tuple[List[Tensor], List[Tensor]]:
        """Per level: class scores and box deltas (see the class
        docstring)."""
        if len(x) != self.num_ins:
            raise ValueError(f'EfficientDetSepBNHead expects {self.num_ins} '
                             f'levels (num_ins), got {len(x)}')
        cls_scores = [self._run(self.cls_net, f, i) for i, f in enumerate(x)]
        bbox_preds = [self._run(self.reg_net, f, i) for i, f in enumerate(x)]
        return cls_scores, bbox_preds
