# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Common base of this package's backbones: a stem and stages in order."""
from typing import List, Sequence, Tuple

import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers.backbone_stages import BackboneStage


class BaseStagedBackbone(BaseModule):
    """A backbone made of named layers run in sequence: ``stem`` (index 0)
    then ``stage1`` .. ``stageN`` (indices 1..N), as mmdet's CSPDarknet.

    Subclasses build their layers with :meth:`add_layer` in order and call
    :meth:`_setup_outputs`; this class gives them mmdet's ``out_indices``,
    ``frozen_stages`` and ``norm_eval`` behaviour, ``out_channels`` for
    checking neck configs, and the stage declaration the dynamic cascade
    attaches to (:meth:`stage_specs`).

    Args:
        out_indices (Sequence[int]): Indices of the layers whose outputs
            are returned (0 = stem).
        frozen_stages (int): Layers ``0..frozen_stages`` are frozen
            (``requires_grad=False``, eval mode); -1 freezes nothing.
        norm_eval (bool): Keep BN layers in eval mode while training.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 out_indices: Sequence[int],
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.layers: List[str] = []
        self.layer_channels: List[int] = []
        self.layer_strides: List[int] = []

    def add_layer(self, name: str, layer: nn.Module, channels: int,
                  stride: int) -> None:
        """Append a layer with its output channels and total stride."""
        self.add_module(name, layer)
        self.layers.append(name)
        self.layer_channels.append(channels)
        self.layer_strides.append(stride)

    def _setup_outputs(self) -> None:
        """Validate ``out_indices`` / ``frozen_stages`` and freeze."""
        valid = list(range(len(self.layers)))
        bad = [i for i in self.out_indices if i not in valid]
        if bad or not self.out_indices:
            raise ValueError(
                f'{type(self).__name__}: out_indices {list(self.out_indices)}'
                f' out of range; valid indices are {valid} '
                f'({", ".join(self.layers)})')
        if not -1 <= self.frozen_stages < len(self.layers):
            raise ValueError(
                f'{type(self).__name__}: frozen_stages={self.frozen_stages} '
                f'out of range; valid values are -1..{len(self.layers) - 1}')
        self._freeze_stages()

    @property
    def out_channels(self) -> List[int]:
        """Channels of the returned feature maps, in order."""
        return [self.layer_channels[i] for i in self.out_indices]

    @property
    def out_strides(self) -> List[int]:
        """Strides of the returned feature maps, in order."""
        return [self.layer_strides[i] for i in self.out_indices]

    def stage_specs(self, layout: str = 'cbnetv2'
                    ) -> Tuple[List[BackboneStage], List[int]]:
        """Stages for the dynamic cascade: every layer, with the composite
        input added to its input (the ``'cbnetv2'`` layout, see
        :mod:`mmdet_dynamic.models.layers.backbone_stages`).

        Returns:
            tuple: ``[BackboneStage(name, channels, stride), ...]`` for the
            stem and every stage (by module name), and ``out_indices``.

        Raises:
            ValueError: For a layout this backbone does not declare.
        """
        if layout != 'cbnetv2':
            raise ValueError(
                f"{type(self).__name__} declares the 'cbnetv2' cascade "
                f"layout only, not {layout!r} (DynamicDet's YOLO layout is "
                'declared by EELAN)')
        stages = [
            BackboneStage(name, channels, stride)
            for name, channels, stride in zip(
                self.layers, self.layer_channels, self.layer_strides)
        ]
        return stages, list(self.out_indices)

    def _freeze_stages(self) -> None:
        for i in range(self.frozen_stages + 1):
            m = getattr(self, self.layers[i])
            m.eval()
            for param in m.parameters():
                param.requires_grad = False

    def train(self, mode: bool = True) -> 'BaseStagedBackbone':
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def before_forward(self) -> None:
        """Called at the start of every forward pass; does nothing here."""

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """(N, 3, H, W) -> feature maps of ``out_indices``, each
        (N, out_channels[i], H / out_strides[i], W / out_strides[i])."""
        self.before_forward()
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
