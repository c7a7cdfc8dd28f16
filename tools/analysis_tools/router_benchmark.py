# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""K-fold router benchmark of a DynamicCascadeDetector recipe: every image
of the dataset held out exactly once.

    python tools/analysis_tools/router_benchmark.py CONFIG \\
        --data {raccoon,bccd} --folds K --out-dir DIR [--resume]

For each fold the cascade is trained on the other folds with the config's
own recipe (its joint phase, then its RouterTrainingHook's router phase:
two ``tools/train.py`` runs, logs in ``DIR/fold_<k>/``), then every
held-out image is run at batch 1 on both routes. The held-out images of all
folds are pooled into one trade-off at hard ratios 0, 0.1, ..., 1: the
router, a random split (mean of ``--random-splits``), the oracle (per-image
AP gain) and two training-free baselines (detector 1's own confidence), with
95 % paired bootstrap intervals over images, the full cascade minus
detector 1, and a diagnosis of the router (Spearman correlation of its
logit with L1 - L2 on training and held-out images, and with the held-out
AP gain). Writes ``DIR/summary.{json,csv,png}`` and prints the table and a
reading.

A fold whose records exist is not run again: ``--resume`` continues an
interrupted benchmark (from the last checkpoint of a fold's training), and
stops if the settings differ from the first run's. ``--joint-from OTHER``
reuses the joint-phase checkpoints of another benchmark with the same data,
folds, seed and joint recipe (to compare router recipes on the same
detectors).
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import threading

import numpy as np

DATA_NAMES = ('raccoon', 'bccd')


def parse_args(argv=None):
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='K-fold router benchmark: router against random, '
        'oracle and training-free baselines on pooled held-out images.')
    parser.add_argument('config', help='DynamicCascadeDetector config with '
                        'a RouterTrainingHook (both phases)')
    parser.add_argument('--data', required=True, choices=DATA_NAMES,
                        help='bundled dataset (prepared by `make data`)')
    parser.add_argument('--folds', type=int, default=4,
                        help='number of folds K (default 4)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--data-root', default=None,
                        help='dataset folder (default data/<data>/)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the folds, the training runs (seed + '
                        'fold), the random splits and the bootstrap')
    parser.add_argument('--resume', action='store_true',
                        help='continue the benchmark in --out-dir')
    parser.add_argument('--joint-from', default=None,
                        help='another benchmark folder whose joint-phase '
                        'checkpoints to reuse')
    parser.add_argument('--device', default=None,
                        help='device of the evaluation and timing (default: '
                        'cuda if available, else cpu); training uses the '
                        "config's own")
    parser.add_argument('--random-splits', type=int, default=20,
                        help='random routings averaged (default 20)')
    parser.add_argument('--bootstrap', type=int, default=1000,
                        help='bootstrap resamples (default 1000)')
    parser.add_argument('--ratios', type=float, nargs='+', default=None,
                        help='hard ratios (default 0, 0.1, ..., 1)')
    parser.add_argument('--train-diagnosis', type=int, default=64,
                        help='training images per fold (a seeded sample) '
                        'run for the diagnosis: the router\'s logit, L1 - L2 '
                        'and both routes on images the detectors trained on '
                        '(default 64; 0: none)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in train.py')
    args = parser.parse_args(argv)
    if args.folds < 2:
        parser.error(f'--folds must be at least 2, got {args.folds}')
    if args.random_splits < 1:
        parser.error('--random-splits must be >= 1')
    if args.bootstrap < 1:
        parser.error('--bootstrap must be >= 1')
    if args.train_diagnosis < 0:
        parser.error('--train-diagnosis must be >= 0')
    if args.ratios is not None:
        bad = [r for r in args.ratios if not 0 <= r <= 1]
        if bad:
            parser.error(f'--ratios must be in [0, 1], got {bad}')
        args.ratios = sorted(set(args.ratios))
    return args


class BenchmarkError(Exception):
    """A setting or file that stops the benchmark (message says which)."""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_json(path, obj):
    from mmdet_dynamic.utils import write_atomically

    def write(tmp):
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=1, allow_nan=False)

    write_atomically(path, write)


def _check_settings(path: str, settings: dict, resume: bool) -> None:
    """A new folder, or (with --resume) the same settings as its first
    run."""
    if not osp.exists(path):
        return
    if not resume:
        raise BenchmarkError(
            f'{osp.dirname(path)} already holds a benchmark ({path}); pass '
            '--resume to continue it, or choose another --out-dir')
    with open(path) as f:
        old = json.load(f)
    diff = [f'{k}: {old.get(k)!r} then, {settings[k]!r} now'
            for k in settings if old.get(k) != settings[k]]
    if diff:
        raise BenchmarkError(
            '--resume with changed settings (' + '; '.join(diff) + '). Run '
            'the first settings again, or use another --out-dir')


def _check_writable(folder: str) -> None:
    import tempfile
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise BenchmarkError(f'cannot write to --out-dir {folder}: {e}')


def _finished(work_dir: str, iters: int) -> str:
    """The final checkpoint of a training stage, or '' if not there."""
    path = osp.join(work_dir, f'iter_{iters}.pth')
    return path if osp.isfile(path) else ''


TRAIN_CODE = ('import sys; from mmdet_dynamic.utils import run_mmdet_tool; '
              'sys.argv[0] = "train.py"; run_mmdet_tool("train.py")')
ITER_LINE = re.compile(r'Iter\(train\)\s*\[\s*(\d+)/(\d+)\]')


def _train(config: str, work_dir: str, iters: int, label: str) -> str:
    """Run mmdet's train.py (through this package) on ``config`` in a
    subprocess, with a progress bar fed by its log; resume from the last
    checkpoint of an interrupted run. Returns the final checkpoint."""
    from mmengine.utils import ProgressBar
    done = _finished(work_dir, iters)
    if done:
        print(f'{label}: already trained ({done})')
        return done
    cmd = [sys.executable, '-c', TRAIN_CODE, config, '--work-dir', work_dir]
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        cmd.append('--resume')
    os.makedirs(work_dir, exist_ok=True)
    log_file = osp.join(work_dir, 'train.log')
    print(f'{label}: training {iters} iterations (log: {log_file})')
    bar, seen = ProgressBar(iters), 0
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    # line-buffered: the log can be followed (tail -f) while it trains
    with open(log_file, 'a', buffering=1) as log, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=env) as proc:
        try:
            for line in proc.stdout:
                log.write(line)
                m = ITER_LINE.search(line)
                if m and int(m.group(1)) > seen:
                    for _ in range(int(m.group(1)) - seen):
                        bar.update()
                    seen = int(m.group(1))
            proc.wait()
        except BaseException:  # interrupted (Ctrl-C, SIGTERM): no orphan
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            raise
    print()
    done = _finished(work_dir, iters)
    if proc.returncode != 0 or not done:
        raise BenchmarkError(
            f'{label}: training failed (exit {proc.returncode}); see '
            f'{log_file}')
    return done


def _fold_configs(bench, cfg, args, data, fold, fold_dir, coco, folds):
    """Write the fold's annotation files and stage configs; return the
    configs and paths."""
    from mmdet_dynamic.utils import write_atomically
    test_idx = folds[fold]
    train_idx = np.setdiff1d(np.arange(len(coco['images'])), test_idx)
    diag_idx = np.sort(np.random.default_rng([args.seed, fold]).permutation(
        train_idx)[:args.train_diagnosis])
    paths = {}
    for name, idx in (('train', train_idx), ('test', test_idx),
                      ('diagnosis', diag_idx)):
        path = osp.join(fold_dir, f'{name}.json')
        sub = bench.subset_coco(coco, idx.tolist())

        def write(tmp, sub=sub):
            with open(tmp, 'w') as f:
                json.dump(sub, f)

        write_atomically(path, write)
        paths[name] = path
    stages = bench.fold_configs(cfg, osp.abspath(args.data_root),
                                data['img_prefix'], paths['train'],
                                paths['test'], fold_dir, args.seed + fold)
    return stages, paths


# settings that only the router phase reads: a joint phase trained with
# other values is the same joint phase
ROUTER_PHASE_ONLY = ('router_target', )


def _joint_recipe(config_file: str, fold_dir: str) -> str:
    """The joint phase's recipe in ``config_file`` as comparable text: the
    fold folder replaced, the runner's own ``launcher`` entry and the
    router-phase-only model settings left out."""
    from mmengine.config import Config
    with open(config_file) as f:
        text = f.read().replace(fold_dir, '<fold>')
    cfg = Config.fromstring(text, '.py').to_dict()
    cfg.pop('launcher', None)
    for key in ROUTER_PHASE_ONLY:
        cfg.get('model', {}).pop(key, None)
    return json.dumps(cfg, sort_keys=True, default=repr)


def _joint_checkpoint(args, settings, fold, stage, label):
    """The joint stage's checkpoint: trained here, or reused from
    --joint-from after checking that it is the same recipe on the same
    folds."""
    iters = stage.train_cfg.max_iters
    path = osp.join(stage.work_dir, 'config.py')
    os.makedirs(stage.work_dir, exist_ok=True)
    stage.dump(path)
    if not args.joint_from:
        return _train(path, stage.work_dir, iters, label + ', joint phase')
    other = osp.join(osp.abspath(args.joint_from), f'fold_{fold}')
    ckpt = _finished(osp.join(other, 'joint'), iters)
    theirs = osp.join(other, 'joint', 'config.py')
    if not ckpt or not osp.isfile(theirs):
        raise BenchmarkError(
            f'--joint-from: no finished joint phase of fold {fold} in '
            f'{other}/joint (iter_{iters}.pth and config.py)')
    with open(osp.join(args.joint_from, 'settings.json')) as f:
        old = json.load(f)
    same = ('data', 'data_root', 'folds', 'seed')
    diff = [k for k in same if old.get(k) != settings[k]]
    if diff or _joint_recipe(theirs, other) != _joint_recipe(
            path, osp.dirname(stage.work_dir)):
        raise BenchmarkError(
            f'--joint-from {args.joint_from}: its joint phase of fold {fold} '
            'is not this one (' + (f'settings {diff} differ' if diff else
                                   f'compare {theirs} with {path}') + ')')
    print(f'{label}: joint phase reused from {ckpt}')
    return ckpt


def run_fold(bench, cfg, args, settings, data, fold, coco, folds, device):
    """Train and evaluate one fold (skipped if its records exist)."""
    fold_dir = osp.abspath(osp.join(args.out_dir, f'fold_{fold}'))
    rec_file = osp.join(fold_dir, 'records.npz')
    label = f'fold {fold + 1}/{args.folds}'
    if osp.isfile(rec_file):
        print(f'{label}: records found ({rec_file})')
        return bench.load_records(rec_file)
    stages, paths = _fold_configs(bench, cfg, args, data, fold, fold_dir,
                                  coco, folds)
    joint_ckpt = _joint_checkpoint(args, settings, fold, stages['joint'],
                                   label)
    router = stages['router']
    router.load_from = joint_ckpt
    router_cfg = osp.join(router.work_dir, 'config.py')
    os.makedirs(router.work_dir, exist_ok=True)
    router.dump(router_cfg)
    ckpt = _train(router_cfg, router.work_dir, router.train_cfg.max_iters,
                  label + ', router phase')
    from mmdet_dynamic.apis.variable_speed import load_cascade
    model, fold_cfg = load_cascade(router_cfg, ckpt, None,
                                   'router_benchmark.py', device=device)
    print(f'{label}: both routes on {len(folds[fold])} held-out images'
          + (f', then on {args.train_diagnosis} training images (diagnosis)'
             if args.train_diagnosis else ''))
    rec = bench.evaluate_fold(
        model, fold_cfg, paths['test'],
        paths['diagnosis'] if args.train_diagnosis else None)
    rec['device'] = np.asarray(str(device))
    bench.save_records(rec_file, rec)
    return rec


def _exit_on_sigterm(signum, frame):
    """SIGTERM (``kill``, a batch system's time limit) as an exception, so
    that the training subprocess is stopped too; the fold resumes with
    ``--resume``."""
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    """The command line; SIGTERM stops the training subprocess too (the
    previous handler is back on return)."""
    if threading.current_thread() is not threading.main_thread():
        return _main(argv)
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        return _main(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv=None) -> int:
    args = parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    from mmengine.config import Config

    import mmdet_dynamic.apis.router_benchmark as bench
    from mmdet_dynamic.apis.variable_speed import resolve_device
    data = bench.BENCHMARK_DATA[args.data]
    args.data_root = args.data_root or data['data_root']
    try:
        device = resolve_device(args.device)
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        bench.check_benchmark_config(cfg, args.data)
        all_json = osp.join(args.data_root, data['ann_file'])
        if not osp.isfile(all_json):
            raise BenchmarkError(
                f'{all_json} not found: prepare the data with `make data` '
                '(or point --data-root at it)')
        with open(all_json) as f:
            coco = json.load(f)
        folds = bench.fold_assignment(len(coco['images']), args.folds,
                                      args.seed)
        settings = dict(
            config=osp.abspath(args.config),
            config_sha=_sha(cfg.pretty_text),
            data=args.data,
            data_root=osp.abspath(args.data_root),
            folds=args.folds,
            seed=args.seed,
            joint_from=args.joint_from and osp.abspath(args.joint_from),
            train_diagnosis=args.train_diagnosis)
        settings_file = osp.join(args.out_dir, 'settings.json')
        _check_settings(settings_file, settings, args.resume)
        _check_writable(args.out_dir)
    except (BenchmarkError, FileNotFoundError, KeyError, TypeError,
            ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    _write_json(settings_file, settings)
    print(f'{args.data}: {len(coco["images"])} images in {args.folds} folds '
          f'of {", ".join(str(len(f)) for f in folds)}; evaluation on '
          f'{device}')
    try:
        records = [
            run_fold(bench, cfg, args, settings, data, f, coco, folds,
                     device)
            for f in range(args.folds)
        ]
    except BenchmarkError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    report(bench, records, args, data, all_json, settings, device)
    return 0


def report(bench, records, args, data, all_json, settings, device) -> None:
    """Pool the folds, print the table and the reading, write the
    summary files."""
    from mmdet_dynamic.apis.variable_speed import DEFAULT_RATIOS
    from mmdet_dynamic.registry import METRICS
    metric = METRICS.build(
        dict(type='CocoMetric', ann_file=all_json, metric='bbox'))
    metric.dataset_meta = dict(classes=data['classes'])
    ratios = args.ratios or DEFAULT_RATIOS
    num = sum(len(r['heldout_img_id']) for r in records)
    print(f'pooled trade-off of {num} held-out images at {len(ratios)} '
          f'hard ratios ({args.bootstrap} bootstrap resamples, '
          f'{args.random_splits} random splits):')
    summary = bench.summarize(records, metric, ratios, args.random_splits,
                              args.bootstrap, args.seed)
    summary.setdefault('device', str(device))  # where the folds were timed
    summary.update(
        settings=settings,
        command='python tools/analysis_tools/router_benchmark.py ' +
        ' '.join(args.argv))
    summary['reading'] = bench.reading(summary)
    title = (f'{osp.splitext(osp.basename(args.config))[0]} on {args.data}: '
             f'{summary["num_images"]} held-out images, {args.folds} folds')
    files = bench.write_summary(
        args.out_dir, summary, bench.csv_rows(summary),
        lambda path: bench.plot_summary(summary, path, title))
    print('\n' + bench.format_table(summary) + '\n')
    for line in summary['reading']:
        print('- ' + line)
    lat = summary['latency_ms']
    print(f"\nlatency per image (fold medians, {summary['device']}): "
          "easy route "
          f"{lat['easy']:.1f} ms, hard route {lat['hard']:.1f} ms, B1 + "
          f"router {lat['b1_router']:.1f} ms")
    print('wrote ' + ', '.join(files))


if __name__ == '__main__':
    sys.exit(main())
