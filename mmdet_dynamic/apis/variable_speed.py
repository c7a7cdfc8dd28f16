# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Variable-speed inference of a DynamicCascadeDetector: from a target
latency (or hard ratio) to a routing threshold (DynamicDet; see
docs/dynamicdet.md).

With lat1 the latency of the easy route (B1 + router + D1), lat2 that of
the hard route (B1 + router + B2 + D2) and lat_t a target::

    k   = clip((lat_t - lat1) / (lat2 - lat1), 0, 1)   largest hard share
    tau = the (1 - k) quantile of the validation scores phi

Images with ``phi > tau`` are hard; the quantile and the comparison are
taken on the router logits, so saturated scores (phi = 1.0 in float) do not
tie. The quantile is taken so that at most
``floor(k * n)`` of the ``n`` validation scores exceed it (numpy's
``inverted_cdf`` quantile): the budget is never exceeded on the validation
set. ``k = 1`` gives ``tau = 0`` (every image hard), ``k = 0`` the largest
score (every image easy).
"""
import copy
import math
import os.path as osp
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config
from mmengine.utils import ProgressBar

from ..models.layers.adaptive_router import logit_of, sigmoid_of

DEFAULT_RATIOS = tuple(round(0.1 * i, 1) for i in range(11))


# ------------------------------------------------------------------ formulas
def hard_ratio_for_latency(target: float, lat1: float,
                           lat2: float) -> Tuple[float, Optional[str]]:
    """Largest hard share k whose expected latency fits ``target``.

    Args:
        target (float): Target latency (same unit as ``lat1``/``lat2``).
        lat1 (float): Latency of the easy route.
        lat2 (float): Latency of the hard route (the full cascade).

    Returns:
        tuple[float, str | None]: k in [0, 1], and a message when the target
        was outside [lat1, lat2] and k was clipped.

    Raises:
        ValueError: If ``lat2 <= lat1`` or a latency is not positive.
    """
    if lat1 <= 0 or lat2 <= 0:
        raise ValueError(f'latencies must be positive, got lat1={lat1}, '
                         f'lat2={lat2}')
    if lat2 <= lat1:
        raise ValueError(
            f'lat2 ({lat2:.3f}) must exceed lat1 ({lat1:.3f}): the full '
            'cascade has to be slower than detector 1 alone. Measure again '
            '(more --latency-images) or pass --lat1/--lat2.')
    k = (target - lat1) / (lat2 - lat1)
    if k < 0:
        return 0.0, (f'target latency {target:.3f} is below lat1 '
                     f'({lat1:.3f}, detector 1 alone): clipped to k = 0, '
                     'every image easy')
    if k > 1:
        return 1.0, (f'target latency {target:.3f} is above lat2 '
                     f'({lat2:.3f}, the full cascade): clipped to k = 1, '
                     'every image hard')
    return float(k), None


def num_hard(num_images: int, k: float) -> int:
    """``floor(k * n)`` (robust to float rounding such as 0.3 * 10)."""
    return min(num_images, int(math.floor(k * num_images + 1e-9)))


def threshold_for_hard_ratio(logits: Sequence[float], k: float) -> float:
    """Threshold tau such that at most ``floor(k * n)`` images are hard.

    The ranking uses the router *logits* (``collect_scores`` gives them):
    where the sigmoid saturates, different images get the same float phi,
    and a threshold on phi could not separate them; the logits stay apart.

    Args:
        logits (Sequence[float]): Router logits of the validation images.
        k (float): Allowed hard share in [0, 1].

    Returns:
        float: tau in [0, 1], float64 (images with ``phi > tau``, decided
        as ``logit > logit(tau)``, are hard).

    Raises:
        ValueError: If ``logits`` is empty, k is outside [0, 1], or the
            logit at the threshold is too large for a float64 phi.
    """
    if not 0.0 <= k <= 1.0:
        raise ValueError(f'hard ratio must be in [0, 1], got {k}')
    s = np.sort(np.asarray(logits, dtype=np.float64))
    if s.size == 0:
        raise ValueError('no difficulty scores: the validation set gave no '
                         'images')
    m = num_hard(s.size, k)
    if m == s.size:
        return 0.0
    edge = float(s[s.size - m - 1])  # the largest logit that stays easy
    tau = sigmoid_of(edge)
    # round up until logit(tau) >= edge: that image, and every tie with
    # it, stays easy under the model's strict `logit > logit(tau)`
    while 0.0 < tau < 1.0 and logit_of(tau) < edge:
        tau = float(np.nextafter(tau, 1.0))
    if m and not 0.0 < tau < 1.0:
        raise ValueError(
            f'the router logit at the threshold ({edge:.1f}) is beyond what '
            'a float64 phi resolves: the router is saturated; retrain its '
            'phase (see the README, router phase)')
    return float(tau)


def expected_latency(k: float, lat1: float, lat2: float) -> float:
    """``(1 - k) lat1 + k lat2``."""
    return (1.0 - k) * lat1 + k * lat2


def quantile_grid(scores: Sequence[float],
                  lat1: Optional[float] = None,
                  lat2: Optional[float] = None,
                  ratios: Sequence[float] = DEFAULT_RATIOS) -> List[Dict]:
    """Threshold, realised hard share on ``scores`` (router logits) and
    expected latency
    for each hard ratio (the grid the official code prints as
    percentiles)."""
    scores = np.asarray(scores, dtype=np.float64)
    rows = []
    for k in ratios:
        tau = threshold_for_hard_ratio(scores, k)
        row = dict(
            hard_ratio=float(k),
            threshold=tau,
            realised_hard_ratio=float((scores > logit_of(tau)).mean()))
        if lat1 is not None and lat2 is not None:
            row['expected_latency'] = expected_latency(
                row['realised_hard_ratio'], lat1, lat2)
        rows.append(row)
    return rows


# -------------------------------------------------------------- model, data
def add_model_arguments(parser) -> None:
    """The arguments the variable-speed tools share: ``config``,
    ``checkpoint``, ``--split``, ``--cfg-options``, ``--allow-partial``
    and ``--device``."""
    from mmengine.config import DictAction
    parser.add_argument('config', help='DynamicCascadeDetector config')
    parser.add_argument('checkpoint', help='trained checkpoint')
    parser.add_argument(
        '--split',
        default='val',
        choices=['val', 'test'],
        help='dataloader (and evaluator) whose images are used (default '
        'val)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, as in tools/train.py')
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='load a checkpoint that does not fit the config (only the '
        'tensors that fit); without it a mismatch stops the tool')
    parser.add_argument(
        '--device',
        default=None,
        help='device the model runs and is timed on (default: cuda if '
        'available, else cpu); recorded in the outputs')


def load_cascade(config: str,
                 checkpoint: Optional[str],
                 cfg_options: Optional[Dict] = None,
                 what: str = 'this tool',
                 device: str = 'cpu',
                 allow_partial: bool = False):
    """A DynamicCascadeDetector built from ``config`` in eval mode on
    ``device``, with ``checkpoint`` loaded strictly
    (:func:`~mmdet_dynamic.utils.build_model_from_config`).

    Raises:
        TypeError: If the config's model is not a DynamicCascadeDetector.
        CheckpointMismatchError: If the checkpoint does not fit the config
            and ``allow_partial`` is False.
    """
    import mmdet_dynamic  # noqa: F401
    from mmdet_dynamic.utils import build_model_from_config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    model_type = str(cfg.model.get('type', '')).split('.')[-1]
    if model_type != 'DynamicCascadeDetector':
        raise TypeError(
            f'{what} needs a DynamicCascadeDetector config; {config} builds '
            f'a {model_type!r}. Use a config from configs/dynamicdet.')
    return build_model_from_config(cfg, checkpoint, device=device,
                                   allow_partial=allow_partial)


def build_eval_loader(cfg: Config, split: str = 'val'):
    """Batch-1 dataloader of ``{split}_dataloader`` (in order).

    Raises:
        KeyError: If the config has no such dataloader.
        ValueError: If its dataset has no images.
    """
    from mmengine.runner import Runner
    key = f'{split}_dataloader'
    if not cfg.get(key):
        raise KeyError(f'the config has no {key}; choose --split val or '
                       'test')
    loader_cfg = copy.deepcopy(cfg[key])
    loader_cfg.update(batch_size=1, persistent_workers=False)
    loader_cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
    loader_cfg.pop('batch_sampler', None)
    ds = cfg[key].dataset
    empty = ValueError(
        f'{key}.dataset has no images (ann_file '
        f'{osp.join(ds.get("data_root", ""), ds.get("ann_file", ""))}); '
        'point it at a split with images')
    try:
        loader = Runner.build_dataloader(loader_cfg)
    except ValueError as e:
        # mmengine serialises the image list with np.concatenate
        if 'need at least one array' in str(e):
            raise empty from e
        raise
    if len(loader.dataset) == 0:
        raise empty
    return loader


def _bar(total: int, show: bool):
    return ProgressBar(total) if show else None


@torch.no_grad()
def collect_scores(model, loader, progress: bool = True) -> np.ndarray:
    """Router logits (n, ), float64, of every image the loader gives (phi
    is their sigmoid; thresholds are taken on the logits)."""
    scores = []
    bar = _bar(len(loader.dataset), progress)
    for data in loader:
        data = model.data_preprocessor(data, False)
        logits = model.difficulty_logits(data['inputs'],
                                         data['data_samples'])
        scores.extend(logits.tolist())
        if bar is not None:
            bar.update(len(logits))
    if bar is not None:
        print()
    return np.asarray(scores, dtype=np.float64)


def resolve_device(device: Optional[str] = None) -> str:
    """The device a tool runs on: ``device`` checked, or (None) ``'cuda'``
    when CUDA is available, else ``'cpu'``.

    Raises:
        ValueError: If ``device`` is not a device name torch knows, or is
            not available on this machine (the message says which).
    """
    if device is None:
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f'--device {device!r} is not a device name ({e}); '
                         'use cpu, cuda or cuda:N') from None
    if dev.type == 'cuda':
        if not torch.cuda.is_available():
            raise ValueError(f'--device {device}: CUDA is not available on '
                             'this machine; use --device cpu')
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f'--device {device}: this machine has '
                f'{torch.cuda.device_count()} CUDA device(s)')
    elif dev.type != 'cpu':
        available = getattr(torch, 'accelerator', None)
        current = available.current_accelerator() if available and \
            available.is_available() else None
        if current is None or current.type != dev.type:
            raise ValueError(f'--device {device}: no {dev.type} device on '
                             'this machine; use --device cpu')
    return str(dev)


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (CUDA or any other
    accelerator) to finish; nothing to wait for on the CPU. Called before
    every clock read, so that GPU latencies measure the kernels, not their
    launch."""
    device = torch.device(device)
    if device.type == 'cpu':
        return
    accelerator = getattr(torch, 'accelerator', None)  # torch >= 2.6
    if accelerator is not None:
        accelerator.synchronize(device)
    else:  # torch.cuda, torch.xpu, torch.mps
        getattr(torch, device.type).synchronize(device)


@torch.no_grad()
def timed_route(model, data: Dict, route: str) -> Tuple[list, float]:
    """Run ``model.test_step`` on one batch with every image sent
    ``route`` ('easy' or 'hard'); returns the samples and the seconds (the
    device synchronised before each clock read)."""
    previous = model.test_cfg['threshold']
    model.set_threshold(1.0 if route == 'easy' else 0.0)
    device = next(model.parameters()).device
    try:
        synchronize(device)
        start = time.perf_counter()
        out = model.test_step(data)
        synchronize(device)
        seconds = time.perf_counter() - start
    finally:
        model.set_threshold(previous)
    return out, seconds


def measure_route_latencies(model,
                            loader,
                            num_images: int = 20,
                            warmup: int = 2,
                            progress: bool = True) -> Tuple[float, float]:
    """Median per-image latency (ms, batch 1) of the easy route (lat1) and
    of the hard route (lat2) over the first ``num_images`` images, after
    ``warmup`` untimed images."""
    times: Dict[str, List[float]] = dict(easy=[], hard=[])
    total = min(len(loader.dataset), warmup + num_images)
    bar = _bar(total, progress)
    for i, data in enumerate(loader):
        if i >= total:
            break
        for route in ('easy', 'hard'):
            _, seconds = timed_route(model, data, route)
            if i >= warmup or total <= warmup:
                times[route].append(seconds * 1000)
        if bar is not None:
            bar.update()
    if bar is not None:
        print()
    return float(np.median(times['easy'])), float(np.median(times['hard']))
