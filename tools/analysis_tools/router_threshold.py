# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Choose the routing threshold of a trained DynamicCascadeDetector.

    python tools/analysis_tools/router_threshold.py CONFIG CHECKPOINT \\
        (--target-latency MS | --hard-ratio K) [--lat1 MS --lat2 MS] \\
        [--out-dir DIR]

Runs the model over the val set (progress bar) to collect the difficulty
scores phi, measures lat1 (easy route: B1 + router + D1) and lat2 (hard
route: the full cascade) per image at batch 1 on this machine unless both
are given, then prints the quantile grid (hard ratio -> threshold ->
expected latency), and for the target: k, the threshold tau and the
expected latency. It writes ``OUT_DIR/<config>_threshold.py``, the config
with ``model.test_cfg.threshold = tau``, for ``tools/test.py``; the
equivalent ``--cfg-options`` is printed too.
"""
import argparse
import json
import os.path as osp
import sys

import numpy as np

from mmdet_dynamic.apis.variable_speed import add_model_arguments


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Routing threshold of a DynamicCascadeDetector for a '
        'target latency or hard ratio.')
    add_model_arguments(parser)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument(
        '--target-latency',
        type=float,
        help='target mean latency per image in ms (batch 1)')
    target.add_argument(
        '--hard-ratio',
        type=float,
        help='share of images to route hard, in [0, 1]')
    parser.add_argument('--lat1', type=float, help='easy-route latency, ms')
    parser.add_argument('--lat2', type=float, help='hard-route latency, ms')
    parser.add_argument(
        '--latency-images',
        type=int,
        default=20,
        help='images timed per route when measuring (default 20)')
    parser.add_argument(
        '--out-dir',
        default=None,
        help='where the threshold config and scores are written '
        '(default: work_dirs/<config name>)')
    args = parser.parse_args(argv)
    if (args.lat1 is None) != (args.lat2 is None):
        parser.error('give both --lat1 and --lat2, or neither (measure)')
    if args.hard_ratio is not None and not 0 <= args.hard_ratio <= 1:
        parser.error(f'--hard-ratio must be in [0, 1], got {args.hard_ratio}')
    return args


def format_grid(rows) -> str:
    lines = ['| hard ratio | threshold | hard share on val | expected '
             'latency (ms) |', '|---|---|---|---|']
    for r in rows:
        lat = r.get('expected_latency')
        lines.append(f"| {r['hard_ratio']:.1f} | {r['threshold']:.10g} | "
                     f"{r['realised_hard_ratio']:.3f} | "
                     f"{'-' if lat is None else f'{lat:.1f}'} |")
    return '\n'.join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmdet_dynamic.apis.variable_speed import (
        build_eval_loader, collect_scores, expected_latency,
        hard_ratio_for_latency, load_cascade, measure_route_latencies,
        quantile_grid, resolve_device, threshold_for_hard_ratio)
    from mmdet_dynamic.utils import (check_writable_dir, tool_command,
                                     write_files_atomically)
    from mmdet_dynamic.models.layers import logit_of
    name = osp.splitext(osp.basename(args.config))[0]
    out_dir = args.out_dir or osp.join('work_dirs', name)
    try:
        check_writable_dir(out_dir)
        device = resolve_device(args.device)
        model, cfg = load_cascade(args.config, args.checkpoint,
                                  args.cfg_options, 'router_threshold.py',
                                  device=device,
                                  allow_partial=args.allow_partial)
        loader = build_eval_loader(cfg, args.split)
        print(f'difficulty scores over the {args.split} set '
              f'({len(loader.dataset)} images):')
        scores = collect_scores(model, loader)
        if args.lat1 is None:
            print(f'measuring lat1 / lat2 on {args.latency_images} images '
                  '(batch 1):')
            lat1, lat2 = measure_route_latencies(model, loader,
                                                 args.latency_images)
            source = 'measured'
        else:
            lat1, lat2, source = args.lat1, args.lat2, 'given'
        if args.target_latency is not None:
            k, note = hard_ratio_for_latency(args.target_latency, lat1, lat2)
        else:
            k, note = args.hard_ratio, None
        tau = threshold_for_hard_ratio(scores, k)
    except (FileNotFoundError, KeyError, TypeError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1

    realised = float((scores > logit_of(tau)).mean())
    print(f'\nrouter logits: n={len(scores)}, min {scores.min():.4f}, '
          f'median {float(np.median(scores)):.4f}, max {scores.max():.4f} '
          f'(phi = sigmoid(logit))')
    print(f'lat1 (easy route) {lat1:.1f} ms, lat2 (hard route) {lat2:.1f} '
          f'ms ({source})\n')
    print(format_grid(quantile_grid(scores, lat1, lat2)))
    if note:
        print(f'\nnote: {note}')
    expected = expected_latency(realised, lat1, lat2)
    print(f'\nk = {k:.4f} (hard share allowed), threshold tau = {tau!r}, '
          f'hard share on the {args.split} set = {realised:.3f}, expected '
          f'latency = {expected:.1f} ms')

    out_cfg = osp.join(out_dir, f'{name}_threshold.py')
    out_json = osp.join(out_dir, f'{name}_threshold.json')
    text = ('# Written by tools/analysis_tools/router_threshold.py: '
            f'k = {k:.4f}, expected latency {expected:.1f} ms\n'
            f'# (lat1 {lat1:.1f} ms, lat2 {lat2:.1f} ms, {source}, '
            f'{device}).\n'
            f'_base_ = {osp.abspath(args.config)!r}\n'
            f'model = dict(test_cfg=dict(threshold={tau!r}))\n')
    record = dict(
        k=k,
        threshold=tau,
        realised_hard_ratio=realised,
        lat1_ms=lat1,
        lat2_ms=lat2,
        latency_source=source,
        device=device,
        expected_latency_ms=expected,
        scores=scores.tolist())

    def write_cfg(path):
        with open(path, 'w') as f:
            f.write(text)

    def write_json(path):
        with open(path, 'w') as f:
            json.dump(record, f, indent=1, allow_nan=False)

    write_files_atomically({out_cfg: write_cfg, out_json: write_json})
    test = tool_command('test.py')
    print(f'\nwrote {out_cfg} and {out_json}\n'
          f'test with:  {test} {out_cfg} {args.checkpoint}\n'
          f'or:         {test} {args.config} {args.checkpoint} '
          f'--cfg-options model.test_cfg.threshold={tau!r}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
