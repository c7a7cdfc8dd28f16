# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""DetNAS evolutionary search over a trained ShuffleNetV2 supernet detector
(docs/detnas.md), without mmrazor.

- :func:`block_cost_table`: FLOPs (mmengine's counter) or params of every
  choice at every block, measured once; a candidate's cost is the fixed
  part (stem) plus its blocks' costs, exact because blocks are independent.
- :class:`DetectionScorer`: sets the path, recalibrates every BN layer on
  training images (train-mode BN, no grad, cumulative statistics) and
  returns bbox mAP from mmdet's ``CocoMetric`` on a held-out split of the
  training set.
- :class:`EvolutionSearch`: population / top-k / mutation / crossover /
  random fill, candidates scored once, state saved after every generation
  (``resume`` continues where it stopped).
"""
import copy
import json
import os.path as osp
import random
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.utils import ProgressBar

from ..models.backbones.shufflenetv2_supernet import (CHOICES,
                                                      ShuffleNetV2Supernet)
from ..utils.atomic_write import write_atomically

Arch = Tuple[int, ...]


def arch_str(arch: Sequence[int]) -> str:
    """``'2,1,0,...'``, the form ``ShuffleNetV2Supernet(arch=...)`` takes."""
    return ','.join(str(int(c)) for c in arch)


# --------------------------------------------------------------------- cost
FLOPS_COUNTERS = ('conv', 'mmengine')


def conv_macs_by_module(net: torch.nn.Module, x: torch.Tensor) -> Dict:
    """Multiply-adds of every ``nn.Conv2d`` in one forward of ``net`` on
    ``x`` (``H_out W_out C_out C_in / groups k_h k_w``, bias not counted),
    keyed by module name: the counter of the official DetNAS search."""
    names = {id(m): n for n, m in net.named_modules()}
    macs: Dict[str, float] = {}

    def hook(module, args, output):
        kh, kw = module.kernel_size
        macs[names[id(module)]] = float(
            output.shape[-2] * output.shape[-1] * module.out_channels *
            module.in_channels // module.groups * kh * kw)

    handles = [
        m.register_forward_hook(hook) for m in net.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    return macs


def block_cost_table(search_space: str,
                     kind: str = 'flops',
                     input_size: int = 224,
                     counter: str = 'conv') -> Tuple[float, np.ndarray]:
    """Cost of the supernet backbone split into a fixed part and one entry
    per (block, choice).

    Args:
        search_space (str): ``'small'``, ``'large'`` or ``'3.8G'``.
        kind (str): ``'flops'`` (multiply-adds at ``input_size`` x
            ``input_size``) or ``'params'``.
        input_size (int): Input side in pixels, for FLOPs.
        counter (str): For FLOPs, ``'conv'``: the official DetNAS search's
            count, the multiply-adds of the Conv2d layers of the backbone
            body (stem and blocks, no classifier head), the default; or
            ``'mmengine'``: mmengine's FlopAnalyzer, which also counts BN
            and the other ops (the 300M architecture measures 288M on the
            first, 296.9M on the second).

    Returns:
        tuple[float, ndarray]: The fixed cost and a (num_blocks, 4) table,
        in millions.
    """
    if kind not in ('flops', 'params'):
        raise ValueError(f"constraint must be 'flops' or 'params', got "
                         f'{kind!r}')
    net = ShuffleNetV2Supernet(search_space, init_cfg=None).eval()
    num = net.num_blocks
    table = np.zeros((num, len(CHOICES)))
    if kind == 'params':
        total = sum(p.numel() for p in net.parameters())
        for b, block in enumerate(net.blocks):
            for c, name in enumerate(CHOICES):
                table[b, c] = sum(
                    p.numel() for p in block.choices[name].parameters())
        fixed = total - table.sum()
        return fixed / 1e6, table / 1e6
    if counter not in FLOPS_COUNTERS:
        raise ValueError(f'counter must be one of {FLOPS_COUNTERS}, got '
                         f'{counter!r}')
    x = torch.zeros(1, 3, input_size, input_size)
    if counter == 'conv':
        block_of = {id(block): b for b, block in enumerate(net.blocks)}
        prefixes = {
            name: block_of[id(m)]
            for name, m in net.named_modules() if id(m) in block_of
        }
        fixed = None
        for c in range(len(CHOICES)):
            net.set_path([c] * num)
            macs = conv_macs_by_module(net, x)
            in_blocks = 0.0
            for name, value in macs.items():
                owner = next((b for prefix, b in prefixes.items()
                              if name.startswith(prefix + '.')), None)
                if owner is not None:
                    table[owner, c] += value
                    in_blocks += value
            if fixed is None:
                fixed = sum(macs.values()) - in_blocks
        return fixed / 1e6, table / 1e6
    from mmengine.analysis import FlopAnalyzer
    names = {id(module): name for name, module in net.named_modules()}
    fixed = None
    for c in range(len(CHOICES)):
        net.set_path([c] * num)
        analyzer = FlopAnalyzer(net, (x, ))
        analyzer.unsupported_ops_warnings(False)
        analyzer.uncalled_modules_warnings(False)
        by_module = analyzer.by_module()
        for b, block in enumerate(net.blocks):
            table[b, c] = by_module[names[id(block)]]
        if fixed is None:
            fixed = analyzer.total() - table[:, 0].sum()
    return fixed / 1e6, table / 1e6


def arch_cost(arch: Sequence[int], fixed: float, table: np.ndarray) -> float:
    """Cost of ``arch`` from :func:`block_cost_table`."""
    return float(fixed + table[np.arange(len(arch)), list(arch)].sum())


# ------------------------------------------------------------------ scoring
def _subset_loader(dataset, indices, batch_size):
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader, Subset
    return DataLoader(
        Subset(dataset, list(indices)),
        batch_size=batch_size,
        shuffle=False,
        num_workers=0,
        collate_fn=pseudo_collate)


def split_train_set(cfg, val_ratio: float, recal_images: int,
                    seed: int = 0) -> Tuple[object, List[int], object,
                                            List[int]]:
    """Hold out a part of the training set for scoring.

    The images of ``train_dataloader.dataset`` are shuffled with ``seed``;
    the last ``val_ratio`` of them are held out (read with the val
    pipeline), the first ``recal_images`` of the rest recalibrate BN
    (training pipeline).

    Returns:
        tuple: (train dataset, recalibration indices, held-out dataset,
        held-out indices).
    """
    from mmdet_dynamic.registry import DATASETS
    if not 0 < val_ratio < 1:
        raise ValueError(f'val_ratio must be in (0, 1), got {val_ratio}')
    train_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    train_set = DATASETS.build(train_cfg)
    held_cfg = copy.deepcopy(train_cfg)
    held_cfg.update(
        pipeline=copy.deepcopy(cfg.val_dataloader.dataset.pipeline),
        test_mode=True)
    held_cfg.pop('filter_cfg', None)
    held_set = DATASETS.build(held_cfg)
    ids = sorted(held_set.get_data_info(i)['img_id']
                 for i in range(len(held_set)))
    random.Random(seed).shuffle(ids)
    num_held = max(1, int(round(len(ids) * val_ratio)))
    held_ids = set(ids[len(ids) - num_held:])
    if len(held_ids) == len(ids):
        raise ValueError('val_ratio leaves no image for BN recalibration')
    held_idx = [
        i for i in range(len(held_set))
        if held_set.get_data_info(i)['img_id'] in held_ids
    ]
    recal_idx = [
        i for i in range(len(train_set))
        if train_set.get_data_info(i)['img_id'] not in held_ids
    ][:recal_images]
    return train_set, recal_idx, held_set, held_idx


class DetectionScorer:
    """bbox mAP of a supernet detector on one path, after BN recalibration.

    Args:
        model: A detector whose backbone is a ``ShuffleNetV2Supernet``.
        recal_set / recal_idx: Training images for BN recalibration.
        held_set / held_idx: Held-out training images for scoring.
        batch_size (int): Batch size of both passes.
    """

    def __init__(self, model, recal_set, recal_idx, held_set, held_idx,
                 batch_size: int = 4) -> None:
        from mmdet_dynamic.registry import METRICS
        self.model = model
        self.recal = _subset_loader(recal_set, recal_idx, batch_size)
        self.held = _subset_loader(held_set, held_idx, batch_size)
        self.metric = METRICS.build(
            dict(type='CocoMetric', ann_file=held_set.ann_file,
                 metric='bbox'))
        self.metric.dataset_meta = held_set.metainfo

    @torch.no_grad()
    def recalibrate_bn(self) -> None:
        """Reset every BN layer and re-estimate its statistics (cumulative
        average) from the recalibration images."""
        model = self.model.eval()
        bns = [
            m for m in model.modules()
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
        ]
        momenta = [bn.momentum for bn in bns]
        for bn in bns:
            bn.reset_running_stats()
            bn.momentum = None
            bn.train()
        for data in self.recal:
            data = model.data_preprocessor(data, True)
            model.extract_feat(data['inputs'])
        for bn, momentum in zip(bns, momenta):
            bn.momentum = momentum
        model.eval()

    @torch.no_grad()
    def __call__(self, arch: Sequence[int]) -> float:
        from .coco_eval import coco_results, evaluate
        self.model.backbone.set_path(list(arch))
        self.recalibrate_bn()
        results = []
        for data in self.held:
            results += coco_results(self.metric, self.model.test_step(data))
        return evaluate(self.metric, results)['bbox_mAP']


# ------------------------------------------------------------------- search
class EvolutionSearch:
    """DetNAS's evolutionary search.

    Each generation scores its candidates (each architecture at most once
    over the whole search), keeps the ``topk`` best seen so far, and builds
    the next generation from ``mutations`` mutants of top-k members (each
    gene resampled with ``mutation_prob``), ``crossovers`` children of two
    top-k members (each gene from either parent) and random architectures
    up to ``population``. Every candidate satisfies ``cost <= max_cost``.

    Args:
        num_blocks (int): Genes per architecture.
        cost_fn (callable): Architecture -> cost.
        max_cost (float): The constraint.
        score_fn (callable): Architecture -> score (higher is better).
        population, topk, mutations, mutation_prob, crossovers,
        generations: The search's sizes (paper: 50, 10, 20, 0.1, 20, 20).
        seed (int): Random seed.
        state_file (str, optional): Where the state is saved after every
            generation and read by :meth:`run` with ``resume=True``.
        settings (dict, optional): What defines the search (budget,
            checkpoint, seed, ...), saved with the state; resuming with
            other settings is an error naming the differences.
        max_tries (int): Attempts to draw a valid new architecture before
            giving up on a mutation/crossover/random draw.
    """

    def __init__(self,
                 num_blocks: int,
                 cost_fn: Callable[[Arch], float],
                 max_cost: float,
                 score_fn: Callable[[Arch], float],
                 population: int = 50,
                 topk: int = 10,
                 mutations: int = 20,
                 mutation_prob: float = 0.1,
                 crossovers: int = 20,
                 generations: int = 20,
                 seed: int = 0,
                 state_file: Optional[str] = None,
                 settings: Optional[Dict] = None,
                 max_tries: int = 1000,
                 num_choices: int = len(CHOICES)) -> None:
        if topk > population:
            raise ValueError(f'topk ({topk}) must not exceed population '
                             f'({population})')
        self.num_blocks = num_blocks
        self.num_choices = num_choices
        self.cost_fn = cost_fn
        self.max_cost = max_cost
        self.score_fn = score_fn
        self.population = population
        self.topk = topk
        self.mutations = mutations
        self.mutation_prob = mutation_prob
        self.crossovers = crossovers
        self.generations = generations
        self.state_file = state_file
        self.settings = dict(settings or {}, max_cost=max_cost)
        self.max_tries = max_tries
        self.rng = random.Random(seed)
        self.generation = 0
        self.scored: Dict[str, Dict] = {}
        self.candidates: List[Arch] = []
        self.history: List[List[str]] = []

    # -------------------------------------------------------- candidates
    def _valid(self, arch: Arch, taken: set) -> bool:
        return arch_str(arch) not in taken and \
            self.cost_fn(arch) <= self.max_cost

    def _draw(self, make: Callable[[], Arch], taken: set) -> Optional[Arch]:
        for _ in range(self.max_tries):
            arch = make()
            if self._valid(arch, taken):
                return arch
        return None

    def _random(self) -> Arch:
        return tuple(
            self.rng.randrange(self.num_choices)
            for _ in range(self.num_blocks))

    def _mutant(self, parents: List[Arch]) -> Arch:
        parent = self.rng.choice(parents)
        return tuple(
            self.rng.randrange(self.num_choices)
            if self.rng.random() < self.mutation_prob else g for g in parent)

    def _child(self, parents: List[Arch]) -> Arch:
        a, b = self.rng.choice(parents), self.rng.choice(parents)
        return tuple(self.rng.choice(pair) for pair in zip(a, b))

    def next_candidates(self) -> List[Arch]:
        """The next generation (the first one is random)."""
        taken = set(self.scored)
        out: List[Arch] = []
        top = [tuple(int(g) for g in a.split(',')) for a in self.top()]
        plan = [] if not top else \
            [self._mutant] * self.mutations + [self._child] * self.crossovers
        for make in plan:
            if len(out) >= self.population:
                break
            arch = self._draw(lambda: make(top), taken)
            if arch is not None:
                out.append(arch)
                taken.add(arch_str(arch))
        while len(out) < self.population:
            arch = self._draw(self._random, taken)
            if arch is None:
                break  # the constrained space is exhausted
            out.append(arch)
            taken.add(arch_str(arch))
        return out

    def top(self) -> List[str]:
        """The ``topk`` best architectures scored so far."""
        ranked = sorted(self.scored,
                        key=lambda a: (-self.scored[a]['score'], a))
        return ranked[:self.topk]

    # ------------------------------------------------------------- state
    def state_dict(self) -> Dict:
        return dict(
            generation=self.generation,
            candidates=[arch_str(a) for a in self.candidates],
            scored=self.scored,
            history=self.history,
            rng=_rng_to_json(self.rng.getstate()),
            max_cost=self.max_cost,
            settings=self.settings)

    def load_state_dict(self, state: Dict) -> None:
        """Restore a saved search.

        Raises:
            ValueError: If it was saved with other settings (budget,
                checkpoint, seed, ...): the differing values are named.
        """
        saved = state.get('settings', dict(max_cost=state.get('max_cost')))
        changed = [
            f'{key}: saved {saved.get(key)!r}, now {value!r}'
            for key, value in self.settings.items()
            if saved.get(key) != value
        ]
        if changed:
            raise ValueError(
                f'cannot resume {self.state_file}: it was saved by a search '
                f'with other settings ({"; ".join(changed)}). Resume with '
                'the same arguments, or start a new search in another '
                '--out-dir (or without --resume).')
        self.generation = state['generation']
        self.candidates = [
            tuple(int(g) for g in a.split(',')) for a in state['candidates']
        ]
        self.scored = state['scored']
        self.history = state['history']
        self.rng.setstate(_rng_from_json(state['rng']))

    def save(self) -> None:
        if not self.state_file:
            return
        state = self.state_dict()

        def write(path: str) -> None:
            with open(path, 'w') as f:
                json.dump(state, f)

        write_atomically(self.state_file, write)

    # --------------------------------------------------------------- run
    def run(self, resume: bool = False, progress: bool = True,
            log: Callable[[str], None] = print) -> List[Dict]:
        """Search; returns the top-k as dicts (arch, score, cost)."""
        if resume and self.state_file and osp.isfile(self.state_file):
            with open(self.state_file) as f:
                self.load_state_dict(json.load(f))
            log(f'resumed at generation {self.generation} with '
                f'{len(self.scored)} architectures already scored')
        if not self.candidates and self.generation < self.generations:
            # a fresh search, or one resumed with more generations
            self.candidates = self.next_candidates()
            if not self.candidates and not self.scored:
                raise ValueError(
                    f'no architecture satisfies cost <= {self.max_cost}')
        while self.generation < self.generations:
            todo = [a for a in self.candidates
                    if arch_str(a) not in self.scored]
            log(f'generation {self.generation + 1}/{self.generations}: '
                f'{len(todo)} new candidates')
            bar = ProgressBar(len(todo)) if progress and todo else None
            for arch in todo:
                self.scored[arch_str(arch)] = dict(
                    score=float(self.score_fn(arch)),
                    cost=float(self.cost_fn(arch)),
                    generation=self.generation)
                if bar is not None:
                    bar.update()
            if bar is not None:
                print()
            top = self.top()
            self.history.append(top)
            best = top[0]
            log(f'generation {self.generation + 1}: best {best} score '
                f"{self.scored[best]['score']:.4f} cost "
                f"{self.scored[best]['cost']:.2f}")
            self.generation += 1
            self.candidates = self.next_candidates() \
                if self.generation < self.generations else []
            self.save()
        return [dict(arch=a, **self.scored[a]) for a in self.top()]


def _rng_to_json(state):
    version, internal, gauss = state
    return [version, list(internal), gauss]


def _rng_from_json(state):
    version, internal, gauss = state
    return version, tuple(internal), gauss
