# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Params and FLOPs of the neck presets, counted with mmengine's counter.

    python tools/analysis_tools/neck_complexity.py            # markdown table

BiFPN D0-D7 are measured at EfficientDet's input size for each preset
(512 + 128 * phi, D7 at 1536) on the P3-P5 widths of the EfficientNet
backbone that preset uses, with P6/P7 made by the neck (num_outs=5).
RSAFPN is measured on RSANet's setting (416 px, three levels at strides 8,
16, 32) with the channels of this package's LCNet when it exists, else the
widths given by --rsafpn-in-channels.
"""
import argparse

import torch
from mmengine.analysis import get_model_complexity_info

import mmdet_dynamic  # noqa: F401
from mmdet.registry import MODELS

# preset -> (input size, EfficientNet-B* P3, P4, P5 channels)
BIFPN_SETTINGS = {
    'D0': (512, (40, 112, 320)),
    'D1': (640, (40, 112, 320)),
    'D2': (768, (48, 120, 352)),
    'D3': (896, (48, 136, 384)),
    'D4': (1024, (56, 160, 448)),
    'D5': (1280, (64, 176, 512)),
    'D6': (1280, (72, 200, 576)),
    'D7': (1536, (72, 200, 576)),
}


def complexity(neck_cfg: dict, channels, size: int, strides=(8, 16, 32)):
    neck = MODELS.build(neck_cfg).eval()
    feats = tuple(
        torch.zeros(1, c, size // s, size // s)
        for c, s in zip(channels, strides))
    info = get_model_complexity_info(
        neck, inputs=(feats, ), show_table=False, show_arch=False)
    return info['params'], info['flops']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--rsafpn-in-channels', type=int, nargs=3, default=[96, 192, 384])
    parser.add_argument('--rsafpn-out-channels', type=int, default=96)
    args = parser.parse_args()

    print('| neck | width / repeats | input | backbone P3-P5 channels | '
          'params (M) | FLOPs (G) |')
    print('|---|---|---|---|---|---|')
    for arch, (size, chans) in BIFPN_SETTINGS.items():
        cfg = dict(type='BiFPN', in_channels=list(chans), num_outs=5,
                   arch=arch)
        neck = MODELS.build(cfg)
        params, flops = complexity(cfg, chans, size)
        print(f'| BiFPN-{arch} | {neck.out_channels} / {neck.num_repeats} | '
              f'{size} | {list(chans)} | {params / 1e6:.3f} | '
              f'{flops / 1e9:.3f} |')
    chans = args.rsafpn_in_channels
    cfg = dict(type='RSAFPN', in_channels=chans,
               out_channels=args.rsafpn_out_channels, num_outs=3)
    params, flops = complexity(cfg, chans, 416)
    print(f'| RSAFPN | {args.rsafpn_out_channels} / - | 416 | {chans} | '
          f'{params / 1e6:.3f} | {flops / 1e9:.3f} |')


if __name__ == '__main__':
    main()
