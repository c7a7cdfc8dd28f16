# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Latency of the end-to-end ONNX graph in onnxruntime against PyTorch
(CPU), per image.

    .venv/bin/python benchmarks/onnx_latency.py        # about 6 min, 2 cores
    .venv/bin/python benchmarks/onnx_latency.py    # about 6 min, 2 cores

For each config (default: Dy-YOLOv7-tiny and Dy-Faster R-CNN R-18 on
raccoon; fresh weights unless ``--checkpoint``), exports the end-to-end
graph (``export_onnx(..., end2end=True)``) to a temporary folder, then on
the bundled raccoon test images at batch sizes 1 and 8 and hard ratios 0,
0.5 and 1 (a routing threshold that sends that share of the images hard,
from the router's logits) times per image:

* ``torch``: ``model.predict`` on the preprocessed batch;
* ``ort``: :class:`DynamicONNXRunner.predict` on the same batch with the
  end-to-end graph (graph plus rescaling into the original images), with
  onnxruntime's default optimisation (``ORT_ENABLE_ALL``) and
  ``--threads`` intra-op threads;
* ``ort-basic``: the same with ``ORT_ENABLE_BASIC`` (what the extended
  fusions add);
* ``ort-1t``: the same with one intra-op thread.

Every image is resized to 320 x 320 so that a batch is one size group.
Variants run in turns on every batch (rotated order), each figure the
median of ``--repeats`` turns. Printed: ms per image, ORT / PyTorch, and
ORT against the linear model ``(1 - k) lat1 + k lat2`` (lat1, lat2: its own
ratio-0 and ratio-1 latencies). It asserts nothing.
"""
import argparse
import copy
import csv
import os.path as osp
import shutil
import statistics
import tempfile
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DYN = osp.join(ROOT, 'configs', 'dynamicdet')
DEFAULT_CFGS = [
    osp.join(DYN, 'dy-yolov7_tiny_40i_raccoon.py'),
    osp.join(DYN, 'dy-faster-rcnn_r18_fpn_40i_raccoon.py'),
]
RATIOS = (0.0, 0.5, 1.0)


def raccoon_test_images(root: str):
    """The bundled raccoon test split's image paths, sorted."""
    with open(osp.join(root, 'data', 'test_labels.csv')) as f:
        names = sorted({row['filename'] for row in csv.DictReader(f)})
    return [osp.join(root, 'images', n) for n in names]


def fixed_size_config(config: str, folder: str) -> str:
    """``config`` with a test pipeline that resizes every image to
    320 x 320 (one size group per batch)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'Resize':
            t.update(scale=(320, 320), keep_ratio=False)
    path = osp.join(folder, 'fixed_320.py')
    cfg.dump(path)
    return path


def bench_config(config, checkpoint, images, args, folder):
    import onnxruntime as ort

    from mmdet_dynamic.apis.variable_speed import threshold_for_hard_ratio
    from mmdet_dynamic.deployment import DynamicONNXRunner, export_onnx
    from mmdet_dynamic.deployment.onnx_export import build_deploy_model
    from mmdet_dynamic.registry import MODELS
    config = fixed_size_config(config, folder)
    if checkpoint is None:
        from mmengine.config import Config
        torch.manual_seed(0)
        model = MODELS.build(Config.fromfile(config).model)
        model.init_weights()
        checkpoint = osp.join(folder, 'fresh.pth')
        torch.save(dict(state_dict=model.state_dict()), checkpoint)
    out_dir = osp.join(folder, 'onnx')
    export_onnx(config, checkpoint, out_dir, end2end=True, progress=None)
    model, _ = build_deploy_model(config, checkpoint)

    def runner(level, threads):
        opts = ort.SessionOptions()
        opts.graph_optimization_level = level
        opts.intra_op_num_threads = threads
        return DynamicONNXRunner(out_dir, session_options=opts)

    levels = ort.GraphOptimizationLevel
    runners = {
        'ort': runner(levels.ORT_ENABLE_ALL, args.threads),
        'ort-basic': runner(levels.ORT_ENABLE_BASIC, args.threads),
        'ort-1t': runner(levels.ORT_ENABLE_ALL, 1),
    }
    first = runners['ort']
    with torch.no_grad():
        logits = torch.cat([
            model.difficulty_logits(*first.preprocess(images[i:i + 8]))
            for i in range(0, len(images), 8)
        ]).tolist()
    kinds = ['torch'] + list(runners)
    print(f'\n{osp.basename(args.current)}, end-to-end graph: '
          f'{len(images)} raccoon test images at 320 x 320, '
          f'{args.threads} threads, median of {args.repeats} turns\n')
    print('| batch | hard ratio | PyTorch ms/img | ORT ms/img | ORT / PyTorch '
          '| ORT / linear | ORT basic / ORT | ORT 1 thread / ORT |')
    print('|---|---|---|---|---|---|---|---|')
    for bs in args.batch_sizes:
        batches = [
            first.preprocess(images[i:i + bs])
            for i in range(0, len(images), bs)
        ]
        variants = [(kind, r, threshold_for_hard_ratio(logits, r))
                    for r in RATIOS for kind in kinds]
        times = {v: [] for v in variants}
        for rep in range(args.repeats):
            total = {v: 0.0 for v in variants}
            for b, (inputs, samples) in enumerate(batches):
                shift = (b + rep) % len(variants)
                for v in variants[shift:] + variants[:shift]:
                    kind, _, thr = v
                    data = copy.deepcopy(samples)
                    start = time.perf_counter()
                    with torch.no_grad():
                        if kind == 'torch':
                            model.set_threshold(thr)
                            model.predict(inputs, data)
                        else:
                            runners[kind].set_threshold(thr)
                            runners[kind].predict(inputs, data)
                    total[v] += time.perf_counter() - start
            for v in variants:
                times[v].append(total[v] / len(images) * 1000)
        med = {(v[0], v[1]): statistics.median(t) for v, t in times.items()}
        lat1, lat2 = med[('ort', 0.0)], med[('ort', 1.0)]
        for r in RATIOS:
            t, o = med[('torch', r)], med[('ort', r)]
            linear = (1 - r) * lat1 + r * lat2
            print(f'| {bs} | {r:.1f} | {t:.1f} | {o:.1f} | {o / t:.3f} | '
                  f'{o / linear:.3f} | {med[("ort-basic", r)] / o:.3f} | '
                  f'{med[("ort-1t", r)] / o:.3f} |')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--configs', nargs='+', default=DEFAULT_CFGS)
    parser.add_argument('--checkpoint',
                        help='weights (one config only; default: fresh)')
    parser.add_argument('--data-root',
                        default=osp.join(ROOT, 'data', 'raccoon'))
    parser.add_argument('--num-images', type=int, default=16)
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    if args.checkpoint and len(args.configs) != 1:
        parser.error('--checkpoint goes with one config')
    torch.set_num_threads(args.threads)
    from mmdet_dynamic.utils import register_all_modules
    register_all_modules()
    images = raccoon_test_images(args.data_root)[:args.num_images]
    for config in args.configs:
        args.current = config
        tmp = tempfile.mkdtemp(prefix='onnx_bench_')
        try:
            bench_config(config, args.checkpoint, images, args, tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
