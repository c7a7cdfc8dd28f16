# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""One bidirectional (top-down + bottom-up) BiFPN layer."""
from typing import List, Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import DepthwiseSeparableConvModule, build_activation_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from .weighted_fusion import WeightedFusion


POOL_MODES = ('same', 'torch')


def check_pool_mode(pool: str) -> str:
    """``pool`` if it is one of :data:`POOL_MODES`, else a ValueError."""
    if pool not in POOL_MODES:
        raise ValueError(f'pool must be one of {POOL_MODES}, got {pool!r}')
    return pool


def max_pool_3x3_s2(x: Tensor, mode: str = 'same') -> Tensor:
    """3x3 stride-2 max-pool, (N, C, H, W) -> (N, C, ceil(H/2), ceil(W/2)).

    ``'same'``: TensorFlow's SAME alignment, as EfficientDet and mmdet's
    ``projects/EfficientDet`` pool: the total zero padding
    ``(ceil(H/2) - 1) * 2 + 3 - H`` is split with the larger half at the
    bottom/right (an even size is padded at the bottom/right only), so
    window i covers rows ``2i .. 2i+2``.
    ``'torch'``: ``F.max_pool2d(k=3, s=2, padding=1)``, windows one pixel
    up/left (rows ``2i-1 .. 2i+1``).
    """
    if check_pool_mode(mode) == 'torch':
        return F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
    h, w = x.shape[-2:]
    pad_h = max((-(-h // 2) - 1) * 2 + 3 - h, 0)
    pad_w = max((-(-w // 2) - 1) * 2 + 3 - w, 0)
    x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2,
                  pad_h - pad_h // 2])
    return F.max_pool2d(x, kernel_size=3, stride=2)


def resize_to(x: Tensor, size, pool: bool, mode: str = 'same') -> Tensor:
    """Bring ``x`` to spatial ``size``: 3x3/s2 max-pool going down
    (:func:`max_pool_3x3_s2` in ``mode``; then nearest resize if an odd size
    leaves it off by one), nearest going up."""
    if pool:
        x = max_pool_3x3_s2(x, mode)
    if x.shape[-2:] != size:
        x = F.interpolate(x, size=size, mode='nearest')
    return x


@MODELS.register_module()
class BiFPNLayer(BaseModule):
    """A BiFPN layer over ``num_levels`` maps of ``channels`` channels.

    Top-down, for level i from the second finest to the finest:
    ``td_i = conv(fuse(P_i, up(td_{i+1})))`` with ``td_top = P_top`` (the
    single-input top node does no fusion and is removed, as in the paper).
    Bottom-up: ``out_0 = td_0``; ``out_i = conv(fuse(P_i, td_i,
    down(out_{i-1})))`` for the middle levels, where ``P_i`` is the extra
    same-level edge from input to output; ``out_top = conv(fuse(P_top,
    down(out_{top-1})))``. Each ``conv`` is swish, depthwise 3x3, pointwise
    1x1 and BN (EfficientDet's separable conv block).

    Args:
        channels (int): Channels of every level.
        num_levels (int): Number of levels (>= 2).
        fusion (str): ``'fast'``, ``'softmax'`` or ``'sum'``.
        eps (float): Fast-fusion epsilon.
        norm_cfg (dict): Norm after the pointwise conv.
        act_cfg (dict): Activation before the separable conv.
        pool (str): Down-sampling max-pool alignment, ``'same'``
            (TensorFlow SAME, the official EfficientDet's; default) or
            ``'torch'`` (padding 1 on every side). See
            :func:`max_pool_3x3_s2`.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 channels: int,
                 num_levels: int,
                 fusion: str = 'fast',
                 eps: float = 1e-4,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.01, eps=1e-3),
                 act_cfg: ConfigType = dict(type='Swish'),
                 pool: str = 'same',
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_levels < 2:
            raise ValueError(f'BiFPN needs >= 2 levels, got {num_levels}')
        self.num_levels = num_levels
        self.pool = check_pool_mode(pool)

        def node(num_inputs: int) -> nn.ModuleDict:
            return nn.ModuleDict(
                dict(
                    fuse=WeightedFusion(num_inputs, fusion, eps),
                    act=build_activation_layer(act_cfg),
                    conv=DepthwiseSeparableConvModule(
                        channels,
                        channels,
                        3,
                        padding=1,
                        norm_cfg=None,
                        act_cfg=None,
                        pw_norm_cfg=norm_cfg)))

        # top-down nodes for levels num_levels-2 .. 0 (stored finest first)
        self.td_nodes = nn.ModuleList(node(2) for _ in range(num_levels - 1))
        # bottom-up nodes for levels 1 .. num_levels-1
        self.bu_nodes = nn.ModuleList(
            node(3 if i < num_levels - 1 else 2)
            for i in range(1, num_levels))

    @staticmethod
    def _run_node(node: nn.ModuleDict, inputs: List[Tensor]) -> Tensor:
        return node['conv'](node['act'](node['fuse'](inputs)))

    def forward(self, inputs: Sequence[Tensor]) -> List[Tensor]:
        """Args: inputs: maps (N, C, H_i, W_i), finest first.

        Returns:
            list[Tensor]: Same shapes as ``inputs``.
        """
        n = self.num_levels
        td = [None] * n
        td[n - 1] = inputs[n - 1]
        for i in range(n - 2, -1, -1):
            up = resize_to(td[i + 1], inputs[i].shape[-2:], pool=False)
            td[i] = self._run_node(self.td_nodes[i], [inputs[i], up])
        outs = [td[0]]
        for i in range(1, n):
            down = resize_to(outs[-1], inputs[i].shape[-2:], pool=True,
                             mode=self.pool)
            edges = [inputs[i], td[i], down] if i < n - 1 else [
                inputs[i], down
            ]
            outs.append(self._run_node(self.bu_nodes[i - 1], edges))
        return outs
