# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""DetNAS's ShuffleNetV2 one-shot supernet and its subnets."""
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.dist import broadcast, is_distributed

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptMultiConfig
from ..layers.shufflenet_units import ShuffleUnit, XceptionUnit
from .base_staged_backbone import BaseStagedBackbone

CHOICES = ('shuffle3', 'shuffle5', 'shuffle7', 'xception')
ArchType = Union[str, Sequence[int]]


def parse_arch(arch: ArchType, num_blocks: int) -> List[int]:
    """Turn an architecture string into a list of choice indices.

    Args:
        arch (str | Sequence[int]): ``'2,1,2,0,...'``, ``'2120...'`` or a
            list of ints; index per block in the order 3x3, 5x5, 7x7,
            Xception.
        num_blocks (int): Blocks of the search space.

    Raises:
        ValueError: Wrong length or unknown choice, with the valid values.
    """
    if isinstance(arch, str):
        text = arch.replace(' ', '')
        items = text.split(',') if ',' in text else list(text)
    else:
        items = list(arch)
    try:
        path = [int(i) for i in items]
    except (TypeError, ValueError):
        raise ValueError(
            f'architecture {arch!r} must be choice indices 0-3 (order '
            f'{", ".join(CHOICES)}), e.g. "2,1,2,0,..."') from None
    if len(path) != num_blocks:
        raise ValueError(
            f'architecture {arch!r} has {len(path)} choices but this search '
            f'space has {num_blocks} blocks')
    bad = sorted({c for c in path if not 0 <= c < len(CHOICES)})
    if bad:
        raise ValueError(
            f'architecture {arch!r} has unknown choices {bad}; valid choices '
            f'are 0-3 ({", ".join(CHOICES)})')
    return path


def build_choice(name: str, in_channels: int, out_channels: int,
                 stride: int, norm_cfg: ConfigType,
                 act_cfg: ConfigType) -> nn.Module:
    """Build one of :data:`CHOICES`."""
    cfg = dict(norm_cfg=norm_cfg, act_cfg=act_cfg, stride=stride)
    if name == 'xception':
        return XceptionUnit(in_channels, out_channels, **cfg)
    return ShuffleUnit(in_channels, out_channels, int(name[-1]), **cfg)


@MODELS.register_module()
class ChoiceBlock(nn.Module):
    """One searchable position: a ``ModuleDict`` of candidate units keyed by
    choice name. A supernet holds all four; a subnet holds only its chosen
    one, so a subnet's weights are a subset of the supernet's (same keys).

    Args:
        choices (dict[str, nn.Module]): Candidate units.
    """

    def __init__(self, choices: Dict[str, nn.Module]) -> None:
        super().__init__()
        self.choices = nn.ModuleDict(choices)
        self.active = next(iter(self.choices))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.choices[self.active](x)


@MODELS.register_module()
class ShuffleNetV2Supernet(BaseStagedBackbone):
    """ShuffleNetV2 one-shot supernet of DetNAS (Chen et al., NeurIPS 2019).

    Stem: 3x3 stride-2 conv (BN, ReLU); then four stages whose first block
    has stride 2 (layer indices 1-4, strides 4, 8, 16, 32). Every block
    chooses among :data:`CHOICES`.

    Modes:

    * **supernet** (``arch=None``): all four units exist at each position.
      In training mode every forward samples one path uniformly (one choice
      per block) from the backbone's own generator; under distributed
      training the path of rank 0 is broadcast, so every rank trains the
      same path. In eval mode (validation during supernet training, test)
      the fixed eval path is used: ``eval_path``, or the one set with
      :meth:`set_path`, never the last path sampled for training.
    * **subnet** (``arch='2,1,2,...'``): only the chosen units are built;
      :func:`~mmdet_dynamic.models.backbones.extract_subnet_state_dict`
      takes a subnet's weights out of a supernet checkpoint.

    Args:
        search_space (str): ``'small'`` (20 blocks), ``'large'`` (40 blocks)
            or ``'3.8G'`` (40 blocks, wide).
        arch (str | Sequence[int], optional): Subnet architecture; None for
            the supernet.
        eval_path (str | Sequence[int], optional): Supernet path used in
            eval mode until :meth:`set_path` changes it. Defaults to all 0.
        seed (int): Seed of the path sampler.
        out_indices (Sequence[int]): Layers returned. Defaults to (1, 2, 3,
            4) (strides 4-32, as ResNet for an FPN).
        frozen_stages (int): Freeze layers ``0..frozen_stages``.
        norm_eval (bool): Keep BN in eval mode while training.
        norm_cfg (dict): Norm config (DetNAS fine-tunes with SyncBN).
        act_cfg (dict): Activation config.
        init_cfg (dict, optional): Initialisation config.
    """

    # name -> (stem width, repeats per stage, widths per stage)
    search_spaces = {
        'small': (16, (4, 4, 8, 4), (64, 160, 320, 640)),
        'large': (48, (8, 8, 16, 8), (96, 240, 480, 960)),
        '3.8G': (72, (8, 8, 16, 8), (172, 432, 864, 1728)),
    }
    # DetNAS's searched FPN-300M architecture (small space)
    DETNAS_300M = '2,1,2,0,2,1,1,2,3,3,1,3,0,0,3,1,3,1,3,2'

    def __init__(self,
                 search_space: str = 'small',
                 arch: Optional[ArchType] = None,
                 eval_path: Optional[ArchType] = None,
                 seed: int = 0,
                 out_indices: Sequence[int] = (1, 2, 3, 4),
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: OptMultiConfig = dict(
                     type='Kaiming', layer='Conv2d')) -> None:
        super().__init__(out_indices, frozen_stages, norm_eval, init_cfg)
        if search_space not in self.search_spaces:
            raise ValueError(f'Unknown search space {search_space!r}; valid: '
                             f'{list(self.search_spaces)}')
        self.search_space = search_space
        stem, repeats, widths = self.search_spaces[search_space]
        self.num_blocks = sum(repeats)
        self.is_subnet = arch is not None
        subnet = parse_arch(arch, self.num_blocks) if self.is_subnet \
            else None

        self.add_layer(
            'stem',
            ConvModule(3, stem, 3, stride=2, padding=1, norm_cfg=norm_cfg,
                       act_cfg=act_cfg), stem, 2)
        self.blocks: List[ChoiceBlock] = []
        in_ch, stride = stem, 2
        for s, (n, width) in enumerate(zip(repeats, widths)):
            stage = []
            for b in range(n):
                names = [CHOICES[subnet[len(self.blocks)]]] if subnet \
                    else list(CHOICES)
                block = ChoiceBlock({
                    name: build_choice(name, in_ch if b == 0 else width,
                                       width, 2 if b == 0 else 1, norm_cfg,
                                       act_cfg)
                    for name in names
                })
                stage.append(block)
                self.blocks.append(block)
            in_ch, stride = width, stride * 2
            self.add_layer(f'stage{s + 1}', nn.Sequential(*stage), width,
                           stride)
        self._setup_outputs()

        self._generator = torch.Generator().manual_seed(seed)
        if subnet is not None:
            self._apply_path(subnet)
            self.eval_path = list(subnet)
        else:
            self.set_path(eval_path if eval_path is not None else
                          [0] * self.num_blocks)

    @property
    def path(self) -> List[int]:
        """The choice index active at each block."""
        return [CHOICES.index(b.active) for b in self.blocks]

    def _apply_path(self, path: Sequence[int]) -> None:
        for block, choice in zip(self.blocks, path):
            block.active = CHOICES[choice]

    def set_path(self, arch: ArchType) -> None:
        """Set the eval path: the path every eval-mode forward uses (and the
        active path until the next training-mode forward samples one)."""
        if self.is_subnet:
            raise RuntimeError('a subnet has a fixed architecture; build a '
                               'supernet (arch=None) to change paths')
        self.eval_path = parse_arch(arch, self.num_blocks)
        self._apply_path(self.eval_path)

    def sample_path(self) -> List[int]:
        """Draw a path uniformly (the same on every rank) and set it."""
        path = torch.randint(
            len(CHOICES), (self.num_blocks, ), generator=self._generator)
        if is_distributed():
            broadcast(path, src=0)
        path = path.tolist()
        self._apply_path(path)
        return path

    def before_forward(self) -> None:
        """A supernet samples a new path per training-mode forward and
        uses its eval path in eval mode."""
        if self.is_subnet:
            return
        if self.training:
            self.sample_path()
        else:
            self._apply_path(self.eval_path)


def extract_subnet_state_dict(supernet_state: Dict[str, torch.Tensor],
                              search_space: str, arch: ArchType,
                              prefix: str = '') -> Dict[str, torch.Tensor]:
    """Take a subnet's weights out of a supernet state dict.

    Args:
        supernet_state (dict): Supernet (or detector) state dict.
        search_space (str): The supernet's search space.
        arch (str | Sequence[int]): The subnet's architecture.
        prefix (str): Key prefix of the backbone in ``supernet_state``
            (``'backbone.'`` for a detector checkpoint); keys outside the
            backbone are kept as they are.

    Returns:
        dict: State dict holding only the subnet's weights (no unused
        choices), keys as in ``supernet_state``.
    """
    subnet = ShuffleNetV2Supernet(search_space, arch=arch, init_cfg=None)
    wanted = {prefix + k for k in subnet.state_dict()}
    missing = sorted(wanted - set(supernet_state))
    if missing:
        raise KeyError(f'the supernet state dict lacks {len(missing)} subnet '
                       f'weights, e.g. {missing[:3]}; is it a {search_space}'
                       ' supernet and is prefix={prefix!r} right?')
    return {
        k: v
        for k, v in supernet_state.items()
        if not k.startswith(prefix) or k in wanted
    }
