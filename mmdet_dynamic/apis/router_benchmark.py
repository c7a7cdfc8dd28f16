# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""K-fold router benchmark: every image of a dataset held out exactly once.

For each of K folds the cascade is trained on the other folds with the
config's own recipe (joint phase, then the router phase of its
``RouterTrainingHook``) and every held-out image is run on both routes.
The held-out images of all folds are then pooled into one trade-off:

* **router**: the trained router's ranking, within each fold (each fold's
  model has its own logit scale: a fold's threshold is calibrated on its
  own images, as :mod:`.variable_speed` calibrates one on a validation
  set), so at hard ratio k every fold sends ``floor(k n_f)`` images hard;
* **random**: the mean of ``random_splits`` random choices of the same
  sizes;
* **oracle**: the images with the largest per-image AP gain of detector 2
  over detector 1;
* **training-free baselines**: route hard when detector 1's own detections
  are unsure (``d1_top``: one minus its top score; ``d1_mean``: one minus
  the mean score of its detections scoring at least 0.3, 1 when it has
  none). Their latency includes detector 1's head on the images they send
  hard (``t_hard + t_easy - t_b1``);

with COCO AP from the pooled per-image matches and 95 % paired bootstrap
intervals over images (:class:`~.coco_bootstrap.PooledMatches`). Latency is
per image and route, each fold's median over its images of the measured
batch-1 time (robust to a busy machine), the route each image takes.
"""
import copy
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from .coco_bootstrap import PooledMatches, per_image_matches

# dataset name -> where `make data` puts it and what it holds
BENCHMARK_DATA = {
    'raccoon':
    dict(
        data_root='data/raccoon/',
        ann_file='coco/all.json',
        img_prefix='images/',
        classes=('raccoon', )),
    'bccd':
    dict(
        data_root='data/bccd/',
        ann_file='coco/all.json',
        img_prefix='JPEGImages/',
        classes=('RBC', 'WBC', 'Platelets')),
}
BASELINE_FLOOR = 0.3
METHODS = ('router', 'random', 'oracle', 'd1_top', 'd1_mean')
ROUTES = ('easy', 'hard')


# ---------------------------------------------------------------- folds
def fold_assignment(num_images: int, folds: int,
                    seed: int = 0) -> List[np.ndarray]:
    """Split image indices 0..n-1 into ``folds`` held-out sets of sizes
    differing by at most one: a seeded permutation cut into consecutive
    parts; each part sorted.

    Raises:
        ValueError: If ``folds`` < 2 or > ``num_images``.
    """
    if not 2 <= folds <= num_images:
        raise ValueError(f'--folds must be between 2 and the number of '
                         f'images ({num_images}), got {folds}')
    perm = np.random.default_rng(seed).permutation(num_images)
    return [np.sort(part) for part in np.array_split(perm, folds)]


def subset_coco(coco: Dict, indices: Sequence[int]) -> Dict:
    """The COCO dict with only the images at ``indices`` (positions in
    ``coco['images']``) and their annotations."""
    images = [coco['images'][i] for i in indices]
    ids = {im['id'] for im in images}
    return dict(
        coco,
        images=images,
        annotations=[a for a in coco['annotations'] if a['image_id'] in ids])


# ------------------------------------------------------------ configs
def _leaf_dataset(ds_cfg, where: str):
    """The innermost dataset config (the one with ``ann_file``) of a
    possibly wrapped one (``RepeatDataset``, ...)."""
    node = ds_cfg
    while node is not None and 'ann_file' not in node:
        node = node.get('dataset')
    if node is None:
        raise ValueError(f'{where} has no dataset with an ann_file (a '
                         'ConcatDataset cannot be split into folds)')
    return node


def router_hook(cfg) -> Dict:
    """The config's RouterTrainingHook entry.

    Raises:
        ValueError: If there is none, or it is not iteration-based.
    """
    hooks = [
        h for h in cfg.get('custom_hooks', []) or []
        if str(h.get('type', '')).split('.')[-1] == 'RouterTrainingHook'
    ]
    if not hooks:
        raise ValueError(
            'the config has no RouterTrainingHook in custom_hooks: the '
            'benchmark trains both phases with the config\'s recipe. Use a '
            '*_joint-router_* config from configs/dynamicdet')
    hook = hooks[0]
    if hook.get('switch_iter') is None or not cfg.train_cfg.get('max_iters'):
        raise ValueError(
            'the benchmark needs an iteration-based recipe '
            '(train_cfg.max_iters and RouterTrainingHook(switch_iter=N)); '
            f'got train_cfg={dict(cfg.train_cfg)}')
    if not 0 < hook['switch_iter'] < cfg.train_cfg.max_iters:
        raise ValueError(
            f'RouterTrainingHook switch_iter={hook["switch_iter"]} must be '
            f'between 1 and max_iters - 1 ({cfg.train_cfg.max_iters - 1}): '
            'the benchmark trains the joint phase itself, on each fold\'s '
            'training images')
    return hook


def check_benchmark_config(cfg, data: str) -> None:
    """A cascade with a router-phase recipe, for the dataset's classes.

    Raises:
        TypeError: If the model is not a DynamicCascadeDetector.
        ValueError: If the recipe or the classes do not fit.
    """
    model_type = str(cfg.model.get('type', '')).split('.')[-1]
    if model_type != 'DynamicCascadeDetector':
        raise TypeError(
            f'the benchmark measures a router, and this config builds a '
            f'{model_type!r}, which has none. Use a DynamicCascadeDetector '
            'config (configs/dynamicdet)')
    router_hook(cfg)
    leaf = _leaf_dataset(cfg.train_dataloader.dataset, 'train_dataloader')
    classes = tuple((leaf.get('metainfo') or {}).get('classes', ()))
    expected = BENCHMARK_DATA[data]['classes']
    if classes != expected:
        raise ValueError(
            f'the config\'s classes {classes} are not {data}\'s {expected}: '
            f'use a config made for {data} (configs/dynamicdet/*_{data}.py)')


def fold_configs(cfg, data_root: str, img_prefix: str, train_json: str,
                 test_json: str, work_dir: str, seed: int) -> Dict:
    """The two training stages of one fold, from the benchmark's config.

    ``joint``: the config without its RouterTrainingHook, stopped at the
    hook's ``switch_iter``; ``router``: the router phase alone
    (``switch_iter=0``, ``load_from`` set by the caller to the joint
    stage's checkpoint, ``max_iters`` the rest of the schedule). Both
    train on ``train_json``, validate on nothing, keep ``test_json`` as
    their test set, save a checkpoint every 100 iterations and the last.

    Returns:
        dict: ``joint`` and ``router`` Configs.
    """
    hook = router_hook(cfg)
    switch, total = hook['switch_iter'], cfg.train_cfg.max_iters
    base = copy.deepcopy(cfg)
    for key, ann in (('train_dataloader', train_json),
                     ('test_dataloader', test_json)):
        if base.get(key) is None:
            base[key] = copy.deepcopy(cfg.val_dataloader)
        leaf = _leaf_dataset(base[key].dataset, key)
        leaf.update(
            data_root=data_root,
            ann_file=osp.abspath(ann),
            data_prefix=dict(img=img_prefix))
    base.test_evaluator = dict(
        type='CocoMetric', ann_file=osp.abspath(test_json), metric='bbox')
    base.val_dataloader = base.val_cfg = base.val_evaluator = None
    base.randomness = dict(seed=seed)
    base.default_hooks.checkpoint = dict(
        type='CheckpointHook', by_epoch=False, interval=100, save_last=True,
        max_keep_ckpts=1)
    base.default_hooks.logger = dict(type='LoggerHook', interval=10)
    base.resume = False
    base.load_from = cfg.get('load_from')

    joint = copy.deepcopy(base)
    joint.custom_hooks = [
        h for h in base.get('custom_hooks', [])
        if str(h.get('type', '')).split('.')[-1] != 'RouterTrainingHook'
    ]
    joint.train_cfg = dict(base.train_cfg, max_iters=switch,
                           val_interval=switch + 1)
    joint.work_dir = osp.join(work_dir, 'joint')

    router = copy.deepcopy(base)
    for h in router.custom_hooks:
        if str(h.get('type', '')).split('.')[-1] == 'RouterTrainingHook':
            h['switch_iter'] = 0
    router.train_cfg = dict(base.train_cfg, max_iters=total - switch,
                            val_interval=total - switch + 1)
    router.param_scheduler = []  # the hook builds the router phase's own
    router.work_dir = osp.join(work_dir, 'router')
    return dict(joint=joint, router=router)


# ------------------------------------------------------------ records
def save_records(path: str, rec: Dict[str, np.ndarray]) -> None:
    """Write a fold's records (arrays only) as ``.npz``, atomically; read
    back with :func:`load_records`, which never unpickles."""
    from ..utils import write_atomically

    def write(tmp: str) -> None:
        with open(tmp, 'wb') as f:
            np.savez(f, **rec)

    write_atomically(path, write)


def load_records(path: str) -> Dict[str, np.ndarray]:
    """A fold's records (``allow_pickle=False``: arrays only)."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def flatten_predictions(preds: Sequence[Dict], prefix: str) -> Dict:
    """Per-image predictions (``bboxes`` (k, 4), ``scores``, ``labels``)
    as flat arrays ``<prefix>_counts`` (n, ), ``_bboxes`` (K, 4),
    ``_scores``, ``_labels``."""
    return {
        f'{prefix}_counts':
        np.asarray([len(p['scores']) for p in preds], dtype=np.int64),
        f'{prefix}_bboxes':
        np.concatenate([np.asarray(p['bboxes'], np.float32).reshape(-1, 4)
                        for p in preds]) if preds else np.zeros((0, 4)),
        f'{prefix}_scores':
        np.concatenate([np.asarray(p['scores'], np.float32)
                        for p in preds]) if preds else np.zeros(0),
        f'{prefix}_labels':
        np.concatenate([np.asarray(p['labels'], np.int64)
                        for p in preds]) if preds else np.zeros(0, np.int64),
    }


def unflatten_predictions(rec: Dict, prefix: str) -> List[Dict]:
    """Inverse of :func:`flatten_predictions`: one dict per image with
    ``img_id``, ``bboxes``, ``scores``, ``labels`` (what mmdet's
    ``CocoMetric`` keeps per image)."""
    counts = rec[f'{prefix}_counts']
    ends = np.cumsum(counts)
    out = []
    for img_id, end, num in zip(rec[f'{prefix}_img_id'], ends, counts):
        sl = slice(end - num, end)
        out.append(
            dict(
                img_id=int(img_id),
                bboxes=rec[f'{prefix}_bboxes'][sl],
                scores=rec[f'{prefix}_scores'][sl],
                labels=rec[f'{prefix}_labels'][sl]))
    return out


def d1_uncertainty(preds: Sequence[Dict],
                   floor: float = BASELINE_FLOOR) -> Dict[str, np.ndarray]:
    """The training-free baselines' scores (higher: send hard) from
    detector 1's predictions: ``d1_top`` = 1 - top score (1 without
    detections), ``d1_mean`` = 1 - mean score of the detections scoring at
    least ``floor`` (1 without any)."""
    top, mean = [], []
    for p in preds:
        scores = np.asarray(p['scores'], dtype=np.float64)
        top.append(1.0 - scores.max() if scores.size else 1.0)
        kept = scores[scores >= floor]
        mean.append(1.0 - kept.mean() if kept.size else 1.0)
    return dict(d1_top=np.asarray(top), d1_mean=np.asarray(mean))


# ------------------------------------------------------------ pooling
def select_hard(scores: np.ndarray, fold: np.ndarray,
                ratio: float) -> np.ndarray:
    """Hard mask (n, ): in each fold the ``floor(ratio n_f)`` images with
    the highest ``scores`` (ties in input order)."""
    from .variable_speed import num_hard
    hard = np.zeros(len(scores), dtype=bool)
    for f in np.unique(fold):
        idx = np.flatnonzero(fold == f)
        m = num_hard(len(idx), ratio)
        order = np.argsort(-scores[idx], kind='stable')
        hard[idx[order[:m]]] = True
    return hard


def random_hard(fold: np.ndarray, ratio: float,
                rng: np.random.Generator) -> np.ndarray:
    """A random hard mask with the same number of hard images per fold as
    :func:`select_hard`."""
    return select_hard(rng.random(len(fold)), fold, ratio)


def route_latency(hard: np.ndarray, t_easy: np.ndarray, t_hard: np.ndarray,
                  extra_hard: Optional[np.ndarray] = None) -> float:
    """Mean per-image latency of a routing: ``t_hard`` (plus
    ``extra_hard``, e.g. detector 1's head for a baseline that ran it)
    for hard images, ``t_easy`` for the others."""
    hard_cost = t_hard if extra_hard is None else t_hard + extra_hard
    return float(np.where(hard, hard_cost, t_easy).mean())


def _weights(hard: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(2, n) weights of a routing: easy row, hard row."""
    return np.stack([counts * ~hard, counts * hard])


def pooled_tradeoff(table: PooledMatches,
                    scores: Dict[str, np.ndarray],
                    fold: np.ndarray,
                    times: Dict[str, np.ndarray],
                    ratios: Sequence[float],
                    random_splits: int = 20,
                    bootstrap: int = 1000,
                    seed: int = 0,
                    level: float = 0.95,
                    progress: bool = True) -> Dict:
    """The pooled trade-off of every method at every hard ratio.

    Args:
        table (PooledMatches): Both routes' matches of the n pooled images
            (routes ``easy``, ``hard``).
        scores (dict): Per method with a ranking (``router``, ``oracle``,
            baselines), the (n, ) scores: higher goes hard first.
        fold (np.ndarray): (n, ) fold of each image.
        times (dict): (n, ) ``t_easy``, ``t_hard`` and ``t_b1`` in ms.
        ratios: Hard ratios.
        random_splits (int): Random routings averaged for ``random``.
        bootstrap (int): Paired bootstrap resamples over images.
        seed (int): Seed of the random splits and of the bootstrap.
        level (float): Interval level.

    Returns:
        dict: ``rows`` (one per ratio and method: AP, AP50, interval of the
        AP, of the method minus random and, at the ends, latency, hard
        share), ``cascade_minus_detector1`` (mean, interval) and
        ``bootstrap``/``random_splits`` settings.
    """
    from mmengine.utils import ProgressBar

    from .coco_bootstrap import percentile_interval
    n = len(fold)
    rng = np.random.default_rng(seed)
    draws = np.stack([np.ones(n)] + [
        np.bincount(rng.integers(0, n, n), minlength=n)
        for _ in range(bootstrap)
    ])  # (1 + bootstrap, n); row 0: every image once
    ranked = [m for m in scores]
    head_cost = times['t_easy'] - times['t_b1']
    rows = []
    bar = ProgressBar(len(ratios)) if progress else None
    for k in ratios:
        split_rng = np.random.default_rng([seed, int(round(k * 1000))])
        masks = {m: select_hard(scores[m], fold, k) for m in ranked}
        randoms = [random_hard(fold, k, split_rng)
                   for _ in range(random_splits)]
        routings = [masks[m] for m in ranked] + randoms
        ap = dict(mAP=[], mAP_50=[])
        for chunk in np.array_split(np.arange(len(draws)),
                                    max(1, len(draws) // 32)):
            w = np.stack([
                _weights(hard, draws[c]) for c in chunk for hard in routings
            ])
            out = table.ap(w)
            for key in ap:
                ap[key].append(out[key].reshape(len(chunk), len(routings)))
        ap = {key: np.concatenate(v) for key, v in ap.items()}
        for key in ap:  # random: the mean of the random splits
            ap[key] = np.concatenate(
                [ap[key][:, :len(ranked)],
                 ap[key][:, len(ranked):].mean(axis=1, keepdims=True)],
                axis=1)
        names = ranked + ['random']
        random_col = len(ranked)
        for j, m in enumerate(names):
            hard = masks[m] if m in masks else None
            if m == 'random':
                lat = float(np.mean([
                    route_latency(r, times['t_easy'], times['t_hard'])
                    for r in randoms
                ]))
                share = float(np.mean([r.mean() for r in randoms]))
            else:
                extra = head_cost if m.startswith('d1_') else None
                lat = route_latency(hard, times['t_easy'], times['t_hard'],
                                    extra)
                share = float(hard.mean())
            row = dict(hard_ratio=float(k), method=m,
                       realised_hard_ratio=share, latency_ms=lat)
            for key in ('mAP', 'mAP_50'):
                vals = ap[key][:, j]
                lo, hi = percentile_interval(vals[1:], level)
                row[key] = float(vals[0])
                row[f'{key}_ci'] = [float(lo), float(hi)]
                diff = vals - ap[key][:, random_col]
                lo, hi = percentile_interval(diff[1:], level)
                if m == 'random' or share in (0.0, 1.0):
                    diff = np.zeros_like(diff)
                    lo = hi = 0.0
                row[f'{key}_minus_random'] = float(diff[0])
                row[f'{key}_minus_random_ci'] = [float(lo), float(hi)]
            rows.append(row)
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    # full cascade minus detector 1 on the same resamples
    gain = []
    for chunk in np.array_split(np.arange(len(draws)),
                                max(1, len(draws) // 64)):
        w = np.stack([
            _weights(np.full(n, hard), draws[c]) for c in chunk
            for hard in (True, False)
        ])
        out = table.ap(w)['mAP'].reshape(len(chunk), 2)
        gain.append(out[:, 0] - out[:, 1])
    gain = np.concatenate(gain)
    lo, hi = percentile_interval(gain[1:], level)
    for row in rows:
        base = next(r for r in rows if r['hard_ratio'] == row['hard_ratio']
                    and r['method'] == 'random')
        oracle = next((r for r in rows
                       if r['hard_ratio'] == row['hard_ratio']
                       and r['method'] == 'oracle'), None)
        span = oracle['mAP'] - base['mAP'] if oracle else 0.0
        # undefined where the oracle does not beat random (the ends)
        row['oracle_gain_share'] = (row['mAP'] - base['mAP']) / span \
            if span > 1e-6 else None
    return dict(
        rows=rows,
        cascade_minus_detector1=dict(
            mAP=float(gain[0]), ci=[float(lo), float(hi)]),
        bootstrap=bootstrap,
        random_splits=random_splits,
        level=level)


def verdict(ci: Sequence[float]) -> str:
    """``'above'``, ``'below'`` or ``'tie'``: where the interval lies
    against 0."""
    if ci[0] > 0:
        return 'above'
    if ci[1] < 0:
        return 'below'
    return 'tie'


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1, each run of equal values given its average rank."""
    order = np.argsort(x, kind='mergesort')
    ranks = np.empty(len(x))
    starts = np.r_[0, np.flatnonzero(np.diff(x[order])) + 1]
    for a, b in zip(starts, np.r_[starts[1:], len(x)]):
        ranks[order[a:b]] = (a + b - 1) / 2
    return ranks


def spearman(a: Sequence[float], b: Sequence[float]) -> Optional[float]:
    """Spearman's rank correlation (average ranks for ties); None for
    fewer than 3 pairs or a constant side."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return None
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def write_summary(out_dir: str, summary: Dict, csv_rows: List[Dict],
                  plot) -> List[str]:
    """``summary.json``, ``summary.csv`` and ``summary.png`` (``plot(path)``
    draws it), written together or not at all."""
    import csv

    def write_json(path):
        with open(path, 'w') as f:
            json.dump(summary, f, indent=1, allow_nan=False)

    def write_csv(path):
        with open(path, 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=list(csv_rows[0]))
            writer.writeheader()
            writer.writerows(csv_rows)

    from ..utils import write_files_atomically
    return write_files_atomically({
        osp.join(out_dir, 'summary.json'): write_json,
        osp.join(out_dir, 'summary.csv'): write_csv,
        osp.join(out_dir, 'summary.png'): plot,
    })


# ------------------------------------------------------- fold evaluation
def _predictions(samples) -> List[Dict]:
    """What mmdet's ``CocoMetric.process`` keeps of each prediction."""
    out = []
    for s in samples:
        pred = s.pred_instances
        out.append(
            dict(
                img_id=int(s.img_id),
                bboxes=pred.bboxes.detach().cpu().numpy(),
                scores=pred.scores.detach().cpu().numpy(),
                labels=pred.labels.cpu().numpy()))
    return out


def _loader_for(cfg, ann_file: str):
    """Batch-1 loader of the config's test pipeline over ``ann_file``."""
    from .variable_speed import build_eval_loader
    cfg = copy.deepcopy(cfg)
    _leaf_dataset(cfg.test_dataloader.dataset,
                  'test_dataloader')['ann_file'] = osp.abspath(ann_file)
    return build_eval_loader(cfg, 'test')


def _records(model, loader, timed: bool, progress: bool) -> Dict:
    """Both routes' predictions, the router's logit and input, and L1 - L2
    (DynamicDet's loss target) of every image of ``loader``; with
    ``timed``, each route's time (ms) and that of B1 + router alone."""
    import time

    import torch
    from mmengine.utils import ProgressBar

    from .variable_speed import synchronize, timed_route
    out = dict(img_id=[], logit=[], loss_diff=[], feat=[], t_b1=[],
               t_easy=[], t_hard=[])
    preds = dict(easy=[], hard=[])
    device = next(model.parameters()).device
    bar = ProgressBar(len(loader.dataset)) if progress else None
    for data in loader:
        with torch.no_grad():
            synchronize(device)
            start = time.perf_counter()
            batch = model.data_preprocessor(data, False)
            logits = model.difficulty_logits(batch['inputs'],
                                             batch['data_samples'])
            synchronize(device)
            t_b1 = time.perf_counter() - start
            feat = model.router_inputs(batch['inputs'], batch['data_samples'])
            diff = model.loss_differences(batch['inputs'],
                                          batch['data_samples'], 'loss')
        for route in ROUTES:
            samples, seconds = timed_route(model, data, route)
            preds[route].extend(_predictions(samples))
            out[f't_{route}'].append(seconds * 1000)
        out['t_b1'].append(t_b1 * 1000)
        out['img_id'].extend(int(s.img_id) for s in batch['data_samples'])
        out['logit'].extend(logits.tolist())
        out['loss_diff'].extend(diff.tolist())
        out['feat'].append(feat.detach().cpu().numpy())
        if bar is not None:
            bar.update(len(logits))
    if bar is not None:
        print()
    rec = {k: np.asarray(v, dtype=np.float64) for k, v in out.items()
           if k != 'feat'}
    rec['img_id'] = rec['img_id'].astype(np.int64)
    rec['feat'] = np.concatenate(out['feat']).astype(np.float32)
    if not timed:
        for key in ('t_b1', 't_easy', 't_hard'):
            rec.pop(key)
    for route in ROUTES:
        rec.update(flatten_predictions(preds[route], route))
        rec[f'{route}_img_id'] = rec['img_id']
    return rec


def evaluate_fold(model,
                  cfg,
                  test_json: str,
                  train_json: Optional[str] = None,
                  progress: bool = True) -> Dict[str, np.ndarray]:
    """Run a fold's trained cascade on its held-out images (and, for the
    diagnosis, on its training images).

    Every held-out image is run at batch 1 on both routes (timed, the
    device synchronised), and B1 + router alone is timed for the
    baselines' latency. For every image the records hold its router logit
    and router input (the pooled B1 features), L1 - L2 with DynamicDet's
    loss target, and both routes' predictions.

    Returns:
        dict: Arrays, keys prefixed ``heldout_`` (and ``train_``).
    """
    rec = {
        f'heldout_{k}': v
        for k, v in _records(model, _loader_for(cfg, test_json), True,
                             progress).items()
    }
    if train_json is not None:
        rec.update({
            f'train_{k}': v
            for k, v in _records(model, _loader_for(cfg, train_json), False,
                                 progress).items()
        })
    return rec


def split_records(rec: Dict, prefix: str) -> Dict[str, np.ndarray]:
    """The ``prefix_`` part of a fold's records, keys without it."""
    return {
        k[len(prefix) + 1:]: v
        for k, v in rec.items() if k.startswith(prefix + '_')
    }


def route_tables(metric, parts: Sequence[Dict]) -> PooledMatches:
    """Both routes' COCOeval matches of the images of ``parts`` (records
    of one or more folds, in order), pooled."""
    routes = []
    for route in ROUTES:
        preds = [p for part in parts
                 for p in unflatten_predictions(part, route)]
        results = [(dict(img_id=p['img_id']), p) for p in preds]
        routes.append(per_image_matches(metric, results, 'bbox'))
    return PooledMatches(routes)


# ------------------------------------------------------------- summary
def fold_medians(parts: Sequence[Dict], key: str) -> np.ndarray:
    """Per image, its fold's median of ``key`` (a per-image time): the
    cost of one route on this machine, robust to moments when it was
    busy."""
    return np.concatenate(
        [np.full(len(p[key]), np.median(p[key])) for p in parts])


def diagnosis(held: Sequence[Dict], train: Sequence[Dict],
              gain_held: Sequence[np.ndarray],
              gain_train: Sequence[np.ndarray]) -> Dict:
    """Spearman correlations of the router's logit, fold by fold: with
    L1 - L2 (DynamicDet's loss target) on training and held-out images, and
    with the per-image AP gain of detector 2 on held-out (and training)
    images; also the training-free baselines' correlation with the
    held-out AP gain. Each figure: per-fold values and their mean."""
    def stats(values):
        vals = [v for v in values if v is not None]
        return dict(
            per_fold=[None if v is None else round(v, 4) for v in values],
            mean=float(np.mean(vals)) if vals else None,
            std=float(np.std(vals)) if len(vals) > 1 else None)

    out = dict(
        logit_vs_loss_diff_heldout=stats(
            [spearman(h['logit'], h['loss_diff']) for h in held]),
        logit_vs_ap_gain_heldout=stats(
            [spearman(h['logit'], g) for h, g in zip(held, gain_held)]),
        loss_diff_vs_ap_gain_heldout=stats(
            [spearman(h['loss_diff'], g) for h, g in zip(held, gain_held)]))
    for name in ('d1_top', 'd1_mean'):
        out[f'{name}_vs_ap_gain_heldout'] = stats([
            spearman(d1_uncertainty(unflatten_predictions(h, 'easy'))[name],
                     g) for h, g in zip(held, gain_held)
        ])
    if train:
        out.update(
            logit_vs_loss_diff_train=stats(
                [spearman(t['logit'], t['loss_diff']) for t in train]),
            logit_vs_ap_gain_train=stats(
                [spearman(t['logit'], g) for t, g in zip(train, gain_train)]),
            loss_diff_vs_ap_gain_train=stats([
                spearman(t['loss_diff'], g)
                for t, g in zip(train, gain_train)
            ]),
            ap_gain_train_mean=float(np.mean(np.concatenate(gain_train))),
        )
    out['ap_gain_heldout_mean'] = float(np.mean(np.concatenate(gain_held)))
    return out


def summarize(records: Sequence[Dict],
              metric,
              ratios: Sequence[float],
              random_splits: int = 20,
              bootstrap: int = 1000,
              seed: int = 0,
              progress: bool = True) -> Dict:
    """The pooled trade-off and the diagnosis of K folds' records.

    Args:
        records: Each fold's :func:`evaluate_fold` records.
        metric: mmdet's ``CocoMetric`` over an annotation file holding
            every image (``dataset_meta`` set).

    Returns:
        dict: ``rows`` (see :func:`pooled_tradeoff`),
        ``cascade_minus_detector1``, ``latency_ms``, ``diagnosis``,
        ``num_images``, ``fold_sizes`` and, where the records name it,
        ``device``: the device(s) the folds were timed on.
    """
    from .coco_bootstrap import per_image_ap
    held = [split_records(r, 'heldout') for r in records]
    train = [split_records(r, 'train') for r in records]
    train = [t for t in train if t]
    table = route_tables(metric, held)
    ap = per_image_ap(table)
    gain = ap[1] - ap[0]
    sizes = [len(h['img_id']) for h in held]
    fold = np.repeat(np.arange(len(held)), sizes)
    gains, start = [], 0
    for size in sizes:
        gains.append(gain[start:start + size])
        start += size
    gain_train = [
        np.diff(per_image_ap(route_tables(metric, [t])), axis=0)[0]
        for t in train
    ]
    easy = [p for h in held for p in unflatten_predictions(h, 'easy')]
    scores = dict(
        router=np.concatenate([h['logit'] for h in held]),
        oracle=gain,
        **d1_uncertainty(easy))
    times = {k: fold_medians(held, k) for k in ('t_easy', 't_hard', 't_b1')}
    out = pooled_tradeoff(table, scores, fold, times, ratios, random_splits,
                          bootstrap, seed, progress=progress)
    out.update(
        num_images=int(len(fold)),
        fold_sizes=sizes,
        latency_ms=dict(
            easy=float(times['t_easy'].mean()),
            hard=float(times['t_hard'].mean()),
            b1_router=float(times['t_b1'].mean())),
        detector1_mAP=float(table.ap(np.stack([np.ones(len(fold)),
                                               np.zeros(len(fold))]))['mAP']),
        cascade_mAP=float(table.ap(np.stack([np.zeros(len(fold)),
                                             np.ones(len(fold))]))['mAP']),
        diagnosis=diagnosis(held, train, gains, gain_train))
    # where the folds were timed: a report resumed on another machine
    # (the bootstrap is CPU work) must not relabel GPU latencies
    timed_on = sorted({str(r['device']) for r in records if 'device' in r})
    if timed_on:
        out['device'] = ', '.join(timed_on)
    return out


def _row(summary: Dict, ratio: float, method: str) -> Dict:
    return next(r for r in summary['rows']
                if abs(r['hard_ratio'] - ratio) < 1e-9
                and r['method'] == method)


def csv_rows(summary: Dict) -> List[Dict]:
    """The summary's rows flattened for a CSV (empty cells for undefined
    values)."""
    out = []
    for r in summary['rows']:
        row = {}
        for k, v in r.items():
            if isinstance(v, list):
                row[f'{k}_low'], row[f'{k}_high'] = v
            else:
                row[k] = '' if v is None else v
        out.append(row)
    return out


def reading(summary: Dict) -> List[str]:
    """Plain sentences on what the intervals show (a tie where they
    contain 0)."""
    lines = []
    g = summary['cascade_minus_detector1']
    lines.append(
        f"full cascade minus detector 1: {g['mAP']:+.4f} mAP "
        f"[{g['ci'][0]:+.4f}, {g['ci'][1]:+.4f}]: "
        + dict(above='detector 2 pays', below='detector 2 is worse',
               tie='a tie (the interval contains 0)')[verdict(g['ci'])])
    ratios = sorted({r['hard_ratio'] for r in summary['rows']})
    mid = min(ratios, key=lambda k: abs(k - 0.5))
    for method in ('router', 'd1_top', 'd1_mean'):
        r = _row(summary, mid, method)
        v = verdict(r['mAP_minus_random_ci'])
        share = r['oracle_gain_share']
        lines.append(
            f"{method} at {mid:.0%} hard: minus random "
            f"{r['mAP_minus_random']:+.4f} "
            f"[{r['mAP_minus_random_ci'][0]:+.4f}, "
            f"{r['mAP_minus_random_ci'][1]:+.4f}]: " +
            dict(above='beats the random split',
                 below='below the random split',
                 tie='a tie')[v] + '; share of the oracle\'s gain '
            + ('-' if share is None else f'{share:.2f}'))
    for method in ('router', 'd1_top', 'd1_mean'):
        below = [r['hard_ratio'] for r in summary['rows']
                 if r['method'] == method and verdict(
                     r['mAP_minus_random_ci']) == 'below']
        above = [r['hard_ratio'] for r in summary['rows']
                 if r['method'] == method and verdict(
                     r['mAP_minus_random_ci']) == 'above']
        lines.append(
            f'{method}: significantly above random at hard ratios '
            f'{above or "none"}, below at {below or "none"}')
    d = summary['diagnosis']

    def fig(key):
        v = d.get(key)
        if not v or v['mean'] is None:
            return '-'
        sd = '' if v['std'] is None else f" +- {v['std']:.2f}"
        return f"{v['mean']:+.2f}{sd}"

    lines.append(
        'router logit, Spearman (mean over folds): with L1 - L2 on '
        f"training images {fig('logit_vs_loss_diff_train')}, on held-out "
        f"images {fig('logit_vs_loss_diff_heldout')}; with the held-out AP "
        f"gain {fig('logit_vs_ap_gain_heldout')} (L1 - L2 itself with the "
        f"held-out AP gain {fig('loss_diff_vs_ap_gain_heldout')}; detector "
        f"1's confidence baselines {fig('d1_top_vs_ap_gain_heldout')} / "
        f"{fig('d1_mean_vs_ap_gain_heldout')})")
    return lines


def format_table(summary: Dict) -> str:
    """Markdown table: per hard ratio, latency and mAP of each method, and
    router / baseline minus random with its interval."""
    ratios = sorted({r['hard_ratio'] for r in summary['rows']})
    head = ['hard ratio', 'latency (ms)', 'router', 'random', 'oracle',
            'd1_top', 'd1_mean', 'router - random [95 % CI]',
            'd1_top - random [95 % CI]', 'share of oracle gain']
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for k in ratios:
        r = {m: _row(summary, k, m) for m in METHODS}

        def diff(m):
            x = r[m]
            lo, hi = x['mAP_minus_random_ci']
            return (f"{x['mAP_minus_random']:+.3f} [{lo:+.3f}, {hi:+.3f}] "
                    f"{verdict([lo, hi])}")

        share = r['router']['oracle_gain_share']
        cells = [f'{k:.1f}', f"{r['router']['latency_ms']:.1f}"] + [
            f"{r[m]['mAP']:.3f}" for m in METHODS
        ] + [diff('router'), diff('d1_top'),
             '-' if share is None else f'{share:.2f}']
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot_summary(summary: Dict, out_file: str, title: str = '') -> None:
    """PNG: mAP against latency per method (left), and each method minus
    random with its interval against the hard ratio (right)."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(12, 4.5))
    ax1, ax2 = fig.subplots(1, 2)
    styles = dict(router=('o-', 'tab:blue'), random=('s--', 'grey'),
                  oracle=('^:', 'tab:green'), d1_top=('v-.', 'tab:orange'),
                  d1_mean=('d-.', 'tab:red'))
    for m, (style, color) in styles.items():
        rows = [r for r in summary['rows'] if r['method'] == m]
        ax1.plot([r['latency_ms'] for r in rows], [r['mAP'] for r in rows],
                 style, color=color, label=m, markersize=4)
        if m in ('router', 'd1_top', 'd1_mean'):
            k = np.asarray([r['hard_ratio'] for r in rows])
            d = np.asarray([r['mAP_minus_random'] for r in rows])
            ci = np.asarray([r['mAP_minus_random_ci'] for r in rows])
            offset = dict(router=0, d1_top=-0.012, d1_mean=0.012)[m]
            ax2.errorbar(k + offset, d, yerr=[d - ci[:, 0], ci[:, 1] - d],
                         fmt=style[0], color=color, capsize=3, label=m)
    ends = [r for r in summary['rows'] if r['method'] == 'router']
    for row, label, marker in ((ends[0], 'detector 1 alone', '*'),
                               (ends[-1], 'full cascade', 'P')):
        ax1.plot(row['latency_ms'], row['mAP'], marker, markersize=13,
                 color='black', label=label)
    ax1.set_xlabel('latency per image (ms, batch 1)')
    ax1.set_ylabel('bbox mAP (pooled held-out images)')
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.axhline(0, color='grey', lw=1)
    ax2.set_xlabel('hard ratio')
    ax2.set_ylabel('mAP minus random split (95 % CI)')
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=110, format='png')
