# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""A seeded split of a training set into a part the detectors fit and a
held-out part the router learns from."""
import copy
from typing import List, Union

import numpy as np
from torch.utils.data import Dataset

from mmdet_dynamic.registry import DATASETS

PARTS = ('fit', 'holdout')


@DATASETS.register_module()
class HoldoutSplit(Dataset):
    """One part of a seeded split of ``dataset``: ``'fit'`` (the images the
    detectors train on) or ``'holdout'`` (the rest).

    The router of a DynamicCascadeDetector learns which images detector 2
    improves. Measured on images the detectors trained on, that gain says
    more about what they memorised than about new images; measured on a
    held-out part, it is what routing meets at test time. With
    ``RouterTrainingHook(router_data='holdout')`` the joint phase trains on
    the ``'fit'`` part and the router phase (Delta included) on the
    ``'holdout'`` part of the same split::

        train_dataloader = dict(dataset=dict(
            type='HoldoutSplit', holdout=0.25, part='fit',
            dataset=dict(type='CocoDataset', ...)))

    The split is a seeded permutation of the wrapped dataset's indices:
    ``round(holdout * n)`` images are held out; both parts are sorted.

    Args:
        dataset (dict | Dataset): The training set (built if a config).
        holdout (float): Share of the images held out, in (0, 1).
        part (str): ``'fit'`` or ``'holdout'``.
        seed (int): Seed of the split.
    """

    def __init__(self,
                 dataset: Union[dict, Dataset],
                 holdout: float,
                 part: str = 'fit',
                 seed: int = 0) -> None:
        if not 0.0 < holdout < 1.0:
            raise ValueError(f'HoldoutSplit: holdout must be in (0, 1), got '
                             f'{holdout}')
        if part not in PARTS:
            raise ValueError(f'HoldoutSplit: part must be one of {PARTS}, '
                             f'got {part!r}')
        self._cfg = copy.deepcopy(dataset) if isinstance(dataset, dict) \
            else None
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) \
            else dataset
        self.holdout, self.part, self.seed = float(holdout), part, int(seed)
        num = len(self.dataset)
        held = int(round(self.holdout * num))
        if held < 1 or held >= num:
            raise ValueError(
                f'HoldoutSplit: holdout={holdout} of {num} images leaves '
                f'{held} held out and {num - held} to fit; both need one')
        order = np.random.default_rng(self.seed).permutation(num)
        parts = dict(holdout=np.sort(order[:held]), fit=np.sort(order[held:]))
        self.indices: List[int] = parts[part].tolist()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def other_part(self) -> 'HoldoutSplit':
        """The other part of the same split (the same wrapped dataset)."""
        other = 'holdout' if self.part == 'fit' else 'fit'
        return HoldoutSplit(self.dataset, self.holdout, other, self.seed)

    def get_data_info(self, idx: int) -> dict:
        return self.dataset.get_data_info(self.indices[idx])

    def __getitem__(self, idx: int):
        return self.dataset[self.indices[idx]]

    def __len__(self) -> int:
        return len(self.indices)
