# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Latency of the dynamic cascade against the hard ratio (CPU).

    .venv/bin/python benchmarks/dynamic_latency.py   # about 10 min on 2 cores

For each model (Dy-Faster R-CNN R-18 FPN and Dy-YOLO with E-ELAN tiny, the
raccoon configs) at 320 x 320 px and batch sizes 1 and 8, it measures:

* ``lat1``: detector 1 built as a plain mmdet detector (``model.detector``
  of the config, no cascade, no router);
* the cascade's latency at hard ratios 0, 0.25, 0.5, 0.75, 1, the routing
  threshold being set per batch so that exactly that share of images goes
  hard; ``lat2`` is the ratio-1 latency;

and prints, per image, the measured latency, the linear model
``(1 - k) lat1 + k lat2`` and their ratio (goal: within 5 %), and at ratio 0
the overhead over the plain detector (goal: <= 1.03x). Images are the
bundled raccoon test images (``make data`` first). It prints measured
ratios; it asserts nothing.
"""
import argparse
import copy
import logging
import os.path as osp
import statistics
import time

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

import mmdet_dynamic  # noqa: F401
from mmdet.registry import DATASETS, MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODELS_TO_RUN = {
    'Dy-Faster R-CNN (R-18 FPN)':
    'configs/dynamicdet/dy-faster-rcnn_r18_fpn_40i_raccoon.py',
    'Dy-YOLO (E-ELAN tiny + YOLOX head)':
    'configs/dynamicdet/dy-yolox_eelan-tiny_40i_raccoon.py',
}


def load_images(size: int, num: int):
    ds = DATASETS.build(
        dict(
            type='CocoDataset',
            data_root=osp.join(ROOT, 'data', 'raccoon'),
            ann_file='coco/test.json',
            data_prefix=dict(img='images/'),
            metainfo=dict(classes=('raccoon', )),
            test_mode=True,
            indices=num,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='Resize', scale=(size, size), keep_ratio=False),
                dict(
                    type='PackDetInputs',
                    meta_keys=('img_id', 'img_path', 'ori_shape',
                               'img_shape', 'scale_factor'))
            ]))
    return [ds[i] for i in range(num)]


def batches(model, samples, batch_size):
    out = []
    for i in range(0, len(samples), batch_size):
        packed = pseudo_collate(samples[i:i + batch_size])
        out.append(model.data_preprocessor(packed, False))
    return out


def timed(fn, data, repeats: int) -> float:
    """Median over repeats of the seconds per image for one pass."""
    num = sum(len(d['data_samples']) for d in data)
    runs = []
    with torch.no_grad():
        fn(data[0])  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            for d in data:
                fn(d)
            runs.append((time.perf_counter() - start) / num)
    return statistics.median(runs)


def thresholds_for(model, data, ratio: float):
    """Per batch, a threshold that sends round(ratio * n) images hard."""
    out = []
    with torch.no_grad():
        for d in data:
            _, out1 = model.backbone1(d['inputs'])
            phi = model.router(out1).sort().values.tolist()
            n = len(phi)
            k = round(ratio * n)
            if k == 0:
                out.append(1.0)
            elif k == n:
                out.append(0.0)
            else:  # between the (n-k-1)-th and (n-k)-th smallest score
                out.append((phi[n - k - 1] + phi[n - k]) / 2)
    return out


def run(name, config, args, images):
    cfg = Config.fromfile(osp.join(ROOT, config))
    torch.manual_seed(0)
    cascade = MODELS.build(copy.deepcopy(cfg.model))
    cascade.init_weights()
    cascade.eval()
    with torch.no_grad():  # spread the fresh router's scores
        cascade.router.fc2.weight.mul_(50)
    plain_cfg = copy.deepcopy(cfg.model.detector)
    plain = MODELS.build(plain_cfg)
    plain.load_state_dict(cascade.detector1.state_dict())
    plain.eval()
    rows = []
    for bs in args.batch_sizes:
        data = batches(cascade, images, bs)
        lat1 = timed(lambda d: plain.predict(d['inputs'], d['data_samples']),
                     data, args.repeats)
        lats = {}
        for ratio in args.ratios:
            taus = {
                id(d): tau
                for d, tau in zip(data, thresholds_for(cascade, data, ratio))
            }

            def predict(d, taus=taus):
                cascade.set_threshold(taus[id(d)])
                return cascade.predict(d['inputs'], d['data_samples'])

            lats[ratio] = timed(predict, data, args.repeats)
        lat2 = lats[max(args.ratios)]
        for ratio in args.ratios:
            expected = (1 - ratio) * lat1 + ratio * lat2
            rows.append((name, bs, ratio, lats[ratio], lat1, lat2, expected))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=320)
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8])
    parser.add_argument(
        '--ratios', type=float, nargs='+', default=[0, 0.25, 0.5, 0.75, 1])
    parser.add_argument('--num-images', type=int, default=8)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    init_default_scope('mmdet')
    images = load_images(args.size, args.num_images)
    print(f'CPU, {args.threads} threads, {args.size} px, '
          f'{args.num_images} raccoon test images, median of '
          f'{args.repeats} passes; latency in ms per image\n')
    print('| model | batch | hard ratio | measured | (1-k) lat1 + k lat2 | '
          'measured / linear | measured / plain detector 1 |')
    print('|---|---|---|---|---|---|---|')
    for name, config in MODELS_TO_RUN.items():
        for row in run(name, config, args, images):
            name_, bs, ratio, lat, lat1, lat2, expected = row
            print(f'| {name_} | {bs} | {ratio:.2f} | {lat * 1e3:.1f} | '
                  f'{expected * 1e3:.1f} | {lat / expected:.3f} | '
                  f'{lat / lat1:.3f} |', flush=True)


if __name__ == '__main__':
    main()
