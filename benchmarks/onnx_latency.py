# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Latency of the exported dynamic detector in onnxruntime against PyTorch
(CPU).

    .venv/bin/python benchmarks/onnx_latency.py            # about 3 min
    .venv/bin/python benchmarks/onnx_latency.py --config CFG --checkpoint CKPT

Exports the model (default: Dy-YOLO with E-ELAN tiny on raccoon, fresh
weights unless ``--checkpoint``) to a temporary folder, then, on the
bundled raccoon test images at batch sizes 1 and 8 and hard ratios 0, 0.5
and 1 (one routing threshold that sends exactly that share of the images
hard), times per image:

* PyTorch: ``model.predict`` on the preprocessed batch;
* onnxruntime: :class:`DynamicONNXRunner.predict` on the same batch (graphs
  plus the heads' post-processing);

and prints their ratio, and the onnxruntime latency against the linear
model ``(1 - k) lat1 + k lat2`` (lat1, lat2: its ratio-0 and ratio-1
latencies). Variants run in turns on every batch (rotated order), each
figure the median of ``--repeats`` turns. It asserts nothing.
"""
import argparse
import copy
import os.path as osp
import shutil
import statistics
import tempfile
import time

import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEFAULT_CFG = osp.join(ROOT, 'configs', 'dynamicdet',
                       'dy-yolox_eelan-tiny_40i_raccoon.py')


def threshold_for(logits: torch.Tensor, ratio: float) -> float:
    """A threshold that sends exactly ``ratio`` of the images hard."""
    if ratio <= 0:
        return 1.0
    if ratio >= 1:
        return 0.0
    ordered = logits.sort(descending=True)[0]
    k = int(round(ratio * len(ordered)))
    return float(((ordered[k - 1] + ordered[k]) / 2).sigmoid())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config', default=DEFAULT_CFG)
    parser.add_argument('--checkpoint')
    parser.add_argument('--num-images', type=int, default=16)
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import onnxruntime as ort
    import mmdet_dynamic  # noqa: F401
    from mmdet_dynamic.deployment import DynamicONNXRunner, export_onnx
    from mmdet_dynamic.deployment.onnx_export import build_deploy_model
    from mmdet_dynamic.registry import MODELS
    from mmdet_dynamic.utils import register_all_modules
    register_all_modules()
    import sys
    sys.path.insert(0, ROOT)
    from tests.test_deployment.test_onnx_export import raccoon_test_images
    tmp = tempfile.mkdtemp(prefix='onnx_bench_')
    try:
        ckpt = args.checkpoint
        if ckpt is None:
            from mmengine.config import Config
            torch.manual_seed(0)
            model = MODELS.build(Config.fromfile(args.config).model)
            model.init_weights()
            ckpt = osp.join(tmp, 'fresh.pth')
            torch.save(dict(state_dict=model.state_dict()), ckpt)
        export_onnx(args.config, ckpt, tmp)
        model, _ = build_deploy_model(args.config, ckpt)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = args.threads
        runner = DynamicONNXRunner(tmp, session_options=opts)
        images = raccoon_test_images()[:args.num_images]
        with torch.no_grad():
            logits = torch.cat([
                model.difficulty_logits(*runner.preprocess(images[i:i + 8]))
                for i in range(0, len(images), 8)
            ])
        print(f'{args.config}: {len(images)} raccoon test images, '
              f'{args.threads} threads, median of {args.repeats} turns\n')
        print('| batch | hard ratio | PyTorch ms/img | ORT ms/img | '
              'ORT / PyTorch | ORT / linear |')
        print('|---|---|---|---|---|---|')
        for bs in args.batch_sizes:
            batches = [
                runner.preprocess(images[i:i + bs])
                for i in range(0, len(images), bs)
            ]
            variants = []
            for ratio in (0.0, 0.5, 1.0):
                thr = threshold_for(logits, ratio)
                variants += [('torch', ratio, thr), ('ort', ratio, thr)]
            times = {v: [] for v in variants}
            for rep in range(args.repeats):
                total = {v: 0.0 for v in variants}
                for b, (inputs, samples) in enumerate(batches):
                    order = variants[(b + rep) % len(variants):] + \
                        variants[:(b + rep) % len(variants)]
                    for v in order:
                        kind, _, thr = v
                        data = copy.deepcopy(samples)
                        start = time.perf_counter()
                        with torch.no_grad():
                            if kind == 'torch':
                                model.set_threshold(thr)
                                model.predict(inputs, data)
                            else:
                                runner.set_threshold(thr)
                                runner.predict(inputs, data)
                        total[v] += time.perf_counter() - start
                for v in variants:
                    times[v].append(total[v] / len(images) * 1000)
            med = {v: statistics.median(t) for v, t in times.items()}
            lat1 = med[variants[1]]
            lat2 = med[variants[-1]]
            for ratio in (0.0, 0.5, 1.0):
                t = [m for v, m in med.items() if v[1] == ratio and v[0] ==
                     'torch'][0]
                o = [m for v, m in med.items() if v[1] == ratio and v[0] ==
                     'ort'][0]
                linear = (1 - ratio) * lat1 + ratio * lat2
                print(f'| {bs} | {ratio:.1f} | {t:.1f} | {o:.1f} | '
                      f'{o / t:.3f} | {o / linear:.3f} |')

    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main()
