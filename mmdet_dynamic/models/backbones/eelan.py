# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""E-ELAN backbones of the YOLOv7 family."""
import math
from typing import Dict, List, Optional, Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from ..layers.backbone_stages import BackboneStage
from ..layers.elan_block import ELANBlock
from ..layers.yolov7_downsample import DownC, MPDownsample, ReOrg
from .base_staged_backbone import BaseStagedBackbone


def make_divisible(x: float, divisor: int = 8) -> int:
    """Round a scaled width up to a multiple of ``divisor``."""
    return max(divisor, int(math.ceil(x / divisor) * divisor))


@MODELS.register_module()
class EELAN(BaseStagedBackbone):
    """The YOLOv7 backbone family (ELAN / E-ELAN), layer for layer as the
    official ``cfg/training/yolov7*.yaml`` backbones.

    ``arch_settings`` rows, one per stage after the stem:
    ``(downsample, downsample_out, mid, out, num_convs, concat_step)``.
    Down-sampling: ``None`` (the stem already reached stride 4),
    ``'MaxPool'`` (tiny), ``'MP'`` (:class:`MPDownsample`, L/X), ``'Conv'``
    (3x3 stride 2, W6) or ``'DownC'`` (E6/D6/E6E). P6 models start with
    :class:`ReOrg` (space-to-depth). E6E uses two-branch E-ELAN blocks.

    Layer indices: 0 = stem, 1..4 (P5: strides 4, 8, 16, 32) or 1..5 (P6:
    strides 4..64). The detection outputs are the last three (P5) or four
    (P6) layers, e.g. YOLOv7-L gives 512, 1024, 1024 channels at strides 8,
    16, 32.

    Compound scaling (YOLOv7 section 3.2): ``deepen_factor`` multiplies the
    number of 3x3 convs in each ELAN chain; this changes how many maps the
    transition conv concatenates, so every width outside the chains
    (stem, down-sampling and transition outputs) is scaled by the same ratio
    of concatenated parts, keeping the block's in/out ratio. The chain width
    is unchanged. ``widen_factor`` then scales every width. For instance
    ``arch='L', deepen_factor=1.5`` builds exactly YOLOv7-X.

    Args:
        arch (str): ``'tiny'``, ``'L'``, ``'X'``, ``'W6'``, ``'E6'``,
            ``'D6'`` or ``'E6E'``. Defaults to ``'L'``.
        deepen_factor (float): Depth multiplier of the ELAN chains.
        widen_factor (float): Width multiplier of every layer.
        out_indices (Sequence[int], optional): Layers returned. Defaults to
            the last three (P5) or four (P6) layers.
        frozen_stages (int): Freeze layers ``0..frozen_stages``.
        norm_eval (bool): Keep BN in eval mode while training.
        use_repconv (bool): Use :class:`RepConvN` for the chain convs
            (re-parameterised for deployment). Defaults to False.
        deploy (bool): Build RepConvN layers in fused form.
        norm_cfg (dict): Norm config. Defaults to BN (momentum 0.03,
            eps 1e-3) as YOLOv7.
        act_cfg (dict, optional): Activation; defaults to SiLU, LeakyReLU
            (0.1) for tiny.
        init_cfg (dict, optional): Initialisation config.

    Example:
        >>> import torch
        >>> self = EELAN(arch='tiny').eval()
        >>> [tuple(o.shape) for o in self(torch.rand(1, 3, 320, 320))]
        [(1, 128, 40, 40), (1, 256, 20, 20), (1, 512, 10, 10)]
    """

    arch_settings: Dict[str, dict] = {
        'tiny': dict(
            reorg=False,
            stem=[(32, 3, 2), (64, 3, 2)],
            stages=[(None, 0, 32, 64, 2, 1), ('MaxPool', 0, 64, 128, 2, 1),
                    ('MaxPool', 0, 128, 256, 2, 1),
                    ('MaxPool', 0, 256, 512, 2, 1)],
            act_cfg=dict(type='LeakyReLU', negative_slope=0.1)),
        'L': dict(
            reorg=False,
            stem=[(32, 3, 1), (64, 3, 2), (64, 3, 1), (128, 3, 2)],
            stages=[(None, 0, 64, 256, 4, 2), ('MP', 256, 128, 512, 4, 2),
                    ('MP', 512, 256, 1024, 4, 2),
                    ('MP', 1024, 256, 1024, 4, 2)]),
        'X': dict(
            reorg=False,
            stem=[(40, 3, 1), (80, 3, 2), (80, 3, 1), (160, 3, 2)],
            stages=[(None, 0, 64, 320, 6, 2), ('MP', 320, 128, 640, 6, 2),
                    ('MP', 640, 256, 1280, 6, 2),
                    ('MP', 1280, 256, 1280, 6, 2)]),
        'W6': dict(
            reorg=True,
            stem=[(64, 3, 1)],
            stages=[('Conv', 128, 64, 128, 4, 2),
                    ('Conv', 256, 128, 256, 4, 2),
                    ('Conv', 512, 256, 512, 4, 2),
                    ('Conv', 768, 384, 768, 4, 2),
                    ('Conv', 1024, 512, 1024, 4, 2)]),
        'E6': dict(
            reorg=True,
            stem=[(80, 3, 1)],
            stages=[('DownC', 160, 64, 160, 6, 2),
                    ('DownC', 320, 128, 320, 6, 2),
                    ('DownC', 640, 256, 640, 6, 2),
                    ('DownC', 960, 384, 960, 6, 2),
                    ('DownC', 1280, 512, 1280, 6, 2)]),
        'D6': dict(
            reorg=True,
            stem=[(96, 3, 1)],
            stages=[('DownC', 192, 64, 192, 8, 2),
                    ('DownC', 384, 128, 384, 8, 2),
                    ('DownC', 768, 256, 768, 8, 2),
                    ('DownC', 1152, 384, 1152, 8, 2),
                    ('DownC', 1536, 512, 1536, 8, 2)]),
    }
    arch_settings['E6E'] = dict(arch_settings['E6'], num_branches=2)

    def __init__(self,
                 arch: str = 'L',
                 deepen_factor: float = 1.0,
                 widen_factor: float = 1.0,
                 out_indices: Optional[Sequence[int]] = None,
                 frozen_stages: int = -1,
                 norm_eval: bool = False,
                 use_repconv: bool = False,
                 deploy: bool = False,
                 norm_cfg: ConfigType = dict(
                     type='BN', momentum=0.03, eps=0.001),
                 act_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = dict(
                     type='Kaiming',
                     layer='Conv2d',
                     a=math.sqrt(5),
                     distribution='uniform',
                     mode='fan_in',
                     nonlinearity='leaky_relu')) -> None:
        if arch not in self.arch_settings:
            raise ValueError(f'Unknown EELAN arch {arch!r}; valid archs: '
                             f'{list(self.arch_settings)}')
        setting = self.arch_settings[arch]
        num_layers = 1 + len(setting['stages'])
        if out_indices is None:
            out_indices = tuple(range(2, num_layers))
        super().__init__(out_indices, frozen_stages, norm_eval, init_cfg)
        if widen_factor <= 0:
            raise ValueError(f'widen_factor must be > 0, got {widen_factor}')
        self.arch = arch
        self.deepen_factor = deepen_factor
        self.widen_factor = widen_factor
        act_cfg = act_cfg or setting.get('act_cfg', dict(type='SiLU'))
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)

        ratio = self._transition_ratio(setting['stages'], deepen_factor)

        def width(c: float, compound: bool = True) -> int:
            return make_divisible(c * (ratio if compound else 1.0) *
                                  widen_factor)

        stem: List[nn.Module] = []
        in_ch, stride = 3, 1
        if setting['reorg']:
            stem.append(ReOrg())
            in_ch, stride = 12, 2
        for out, k, s in setting['stem']:
            out = width(out)
            stem.append(
                ConvModule(in_ch, out, k, stride=s, padding=k // 2, **conv))
            in_ch, stride = out, stride * s
        self.add_layer('stem', nn.Sequential(*stem), in_ch, stride)

        for i, (down, down_out, mid, out, num_convs,
                step) in enumerate(setting['stages']):
            stage: List[nn.Module] = []
            if down is not None:
                stride *= 2
                if down == 'MaxPool':
                    stage.append(nn.MaxPool2d(2, 2))
                else:
                    down_out = width(down_out)
                    if down == 'MP':
                        stage.append(MPDownsample(in_ch, down_out, **conv))
                    elif down == 'DownC':
                        stage.append(DownC(in_ch, down_out, **conv))
                    else:  # 'Conv'
                        stage.append(
                            ConvModule(
                                in_ch, down_out, 3, stride=2, padding=1,
                                **conv))
                    in_ch = down_out
            out = width(out)
            stage.append(
                ELANBlock(
                    in_ch,
                    width(mid, compound=False),
                    out,
                    num_convs=round(num_convs * deepen_factor),
                    concat_step=step,
                    num_branches=setting.get('num_branches', 1),
                    use_repconv=use_repconv,
                    deploy=deploy,
                    **conv))
            in_ch = out
            self.add_layer(f'stage{i + 1}', nn.Sequential(*stage), out,
                           stride)
        self._setup_outputs()

    def stage_specs(self, layout: str = 'cbnetv2') -> tuple:
        """Stages for the dynamic cascade.

        ``'cbnetv2'``: every layer, fusion into its input (see
        :class:`BaseStagedBackbone`). ``'dynamicdet'``: DynamicDet's YOLO
        layout, as the official dy-yolov7 cfgs build it:

        * P5 archs (YOLOv7-L: router inputs = official layers 2, 11, 24,
          37, 50): level 0 is the stem at stride 2 (the last stem conv
          before the next down-sampling), levels 1..4 the ELAN stages; all
          five are composite sources and targets; each fusion point sits
          right after a down-sampling layer, before what it feeds (the
          stride-1 stem conv, the first ELAN, then each ELAN after its MP).
        * P6 archs (W6: router inputs = layers 1, 10, 19, 28, 37, 46): the
          router pools the stem (stride 2) and the five stages; the stages
          are the sources and targets, fused after their stride-2 conv.
          (The official B2 starts from B1's ReOrg output instead of the
          image; ReOrg has no parameters, so B2 running its own ReOrg on
          the image computes the same.)

        Returns:
            tuple: ``(stages, out_indices, fused_indices, router_indices)``.
        """
        if layout != 'dynamicdet':
            return super().stage_specs(layout)
        stem = getattr(self, 'stem')
        if self.arch_settings[self.arch]['reorg']:
            stages = [BackboneStage('stem', self.layer_channels[0], 2)]
            fused = list(range(1, len(self.layers)))
        else:
            convs = [i for i, m in enumerate(stem)
                     if isinstance(m, ConvModule)]
            strides = [m.conv.stride[0] for m in stem]
            first = strides.index(2)  # the stem's first stride-2 conv
            last = first  # the last stem layer still at stride 2
            while last + 1 < len(stem) and strides[last + 1] == 1:
                last += 1
            assert last + 1 < len(stem) and last in convs
            stages = [
                BackboneStage(
                    f'stem.{last}',
                    stem[last].conv.out_channels,
                    2,
                    fusion_module=f'stem.{first + 1}',
                    fusion_channels=stem[first].conv.out_channels)
            ]
            fused = list(range(len(self.layers)))
        for k, name in enumerate(self.layers[1:], start=1):
            layer = getattr(self, name)
            elan = layer[-1]
            stages.append(
                BackboneStage(
                    name,
                    self.layer_channels[k],
                    self.layer_strides[k],
                    fusion_module=f'{name}.{len(layer) - 1}',
                    fusion_channels=elan.branches[0]['short_conv'].conv.
                    in_channels))
        if not self.arch_settings[self.arch]['reorg'] and \
                0 in self.out_indices:
            raise ValueError(
                "EELAN's 'dynamicdet' layout replaces the stride-4 stem "
                'output by the stride-2 level; out_indices must not include '
                '0')
        return stages, list(self.out_indices), fused, list(
            range(len(stages)))

    def _transition_ratio(self, stages, deepen_factor: float) -> float:
        """Ratio of concatenated parts after / before depth scaling."""
        num_convs, step = stages[0][4], stages[0][5]
        scaled = num_convs * deepen_factor
        if deepen_factor <= 0 or abs(scaled - round(scaled)) > 1e-6 or \
                round(scaled) % step:
            valid = [k * step / num_convs for k in range(1, 5)]
            raise ValueError(
                f'deepen_factor={deepen_factor} gives {scaled:g} convs per '
                f'ELAN chain for arch {self.arch!r}, which '
                f'must be a positive multiple of {step}; valid values '
                f'include {valid}')
        return (2 + round(scaled) // step) / (2 + num_convs // step)
