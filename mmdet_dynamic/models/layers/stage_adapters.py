# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Uniform, layer-by-layer view of a backbone.

The dynamic cascade needs every stage output of backbone 1 and must add the
composite connection to the input of every stage of backbone 2. A backbone
is seen as layers ``L_0 .. L_n`` (``L_0`` the stem) run in sequence, plus the
indices of the layers whose outputs it returns. Supporting a new backbone
means registering one small adapter here, not touching the detector::

    @register_stage_adapter(MyBackbone)
    def _my_backbone(backbone):
        return [backbone.stem, backbone.stage1, ...], [2, 3, 4]
"""
from typing import Callable, Dict, List, Tuple

import torch
import torch.nn as nn

from mmdet.models.backbones import CSPDarknet, ResNet
from ..backbones.base_staged_backbone import BaseStagedBackbone

LayerView = Tuple[List[Callable], List[int]]
_ADAPTERS: Dict[type, Callable[[nn.Module], LayerView]] = {}


def register_stage_adapter(cls: type):
    """Decorator registering ``fn(backbone) -> (layers, out_layer_ids)``."""

    def wrap(fn):
        _ADAPTERS[cls] = fn
        return fn

    return wrap


def supported_backbones() -> List[str]:
    """Names of the backbone classes (and subclasses) with an adapter."""
    return sorted(c.__name__ for c in _ADAPTERS)


def stage_layers(backbone: nn.Module) -> LayerView:
    """Layers and output layer indices of ``backbone``.

    Raises:
        TypeError: If no adapter covers the backbone's class.
    """
    for cls in type(backbone).__mro__:
        if cls in _ADAPTERS:
            return _ADAPTERS[cls](backbone)
    raise TypeError(
        f'{type(backbone).__name__} has no stage adapter, so the dynamic '
        'cascade cannot split it into stages for the composite connection. '
        f'Supported backbones (and their subclasses): '
        f'{supported_backbones()}. Add one with mmdet_dynamic.models.layers.'
        'stage_adapters.register_stage_adapter.')


@torch.no_grad()
def stage_channels(backbone: nn.Module, size: int = 64) -> List[int]:
    """Output channels of every layer, by a dry run on a ``size`` image."""
    layers, _ = stage_layers(backbone)
    was_training = [m.training for m in backbone.modules()]
    backbone.eval()
    x = torch.zeros(1, 3, size, size,
                    device=next(backbone.parameters()).device)
    channels = []
    for layer in layers:
        x = layer(x)
        channels.append(int(x.shape[1]))
    for m, mode in zip(backbone.modules(), was_training):
        m.training = mode
    return channels


@register_stage_adapter(BaseStagedBackbone)
def _staged(backbone: BaseStagedBackbone) -> LayerView:
    layers = [getattr(backbone, n) for n in backbone.layers]
    stem = layers[0]

    def first(x):
        backbone.before_forward()  # e.g. a supernet samples its path
        return stem(x)

    return [first] + layers[1:], list(backbone.out_indices)


@register_stage_adapter(CSPDarknet)
def _cspdarknet(backbone: CSPDarknet) -> LayerView:
    return [getattr(backbone, n) for n in backbone.layers], \
        list(backbone.out_indices)


@register_stage_adapter(ResNet)
def _resnet(backbone: ResNet) -> LayerView:

    def stem(x):
        if backbone.deep_stem:
            x = backbone.stem(x)
        else:
            x = backbone.relu(backbone.norm1(backbone.conv1(x)))
        return backbone.maxpool(x)

    return [stem] + [getattr(backbone, n) for n in backbone.res_layers], \
        [i + 1 for i in backbone.out_indices]
