# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Re-parameterisable 3x3 convolutions (RepVGG / YOLOv7's RepConv)."""
from typing import Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig


def fuse_conv_bn(kernel: Tensor, bn: nn.modules.batchnorm._BatchNorm
                 ) -> Tuple[Tensor, Tensor]:
    """Fold an eval-mode BN into the preceding bias-free conv kernel.

    ``W' = W * gamma / sigma``, ``b' = beta - mu * gamma / sigma`` with
    ``sigma = sqrt(var + eps)``.

    Returns:
        tuple[Tensor, Tensor]: Kernel (C_out, C_in/g, k, k) and bias (C_out,).
    """
    std = (bn.running_var + bn.eps).sqrt()
    scale = bn.weight / std
    return kernel * scale.reshape(-1, 1, 1, 1), bn.bias - bn.running_mean * \
        scale


@MODELS.register_module()
class RepConv(BaseModule):
    """YOLOv7's RepConv: ``act(BN(conv3x3(x)) + BN(conv1x1(x)) + BN(x))``.

    The identity branch exists only when ``identity=True``, in == out
    channels and stride 1. :meth:`switch_to_deploy` folds every branch into
    one 3x3 conv with bias (BN folded into each conv, the 1x1 kernel padded
    to 3x3, the identity as a 3x3 kernel with 1 at the centre of its own
    channel, summed); in eval mode its output equals the training form's.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        stride (int): Stride of both convs. Defaults to 1.
        groups (int): Conv groups. Defaults to 1.
        identity (bool): Use the identity branch where shapes allow.
            Defaults to True.
        norm_cfg (dict): Norm of each branch. Defaults to BN (YOLOv7's
            momentum 0.03, eps 1e-3).
        act_cfg (dict, optional): Activation after the sum. Defaults to SiLU.
        deploy (bool): Build the fused single-conv form directly (to load a
            converted checkpoint). Defaults to False.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 stride: int = 1,
                 groups: int = 1,
                 identity: bool = True,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: OptConfigType = dict(type='SiLU'),
                 deploy: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.groups = groups
        self.deploy = deploy
        self.act = build_activation_layer(act_cfg) if act_cfg else \
            nn.Identity()
        if deploy:
            self.fused_conv = nn.Conv2d(
                in_channels, out_channels, 3, stride, 1, groups=groups)
            return
        conv = dict(stride=stride, groups=groups, norm_cfg=norm_cfg,
                    act_cfg=None)
        self.conv3x3 = ConvModule(in_channels, out_channels, 3, padding=1,
                                  **conv)
        self.conv1x1 = ConvModule(in_channels, out_channels, 1, padding=0,
                                  **conv)
        self.identity = build_norm_layer(norm_cfg, in_channels)[1] if (
            identity and in_channels == out_channels and stride == 1) \
            else None

    def forward(self, x: Tensor) -> Tensor:
        """(N, C_in, H, W) -> (N, C_out, H / stride, W / stride)."""
        if self.deploy:
            return self.act(self.fused_conv(x))
        out = self.conv3x3(x) + self.conv1x1(x)
        if self.identity is not None:
            out = out + self.identity(x)
        return self.act(out)

    def fused_kernel_bias(self) -> Tuple[Tensor, Tensor]:
        """The single 3x3 kernel and bias equal to the branches' sum."""
        k3, b3 = fuse_conv_bn(self.conv3x3.conv.weight, self.conv3x3.norm)
        k1, b1 = fuse_conv_bn(self.conv1x1.conv.weight, self.conv1x1.norm)
        kernel = k3 + nn.functional.pad(k1, [1, 1, 1, 1])
        bias = b3 + b1
        if self.identity is not None:
            per_group = self.in_channels // self.groups
            eye = torch.zeros_like(k3)
            idx = torch.arange(self.in_channels)
            eye[idx, idx % per_group, 1, 1] = 1.0
            ki, bi = fuse_conv_bn(eye, self.identity)
            kernel, bias = kernel + ki, bias + bi
        return kernel, bias

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Replace the branches by one fused 3x3 conv (in place)."""
        if self.deploy:
            return
        kernel, bias = self.fused_kernel_bias()
        self.fused_conv = nn.Conv2d(
            self.in_channels,
            self.out_channels,
            3,
            self.stride,
            1,
            groups=self.groups).to(kernel.device)
        self.fused_conv.weight.copy_(kernel)
        self.fused_conv.bias.copy_(bias)
        del self.conv3x3, self.conv1x1, self.identity
        self.deploy = True


@MODELS.register_module()
class RepConvN(RepConv):
    """RepConv without the identity branch (YOLOv7's planned
    re-parameterisation for convs on residual or concatenation paths):
    ``act(BN(conv3x3(x)) + BN(conv1x1(x)))``. Arguments as :class:`RepConv`
    without ``identity``."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs) -> None:
        kwargs.pop('identity', None)
        super().__init__(in_channels, out_channels, identity=False, **kwargs)


def switch_to_deploy(model: nn.Module) -> int:
    """Put ``model`` in its deploy form, in place: every module that has a
    ``switch_to_deploy()`` method and is not yet deployed (its ``deploy``
    attribute is false) switches: RepConv layers fuse, YOLOv7's neck drops
    its auxiliary convs and its head folds the implicit layers.

    Args:
        model (nn.Module): Any model (a detector, a backbone).

    Returns:
        int: Number of modules switched.
    """
    count = 0
    for m in list(model.modules()):  # switching may remove submodules
        # a parent's switch (the YOLOv7 neck's) may already have done it
        if callable(getattr(m, 'switch_to_deploy', None)) and \
                not getattr(m, 'deploy', False):
            m.switch_to_deploy()
            count += 1
    return count
