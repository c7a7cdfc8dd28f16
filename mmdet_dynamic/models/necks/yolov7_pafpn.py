# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""YOLOv7's neck (the ``head:`` section of the official cfgs, up to the
detection layer)."""
import math
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from ..layers.elan_block import ELANBlock
from ..layers.rep_conv import RepConv
from ..layers.sppcspc import SPPCSPC
from ..layers.yolov7_downsample import DownC, MPDownsample


@MODELS.register_module()
class YOLOv7PAFPN(BaseModule):
    """YOLOv7's path-aggregation neck, layer for layer as the official
    ``cfg/training/yolov7*.yaml`` ``head:`` sections.

    On backbone maps ``C3..C5`` (P5 archs) or ``C3..C6`` (P6 archs):

    1. :class:`SPPCSPC` on the last map.
    2. Top-down, for each lower level: 1x1 conv of the current map,
       nearest 2x upsampling, 1x1 lateral conv of the backbone map,
       ``concat([lateral, upsampled])``, ELAN-H block.
    3. Bottom-up: down-sampling (``'MP'``: :class:`MPDownsample` for L/X;
       ``'Conv'``: 3x3 stride-2 conv for tiny/W6; ``'DownC'`` for
       E6/D6/E6E), ``concat([down, top-down map of that level])``, ELAN-H.
    4. An output 3x3 conv per level: :class:`RepConv` for L, a plain conv
       (conv + BN + act) for the others, as the official cfgs.
    5. P6 archs (W6/E6/D6/E6E) have the auxiliary-head convs of
       ``IAuxDetect``: 3x3 convs on the top-down maps (P3 .. P5) and the
       SPPCSPC output. They run in training mode only (their outputs are
       appended after the lead levels) and are dropped for deployment, as
       the official deploy cfgs drop them. In E6E they read the last
       E-ELAN branch of each top-down block, as the official cfg does.

    ELAN-H keeps every chain output (L, W6, E6, D6, tiny) or every second
    one (X); its 1x1 convs can be wider than its chain (e.g. 256 / 128).

    Args:
        arch (str): ``'tiny'``, ``'L'``, ``'X'``, ``'W6'``, ``'E6'``,
            ``'D6'`` or ``'E6E'``.
        in_channels (Sequence[int]): Channels of the backbone maps, e.g.
            ``[512, 1024, 1024]`` for L.
        use_aux (bool, optional): Build the auxiliary-head convs. Defaults
            to True for the P6 archs, which have them.
        deploy (bool): Build the deploy form: output RepConvs fused and, by
            default, no auxiliary convs.
        norm_cfg (dict): Norm config (YOLOv7: BN, momentum 0.03, eps 1e-3).
        act_cfg (dict, optional): Activation; SiLU, LeakyReLU(0.1) for tiny.
        init_cfg (dict, optional): Initialisation config. Defaults to
            PyTorch's default conv init, which the official code keeps.

    Example:
        >>> import torch
        >>> neck = YOLOv7PAFPN('tiny', [128, 256, 512]).eval()
        >>> feats = [torch.rand(1, c, 40 // 2**i, 40 // 2**i)
        ...          for i, c in enumerate([128, 256, 512])]
        >>> [tuple(o.shape) for o in neck(feats)]
        [(1, 128, 40, 40), (1, 256, 20, 20), (1, 512, 10, 10)]
    """

    # top_down / bottom_up rows: (width, (mid, chain, num_convs, step), out)
    arch_settings: Dict[str, dict] = {
        'tiny': dict(
            spp=256, tiny_spp=True, down='Conv', out_conv='Conv',
            top_down=[(128, (64, 64, 2, 1), 128), (64, (32, 32, 2, 1), 64)],
            bottom_up=[(128, (64, 64, 2, 1), 128),
                       (256, (128, 128, 2, 1), 256)],
            out=[128, 256, 512],
            act_cfg=dict(type='LeakyReLU', negative_slope=0.1)),
        'L': dict(
            spp=512, down='MP', out_conv='RepConv',
            top_down=[(256, (256, 128, 4, 1), 256),
                      (128, (128, 64, 4, 1), 128)],
            bottom_up=[(256, (256, 128, 4, 1), 256),
                       (512, (512, 256, 4, 1), 512)],
            out=[256, 512, 1024]),
        'X': dict(
            spp=640, down='MP', out_conv='Conv',
            top_down=[(320, (256, 256, 6, 2), 320),
                      (160, (128, 128, 6, 2), 160)],
            bottom_up=[(320, (256, 256, 6, 2), 320),
                       (640, (512, 512, 6, 2), 640)],
            out=[320, 640, 1280]),
        'W6': dict(
            spp=512, down='Conv', out_conv='Conv',
            top_down=[(384, (384, 192, 4, 1), 384),
                      (256, (256, 128, 4, 1), 256),
                      (128, (128, 64, 4, 1), 128)],
            bottom_up=[(256, (256, 128, 4, 1), 256),
                       (384, (384, 192, 4, 1), 384),
                       (512, (512, 256, 4, 1), 512)],
            out=[256, 512, 768, 1024], aux=[320, 640, 960, 1280]),
        'E6': dict(
            spp=640, down='DownC', out_conv='Conv',
            top_down=[(480, (384, 192, 6, 1), 480),
                      (320, (256, 128, 6, 1), 320),
                      (160, (128, 64, 6, 1), 160)],
            bottom_up=[(320, (256, 128, 6, 1), 320),
                       (480, (384, 192, 6, 1), 480),
                       (640, (512, 256, 6, 1), 640)],
            out=[320, 640, 960, 1280], aux=[320, 640, 960, 1280]),
        'D6': dict(
            spp=768, down='DownC', out_conv='Conv',
            top_down=[(576, (384, 192, 8, 1), 576),
                      (384, (256, 128, 8, 1), 384),
                      (192, (128, 64, 8, 1), 192)],
            bottom_up=[(384, (256, 128, 8, 1), 384),
                       (576, (384, 192, 8, 1), 576),
                       (768, (512, 256, 8, 1), 768)],
            out=[384, 768, 1152, 1536], aux=[384, 768, 1152, 1536]),
    }
    arch_settings['E6E'] = dict(arch_settings['E6'], num_branches=2)

    def __init__(self,
                 arch: str,
                 in_channels: Sequence[int],
                 use_aux: bool = None,
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
        super().__init__(init_cfg=init_cfg)
        if arch not in self.arch_settings:
            raise ValueError(f'Unknown YOLOv7PAFPN arch {arch!r}; valid '
                             f'archs: {list(self.arch_settings)}')
        s = self.arch_settings[arch]
        num_levels = len(s['out'])
        if len(in_channels) != num_levels:
            raise ValueError(
                f'YOLOv7PAFPN arch {arch!r} takes {num_levels} backbone '
                f'maps, got in_channels={list(in_channels)}')
        self.arch = arch
        self.deploy = deploy
        self.in_channels = list(in_channels)
        if use_aux is None:
            use_aux = bool(s.get('aux')) and not deploy
        self.use_aux = use_aux
        if self.use_aux and not s.get('aux'):
            raise ValueError(f'arch {arch!r} has no auxiliary head in the '
                             'official cfgs; use_aux=True needs a P6 arch')
        act_cfg = act_cfg or s.get('act_cfg', dict(type='SiLU'))
        conv = dict(norm_cfg=norm_cfg, act_cfg=act_cfg)
        branches = s.get('num_branches', 1)

        def elan(in_ch, setting, out):
            mid, chain, num_convs, step = setting
            return ELANBlock(in_ch, mid, out, num_convs=num_convs,
                             concat_step=step, num_branches=branches,
                             chain_channels=chain, **conv)

        self.spp = SPPCSPC(in_channels[-1], s['spp'],
                           tiny=s.get('tiny_spp', False), **conv)
        self.reduce_convs = nn.ModuleList()
        self.lateral_convs = nn.ModuleList()
        self.top_down_blocks = nn.ModuleList()
        td_channels = [s['spp']]
        for i, (width, setting, out) in enumerate(s['top_down']):
            self.reduce_convs.append(
                ConvModule(td_channels[-1], width, 1, **conv))
            self.lateral_convs.append(
                ConvModule(in_channels[-2 - i], width, 1, **conv))
            self.top_down_blocks.append(elan(2 * width, setting, out))
            td_channels.append(out)

        self.downsamples = nn.ModuleList()
        self.bottom_up_blocks = nn.ModuleList()
        channels = [td_channels[-1]]
        for i, (width, setting, out) in enumerate(s['bottom_up']):
            prev = channels[-1]
            if s['down'] == 'MP':
                down = MPDownsample(prev, width, **conv)
            elif s['down'] == 'DownC':
                down = DownC(prev, width, **conv)
            else:
                down = ConvModule(prev, width, 3, stride=2, padding=1,
                                  **conv)
            self.downsamples.append(down)
            partner = td_channels[-2 - i]
            self.bottom_up_blocks.append(elan(width + partner, setting, out))
            channels.append(out)

        self.out_convs = nn.ModuleList()
        for ch, out in zip(channels, s['out']):
            if s['out_conv'] == 'RepConv':
                self.out_convs.append(RepConv(ch, out, deploy=deploy,
                                              **conv))
            else:
                self.out_convs.append(
                    ConvModule(ch, out, 3, padding=1, **conv))
        self.out_channels = list(s['out'])

        self.aux_convs = nn.ModuleList()
        self.aux_channels: List[int] = []
        if self.use_aux:
            sources = td_channels[::-1]  # top-down P3 .. P5, then SPPCSPC
            for ch, out in zip(sources, s['aux']):
                self.aux_convs.append(
                    ConvModule(ch, out, 3, padding=1, **conv))
            self.aux_channels = list(s['aux'])

    def forward(self, inputs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
        """Backbone maps (N, in_channels[i], H_i, W_i), strides 8, 16, 32
        (, 64) -> the lead maps (N, out_channels[i], H_i, W_i); in training
        mode with ``use_aux`` the auxiliary maps
        (N, aux_channels[i], H_i, W_i) follow them."""
        if len(inputs) != len(self.in_channels):
            raise ValueError(f'YOLOv7PAFPN expects {len(self.in_channels)} '
                             f'maps, got {len(inputs)}')
        x = self.spp(inputs[-1])
        td_outs, aux_sources = [x], [x]
        for i, block in enumerate(self.top_down_blocks):
            up = F.interpolate(self.reduce_convs[i](x), scale_factor=2,
                               mode='nearest')
            lateral = self.lateral_convs[i](inputs[-2 - i])
            parts = block.forward_branches(torch.cat([lateral, up], dim=1))
            x = sum(parts[1:], parts[0])  # the block's output
            td_outs.append(x)
            aux_sources.append(parts[-1])
        outs = [x]
        for i, block in enumerate(self.bottom_up_blocks):
            x = block(
                torch.cat([self.downsamples[i](x), td_outs[-2 - i]], dim=1))
            outs.append(x)
        results = [conv(o) for conv, o in zip(self.out_convs, outs)]
        if self.training and self.use_aux:
            results += [
                conv(src)
                for conv, src in zip(self.aux_convs, aux_sources[::-1])
            ]
        return tuple(results)

    def switch_to_deploy(self) -> None:
        """Deploy form: RepConvs fused (see
        :func:`~mmdet_dynamic.models.layers.switch_to_deploy`) and the
        auxiliary convs removed, as the official deploy cfgs build it."""
        for m in self.out_convs:
            if isinstance(m, RepConv):
                m.switch_to_deploy()
        self.aux_convs = nn.ModuleList()
        self.aux_channels = []
        self.use_aux = False
        self.deploy = True
