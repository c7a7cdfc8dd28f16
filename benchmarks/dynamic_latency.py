# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Latency of the dynamic cascade against the hard ratio (CPU or GPU).

    make demo   # optional: trained Dy-Faster R-CNN weights (used if present)
    .venv/bin/python benchmarks/dynamic_latency.py --plot latency.png
    # about 16 min on 2 cores
    .venv/bin/python benchmarks/dynamic_latency.py --batch-scaling --repeats 5

For each model (Dy-Faster R-CNN R-18 FPN, the `make demo` config,
Dy-YOLO with E-ELAN tiny and Dy-YOLOv7-tiny; ``--models`` picks) at
320 x 320 px and batch sizes 1 and 8, it
measures:

* ``lat1``: detector 1 built as a plain mmdet detector (``model.detector``
  of the config, no cascade, no router), with detector 1's weights;
* the cascade's latency at hard ratios 0, 0.25, 0.5, 0.75, 1, with one
  routing threshold for all images that sends exactly that share of them
  hard (batches then mix routes); ``lat2`` is the ratio-1 latency;

and prints, per image, the measured latency, the linear model
``(1 - k) lat1 + k lat2`` and their ratio (goal: within 5 %), and at ratio 0
the overhead over the plain detector (goal: <= 1.03x). The variants are
timed in turns: on every batch they run back to back (plain, ratio 0, ...,
ratio 1) in an order rotated from batch to batch, so slow drifts of a
shared machine hit all of them alike; each figure is the median over
``--repeats`` turns. Models use trained weights when a checkpoint exists
(``--checkpoints``), otherwise fresh weights.
Images are the bundled raccoon test images (``make data`` first). It prints
measured ratios; it asserts nothing. ``--plot`` also draws latency against
the hard ratio with the 5 % band around the linear model.

``--batch-scaling`` prints instead each route's latency per image at batch
sizes 1, 2, 4, 8: a mixed batch runs its easy and hard sub-batches at such
smaller sizes, so where the per-image cost depends on the batch size, mixed
batches depart from the linear model, which assumes one cost per image.
"""
import argparse
import copy
import logging
import os.path as osp
import statistics
import time
from typing import NamedTuple

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope

import mmdet_dynamic  # noqa: F401
from mmdet_dynamic.apis.variable_speed import (resolve_device, synchronize,
                                               threshold_for_hard_ratio)
from mmdet_dynamic.models.detectors import wrapped_detector_cfg
from mmdet_dynamic.utils import build_model_from_config
from mmdet_dynamic.registry import DATASETS, MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODELS_TO_RUN = {
    'Dy-Faster R-CNN (R-18 FPN)':
    'configs/dynamicdet/dy-faster-rcnn_r18_fpn_joint-router_raccoon.py',
    'Dy-YOLO (E-ELAN tiny + YOLOX head)':
    'configs/dynamicdet/dy-yolox_eelan-tiny_40i_raccoon.py',
    'Dy-YOLOv7-tiny':
    'configs/dynamicdet/dy-yolov7_tiny_joint-router_raccoon.py',
}
DEFAULT_CHECKPOINTS = [
    'work_dirs/demo/iter_120.pth', 'none',
    'work_dirs/dy-yolov7-tiny/iter_480.pth'
]


class Row(NamedTuple):
    """One measured point; latencies in seconds per image."""
    model: str
    trained: bool
    batch_size: int
    ratio: float
    latency: float
    lat1: float
    lat2: float
    linear: float  # (1 - ratio) * lat1 + ratio * lat2


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


def timed_in_turns(fns, data, repeats: int, device: str = 'cpu'):
    """Median over ``repeats`` turns of the seconds per image of each
    function in ``fns`` (dict name -> fn).

    Every turn runs each function once on every batch of ``data``; on each
    batch the functions run back to back in an order rotated from batch to
    batch and turn to turn, so that a slow drift or a burst of load on a
    shared machine hits all of them alike. The device is synchronised
    before each clock read (GPU kernels are timed, not their launch).
    """
    num = sum(len(d['data_samples']) for d in data)
    names = list(fns)
    turns = {name: [0.0] * repeats for name in names}
    with torch.no_grad():
        for name in names:  # warm-up
            fns[name](data[0])
        for turn in range(repeats):
            for i, d in enumerate(data):
                shift = (turn + i) % len(names)
                for name in names[shift:] + names[:shift]:
                    synchronize(device)
                    start = time.perf_counter()
                    fns[name](d)
                    synchronize(device)
                    turns[name][turn] += time.perf_counter() - start
    return {name: statistics.median(t) / num for name, t in turns.items()}


def threshold_for(model, data, ratio: float) -> float:
    """One threshold for the whole set (every batch) that sends
    floor(ratio * N) of its N images hard: at batch 1 too, where a
    per-batch rule could only send 0 or 1 image hard."""
    with torch.no_grad():
        logits = [
            score for d in data for score in model.difficulty_logits(
                d['inputs'], d['data_samples']).tolist()
        ]
    return threshold_for_hard_ratio(logits, ratio)


def build_models(config: str, checkpoint: str, device: str = 'cpu'):
    """(cascade, plain detector 1 with the cascade's detector-1 weights,
    whether the weights are trained), both in eval mode on ``device``."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    trained = checkpoint not in (None, 'none') and osp.isfile(checkpoint)
    if trained:
        cascade, cfg = build_model_from_config(cfg, checkpoint)
    else:
        torch.manual_seed(0)
        cascade = MODELS.build(copy.deepcopy(cfg.model))
        cascade.init_weights()
        with torch.no_grad():  # spread the fresh router's scores
            cascade.router.fc2.weight.mul_(50)
    cascade.to(device).eval()
    plain = MODELS.build(wrapped_detector_cfg(cfg.model))
    plain.load_state_dict(cascade.detector1.state_dict())
    plain.to(device).eval()
    return cascade, plain, trained


def run(name, config, checkpoint, args, images):
    cascade, plain, trained = build_models(config, checkpoint, args.device)
    rows = []
    for bs in args.batch_sizes:
        data = batches(cascade, images, bs)
        fns = {
            'plain': lambda d: plain.predict(d['inputs'], d['data_samples'])
        }
        for ratio in args.ratios:
            tau = threshold_for(cascade, data, ratio)

            def predict(d, tau=tau):
                cascade.set_threshold(tau)
                return cascade.predict(d['inputs'], d['data_samples'])

            fns[ratio] = predict
        lats = timed_in_turns(fns, data, args.repeats, args.device)
        lat1 = lats['plain']
        lat2 = lats[max(args.ratios)]
        for ratio in args.ratios:
            expected = (1 - ratio) * lat1 + ratio * lat2
            rows.append(
                Row(name, trained, bs, ratio, lats[ratio], lat1, lat2,
                    expected))
    return rows


def batch_scaling(config, checkpoint, args, images):
    """Per-image latency of each route alone (plain detector 1; the cascade
    with every image hard) at batch sizes 1, 2, 4, ..., max batch size:
    a mixed batch runs its sub-batches at these smaller sizes."""
    cascade, plain, _ = build_models(config, checkpoint, args.device)
    cascade.set_threshold(0.0)
    sizes = [2**i for i in range(max(args.batch_sizes).bit_length())]
    fns = {}
    for bs in sizes:
        data = batches(cascade, images, bs)
        for route, model in (('plain detector 1', plain), ('hard', cascade)):
            fns[(route, bs)] = lambda _, model=model, data=data: [
                model.predict(d['inputs'], d['data_samples']) for d in data
            ]
    lats = timed_in_turns(fns, [dict(data_samples=images)], args.repeats,
                          args.device)
    return sizes, lats


def plot(rows, out_file: str) -> None:
    """PNG of latency against the hard ratio: measured (markers), the
    linear model (dashed) and its 5 % goal band, one panel per model, one
    colour per batch size."""
    # an Agg-backed Figure of its own: the caller's pyplot backend and
    # figures are left alone
    from matplotlib.figure import Figure
    names = list(dict.fromkeys(r.model for r in rows))
    fig = Figure(figsize=(5.5 * len(names), 4.2))
    axes = fig.subplots(1, len(names), squeeze=False)
    for ax, name in zip(axes[0], names):
        own_rows = [r for r in rows if r.model == name]
        sizes = sorted({r.batch_size for r in own_rows})
        for i, bs in enumerate(sizes):
            colour = f'C{i}'
            own = [r for r in own_rows if r.batch_size == bs]
            ratios = [r.ratio for r in own]
            ax.plot(ratios, [r.latency * 1e3 for r in own], 'o-',
                    color=colour, label=f'batch {bs}, measured')
            linear = [r.linear * 1e3 for r in own]
            ax.plot(ratios, linear, '--', color=colour, alpha=0.6,
                    label=f'batch {bs}, (1-k) lat1 + k lat2 (band: 5 %)')
            ax.fill_between(ratios, [v * 0.95 for v in linear],
                            [v * 1.05 for v in linear], color=colour,
                            alpha=0.12)
        trained = own_rows[0].trained
        ax.set_title(f"{name}, {'trained' if trained else 'fresh'} weights",
                     fontsize=10)
        ax.set_xlabel('hard ratio k')
        ax.set_ylabel('latency per image (ms)')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_file, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=320)
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8])
    parser.add_argument(
        '--ratios', type=float, nargs='+', default=[0, 0.25, 0.5, 0.75, 1])
    parser.add_argument('--num-images', type=int, default=16)
    parser.add_argument('--repeats', type=int, default=11)
    parser.add_argument(
        '--models',
        nargs='+',
        type=int,
        default=list(range(len(MODELS_TO_RUN))),
        help='which models, by index: ' + ', '.join(
            f'{i} {name}' for i, name in enumerate(MODELS_TO_RUN)))
    parser.add_argument(
        '--checkpoints',
        nargs='+',
        default=DEFAULT_CHECKPOINTS,
        help='weights of the models, one per model of MODELS_TO_RUN in '
        'order (Dy-Faster, Dy-YOLO, Dy-YOLOv7-tiny); "none" or a missing '
        'file: fresh weights')
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument(
        '--device',
        default=None,
        help='device to time on (default: cuda if available, else cpu)')
    parser.add_argument(
        '--plot', help='also write a PNG of latency against the hard ratio')
    parser.add_argument(
        '--batch-scaling',
        action='store_true',
        help='instead: per-image latency of each route by batch size')
    args = parser.parse_args()
    if len(args.checkpoints) != len(MODELS_TO_RUN):
        parser.error(f'--checkpoints needs {len(MODELS_TO_RUN)} values (one '
                     f'per model: {list(MODELS_TO_RUN)}), got '
                     f'{len(args.checkpoints)}')
    bad = [i for i in args.models if not 0 <= i < len(MODELS_TO_RUN)]
    if bad:
        parser.error(f'--models: no model {bad}; valid: 0..'
                     f'{len(MODELS_TO_RUN) - 1}')
    try:
        args.device = resolve_device(args.device)
    except ValueError as e:
        parser.error(str(e))
    chosen = [(name, config, ckpt) for i, ((name, config), ckpt) in
              enumerate(zip(MODELS_TO_RUN.items(), args.checkpoints))
              if i in args.models]
    torch.set_num_threads(args.threads)
    MMLogger.get_current_instance().setLevel(logging.ERROR)
    init_default_scope('mmdet_dynamic')
    images = load_images(args.size, args.num_images)
    print(f'{args.device}, {args.threads} CPU threads, {args.size} px, '
          f'{args.num_images} raccoon test images, median of '
          f'{args.repeats} turns; latency in ms per image\n')
    if args.batch_scaling:
        for name, config, ckpt in chosen:
            sizes, lats = batch_scaling(config, ckpt, args, images)
            print(f'| {name} | ' + ' | '.join(f'batch {bs}' for bs in sizes) +
                  ' |\n|---|' + '---|' * len(sizes))
            for route in ('plain detector 1', 'hard'):
                print(f'| {route} | ' + ' | '.join(
                    f'{lats[(route, bs)] * 1e3:.1f}' for bs in sizes) + ' |')
            print(flush=True)
        return
    print('| model | weights | batch | hard ratio | measured | '
          '(1-k) lat1 + k lat2 | measured / linear | '
          'measured / plain detector 1 |')
    print('|---|---|---|---|---|---|---|---|')
    rows = []
    for name, config, ckpt in chosen:
        model_rows = run(name, config, ckpt, args, images)
        rows += model_rows
        for r in model_rows:
            print(f"| {r.model} | {'trained' if r.trained else 'fresh'} | "
                  f'{r.batch_size} | {r.ratio:.2f} | {r.latency * 1e3:.1f} | '
                  f'{r.linear * 1e3:.1f} | {r.latency / r.linear:.3f} | '
                  f'{r.latency / r.lat1:.3f} |',
                  flush=True)
    if args.plot:
        plot(rows, args.plot)
        print(f'\nplot: {args.plot}')


if __name__ == '__main__':
    main()
