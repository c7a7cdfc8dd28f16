# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Params and FLOPs of this package's backbones and necks, as README tables.

    python tools/analysis_tools/complexity_tables.py [--tables NAME ...]

Counted with mmengine's ``get_model_complexity_info`` (one multiply-add = one
FLOP, the convention of the papers' "FLOPs"), batch 1, at each paper's input
size:

* YOLOv7: the whole detector of ``configs/yolov7`` (80 classes): params of
  the training form, and params and FLOPs of the official deploy form
  (RepConv, implicit layers and Conv + BN fused, no auxiliary head), FLOPs
  x2 as YOLOv7's tables (thop's multiply-adds x 2).
* Dy-YOLOv7: ``configs/dynamicdet/dy-yolov7_*_step1_coco.py``, params with
  the router, FLOPs x2 of each route (router included) in the fused form.
* EfficientDet D0-D7: the whole detectors of ``configs/efficientdet`` (80
  classes) at each preset's input size; the paper's FLOPs are
  multiply-adds, as mmengine's.
* E-ELAN: backbone alone at 640 px (P5 archs) or 1280 px (P6 archs); the
  paper's numbers are for the whole YOLOv7 detector (backbone + head) and
  count two FLOPs per multiply-add (thop's count x 2), hence the x2 column.
* RSANet: LCNet + RSAFPN + YOLOV3Head from ``configs/rsanet`` with 20 classes
  at 416 px (the paper's VOC setting).
* BiFPN D0-D7: the neck alone at EfficientDet's input size for each preset
  (512 + 128 * phi, D7 at 1536) on the P3-P5 widths of the EfficientNet
  backbone that preset uses, with P6/P7 made by the neck (num_outs=5).
* RSAFPN: the neck alone on LCNet's outputs at 416 px.
* DetNAS: the ShuffleNetV2 backbones at 224 px (the paper's FLOPs budget is
  for the ImageNet classifier, which adds a 1x1 conv to 1024 channels and an
  FC layer; that conv is counted in the last column).
"""
import argparse
import logging
import os.path as osp

import torch
from mmengine.analysis import get_model_complexity_info
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

import mmdet_dynamic  # noqa: F401
from mmdet_dynamic.apis.yolov7_convert import YOLOV7_CONFIGS as _CONFIGS
from mmdet_dynamic.registry import MODELS

YOLOV7_CONFIGS = {k: osp.basename(v) for k, v in _CONFIGS.items()}

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# arch -> (input size, paper params M, paper GFLOPs) of the whole detector
YOLOV7_PAPER = {
    'tiny': (640, 6.2, 13.8),
    'L': (640, 36.9, 104.7),
    'X': (640, 71.3, 189.9),
    'W6': (1280, 70.4, 360.0),
    'E6': (1280, 97.2, 515.2),
    'D6': (1280, 154.7, 806.8),
    'E6E': (1280, 151.7, 843.2),
}
# BiFPN preset -> (input size, EfficientNet-B* P3, P4, P5 channels)
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
RSANET_CONFIG = osp.join(ROOT, 'configs', 'rsanet',
                         'rsanet_lcnet_rsafpn_40i_raccoon.py')


def count(model, inputs):
    """(params, FLOPs) of ``model(*inputs)`` in eval mode."""
    model.eval()
    info = get_model_complexity_info(
        model, inputs=inputs, show_table=False, show_arch=False)
    return info['params'], info['flops']


def backbones_table():
    print('| backbone | input | params (M) | GFLOPs | GFLOPs x2 (YOLOv7 '
          'convention) | paper, whole detector: params (M) / GFLOPs |')
    print('|---|---|---|---|---|---|')
    for arch, (size, p_params, p_flops) in YOLOV7_PAPER.items():
        model = MODELS.build(dict(type='EELAN', arch=arch))
        params, flops = count(model, (torch.zeros(1, 3, size, size), ))
        print(f'| EELAN-{arch} | {size} | {params / 1e6:.2f} | '
              f'{flops / 1e9:.2f} | {2 * flops / 1e9:.2f} | '
              f'{p_params} / {p_flops} |')


# official whole-model figures (80 classes): params training / fused, and
# thop GFLOPs x 2 of the fused model where measured (docs/yolov7.md)
YOLOV7_OFFICIAL = {
    'tiny': (6228762, 6219709, 13.9),
    'L': (37622682, 36905341, 106.5),
    'X': (71347394, 71311741, 190.6),
    'W6': (82312436, 70394300, 359.7),
    'E6': (111898292, 97202940, None),
    'D6': (154709364, 133757052, None),
    'E6E': (166408884, 151687420, None),
}
# Dy-YOLOv7: config -> (input, official easy / hard GFLOPs after fusion)
DY_YOLOV7 = {
    'dy-yolov7_l_step1_coco.py': (640, 104.5, 181.7),
    'dy-yolov7_x_step1_coco.py': (640, 189.7, 307.6),
    'dy-yolov7_w6_step1_coco.py': (1280, 359.7, 601.7),
}


def _deploy(model):
    """The official fused form: RepConv and implicit layers folded,
    auxiliary convs dropped, Conv + BN fused."""
    from mmcv.cnn import fuse_conv_bn

    from mmdet_dynamic.models.layers import switch_to_deploy
    model.eval()
    switch_to_deploy(model)
    fuse_conv_bn(model)
    return model


def _numel(model):
    return sum(p.numel() for p in model.parameters())


def yolov7_table():
    print('| model | input | params, training form | params, deploy fused '
          '| GFLOPs x2, deploy fused | official: params training / fused; '
          'GFLOPs x2 (thop) / paper |')
    print('|---|---|---|---|---|---|')
    for arch, (size, _, p_flops) in YOLOV7_PAPER.items():
        cfg = Config.fromfile(
            osp.join(ROOT, 'configs', 'yolov7',
                     YOLOV7_CONFIGS[arch]))
        model = MODELS.build(cfg.model)
        train = _numel(model)
        _deploy(model)
        params, flops = count(model, (torch.zeros(1, 3, size, size), ))
        off_train, off_fused, off_flops = YOLOV7_OFFICIAL[arch]
        thop = f'{off_flops}' if off_flops else '-'
        print(f'| YOLOv7-{arch} | {size} | {train:,} | {params:,} | '
              f'{2 * flops / 1e9:.1f} | {off_train:,} / {off_fused:,}; '
              f'{thop} / {p_flops} |')


def dy_yolov7_table():
    print('| model | input | params | GFLOPs x2, easy route | GFLOPs x2, '
          'hard route | official easy / hard |')
    print('|---|---|---|---|---|---|')
    for name, (size, easy, hard) in DY_YOLOV7.items():
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'dynamicdet', name))
        model = MODELS.build(cfg.model)
        params = _numel(model)
        _deploy(model)
        flops = []
        for route in ('easy', 'hard'):
            model.test_cfg['tensor_route'] = route
            flops.append(
                count(model, (torch.zeros(1, 3, size, size), ))[1])
        print(f'| {name[:-3]} | {size} | {params:,} | '
              f'{2 * flops[0] / 1e9:.1f} | {2 * flops[1] / 1e9:.1f} | '
              f'{easy} / {hard} |')


# EfficientDet-D<phi>: paper's whole-detector params (M) and multiply-adds
# (B)
EFFICIENTDET_PAPER = {
    0: (3.9, 2.5), 1: (6.6, 6.1), 2: (8.1, 11), 3: (12, 25), 4: (21, 55),
    5: (34, 135), 6: (52, 226), 7: (52, 325)
}


def efficientdet_table():
    print('| model | input | backbone | BiFPN width / repeats | head depth | '
          'params (M) | GFLOPs | paper: params (M) / FLOPs (B) |')
    print('|---|---|---|---|---|---|---|---|')
    for phi, (p_params, p_flops) in EFFICIENTDET_PAPER.items():
        cfg = Config.fromfile(
            osp.join(ROOT, 'configs', 'efficientdet',
                     f'efficientdet_d{phi}_8xb16-300e_coco.py'))
        model = MODELS.build(cfg.model)
        size = cfg.image_size
        # mmengine's traced counter needs over 24 GB at 1536 px: count D7 at
        # half the size (768 = 6 x 128, so every level halves exactly) and
        # scale by 4; every layer is a per-pixel op, so this is exact
        scale = 2 if size > 1280 else 1
        params, flops = count(
            model, (torch.zeros(1, 3, size // scale, size // scale), ))
        flops *= scale**2
        print(f'| EfficientDet-D{phi} | {size} | '
              f'EfficientNet-{cfg.model.backbone.arch.upper()} | '
              f'{model.neck.out_channels} / {model.neck.num_repeats} | '
              f'{model.bbox_head.stacked_convs} | {params / 1e6:.3f} | '
              f'{flops / 1e9:.2f} | {p_params} / {p_flops} |',
              flush=True)


def rsanet_table():
    cfg = Config.fromfile(RSANET_CONFIG)
    cfg.model.bbox_head.num_classes = 20
    model = MODELS.build(cfg.model)
    parts = [('LCNet', model.backbone, (torch.zeros(1, 3, 416, 416), ))]
    with torch.no_grad():
        feats = model.backbone(torch.zeros(1, 3, 416, 416))
    parts.append(('RSAFPN', model.neck, (feats, )))
    parts.append(('RSANet (LCNet + RSAFPN + YOLOV3Head, 20 classes)', model,
                  (torch.zeros(1, 3, 416, 416), )))
    print('| model | input | params (M) | GFLOPs | paper: params (M) / '
          'GFLOPs |')
    print('|---|---|---|---|---|')
    for name, module, inputs in parts:
        params, flops = count(module, inputs)
        paper = '3.24 / 3.54' if name.startswith('RSANet') else '-'
        print(f'| {name} | 416 | {params / 1e6:.3f} | {flops / 1e9:.3f} | '
              f'{paper} |')


def necks_table():
    print('| neck | width / repeats | input | backbone P3-P5 channels | '
          'params (M) | GFLOPs |')
    print('|---|---|---|---|---|---|')
    for arch, (size, chans) in BIFPN_SETTINGS.items():
        neck = MODELS.build(
            dict(type='BiFPN', in_channels=list(chans), num_outs=5,
                 arch=arch))
        feats = tuple(
            torch.zeros(1, c, size // s, size // s)
            for c, s in zip(chans, (8, 16, 32)))
        params, flops = count(neck, (feats, ))
        print(f'| BiFPN-{arch} | {neck.out_channels} / {neck.num_repeats} | '
              f'{size} | {list(chans)} | {params / 1e6:.3f} | '
              f'{flops / 1e9:.3f} |')


def detnas_table():
    from mmdet_dynamic.models.backbones import ShuffleNetV2Supernet
    print('| backbone | input | params (M) | MFLOPs | MFLOPs + 1x1 conv to '
          '1024 | paper |')
    print('|---|---|---|---|---|---|')
    rows = [('supernet, small space (path of 3x3 units)',
             dict(search_space='small'), '-'),
            ('DetNAS-300M subnet', dict(
                search_space='small',
                arch=ShuffleNetV2Supernet.DETNAS_300M), '300M FLOPs'),
            ('supernet, large space (path of 3x3 units)',
             dict(search_space='large'), '-')]
    for name, kwargs, paper in rows:
        model = MODELS.build(dict(type='ShuffleNetV2Supernet', **kwargs))
        params, flops = count(model, (torch.zeros(1, 3, 224, 224), ))
        last = model.out_channels[-1]
        head = last * 1024 * 7 * 7
        print(f'| {name} | 224 | {params / 1e6:.2f} | {flops / 1e6:.0f} | '
              f'{(flops + head) / 1e6:.0f} | {paper} |')


TABLES = dict(yolov7=yolov7_table, dy_yolov7=dy_yolov7_table,
              efficientdet=efficientdet_table,
              backbones=backbones_table, rsanet=rsanet_table,
              necks=necks_table, detnas=detnas_table)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--tables', nargs='+', choices=list(TABLES), default=list(TABLES))
    args = parser.parse_args()
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    init_default_scope('mmdet_dynamic')
    for name in args.tables:
        print(f'\n### {name}\n')
        TABLES[name]()


if __name__ == '__main__':
    main()
