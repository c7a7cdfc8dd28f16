# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Accuracy/latency trade-off of a trained DynamicCascadeDetector.

    python tools/analysis_tools/dynamic_tradeoff.py CONFIG CHECKPOINT \\
        [--out-dir DIR] [--ratios 0 0.1 ... 1] [--random-seeds 3]

Runs every val image on both routes (batch 1, timed; progress bar), then for
each hard ratio evaluates bbox (and segm) AP with mmdet's CocoMetric for the
router and for a random router sending the same number of images hard
(mean over ``--random-seeds`` splits) and for an oracle router (the images
where detector 2's per-image AP beats detector 1's by the most go hard).
Each row also gives the router's share of the oracle's gain over random and
a paired bootstrap interval over images (95 %, ``--seed``) of router minus
random on the AP; the printed reading says whether it excludes 0, and so
does the line on the full cascade minus detector 1. Latency
is the mean measured time of the route each image takes. Writes
``tradeoff.csv``, ``tradeoff.json`` and ``tradeoff.png`` (AP against latency:
router, random, oracle, detector 1 alone and the full cascade) to
``--out-dir`` and prints the table.
"""
import argparse
import os.path as osp
import sys

from mmdet_dynamic.apis.variable_speed import add_model_arguments


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='AP/latency trade-off of a DynamicCascadeDetector, '
        'router against a random split.')
    add_model_arguments(parser)
    parser.add_argument(
        '--out-dir',
        default=None,
        help='output folder (default: work_dirs/<config name>/tradeoff)')
    parser.add_argument(
        '--ratios',
        type=float,
        nargs='+',
        default=None,
        help='hard ratios to evaluate (default 0, 0.1, ..., 1)')
    parser.add_argument(
        '--random-seeds',
        type=int,
        default=3,
        help='random splits averaged per ratio (default 3)')
    parser.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of the paired bootstrap (default 0)')
    args = parser.parse_args(argv)
    if args.ratios is not None:
        bad = [r for r in args.ratios if not 0 <= r <= 1]
        if bad:
            parser.error(f'--ratios must be in [0, 1], got {bad}')
        args.ratios = sorted(set(args.ratios))
    if args.random_seeds < 1:
        parser.error('--random-seeds must be >= 1')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmdet_dynamic.apis.coco_bootstrap import bootstrap_ap_difference
    from mmdet_dynamic.apis.coco_eval import ap_names, build_coco_metric
    from mmdet_dynamic.apis.dynamic_tradeoff import (collect_route_records,
                                                     format_table, reading,
                                                     route_matches,
                                                     tradeoff_table,
                                                     write_tradeoff)
    from mmdet_dynamic.apis.variable_speed import (DEFAULT_RATIOS,
                                                   build_eval_loader,
                                                   load_cascade,
                                                   resolve_device)
    from mmdet_dynamic.utils import check_writable_dir
    name = osp.splitext(osp.basename(args.config))[0]
    out_dir = args.out_dir or osp.join('work_dirs', name, 'tradeoff')
    ratios = args.ratios or DEFAULT_RATIOS
    try:
        check_writable_dir(out_dir)
        device = resolve_device(args.device)
        model, cfg = load_cascade(args.config, args.checkpoint,
                                  args.cfg_options, 'dynamic_tradeoff.py',
                                  device=device,
                                  allow_partial=args.allow_partial)
        loader = build_eval_loader(cfg, args.split)
        metric = build_coco_metric(cfg, args.split, loader.dataset.metainfo)
    except (FileNotFoundError, KeyError, TypeError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'both routes on {len(loader.dataset)} {args.split} images '
          '(batch 1):')
    rec = collect_route_records(model, loader, metric)
    print(f'AP at {len(ratios)} hard ratios (router, and '
          f'{args.random_seeds} random splits each):')
    matches = route_matches(rec, metric)
    rows = tradeoff_table(rec, metric, ratios, args.random_seeds,
                          matches=matches, bootstrap_seed=args.seed)
    cascade_gain = bootstrap_ap_difference(matches['hard'], [matches['easy']],
                                           seed=args.seed)
    names = ap_names(metric)

    meta = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        split=args.split,
        device=device,
        num_images=len(rec['scores']),
        random_seeds=args.random_seeds,
        lat1_ms=float(rec['time_easy'].mean()),
        lat2_ms=float(rec['time_hard'].mean()),
        cascade_minus_detector1=dict(
            zip(('mean', 'ci_low', 'ci_high'), cascade_gain)))
    files = write_tradeoff(rows, meta, out_dir, names, title=name)
    print('\n' + format_table(rows, names))
    print('\nreading, ' + reading(rows))
    mean, lo, hi = cascade_gain
    print(f'full cascade minus detector 1: {mean:+.4f} {names[0]}, 95 % '
          f'paired bootstrap interval [{lo:+.4f}, {hi:+.4f}]' +
          (' (a tie)' if lo <= 0 <= hi else ''))
    print(f"\nlat1 (easy route) {meta['lat1_ms']:.1f} ms, lat2 (hard route) "
          f"{meta['lat2_ms']:.1f} ms, mean over {meta['num_images']} images"
          f' on {device}')
    print('wrote ' + ', '.join(files))
    return 0


if __name__ == '__main__':
    sys.exit(main())
