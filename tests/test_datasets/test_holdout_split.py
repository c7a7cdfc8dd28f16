# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""HoldoutSplit: a seeded fit / held-out split of a training set."""
import pytest

from mmdet_dynamic.datasets import HoldoutSplit


class _Images:
    """A stand-in dataset of n items (its index)."""

    metainfo = dict(classes=('a', ))

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return i

    def get_data_info(self, i):
        return dict(img_id=i)


def test_parts_are_disjoint_cover_everything_and_are_seeded():
    data = _Images(10)
    fit = HoldoutSplit(data, holdout=0.3, part='fit', seed=1)
    held = fit.other_part()
    assert held.part == 'holdout' and len(held) == 3 and len(fit) == 7
    assert set(fit.indices).isdisjoint(held.indices)
    assert sorted(fit.indices + held.indices) == list(range(10))
    assert [fit[i] for i in range(len(fit))] == fit.indices
    assert fit.get_data_info(0) == dict(img_id=fit.indices[0])
    assert HoldoutSplit(data, 0.3, 'fit', seed=1).indices == fit.indices
    assert HoldoutSplit(data, 0.3, 'fit', seed=2).indices != fit.indices
    assert fit.metainfo == data.metainfo


@pytest.mark.parametrize('kwargs, match', [
    (dict(holdout=0.0), r'holdout must be in \(0, 1\)'),
    (dict(holdout=1.0), r'holdout must be in \(0, 1\)'),
    (dict(holdout=0.5, part='train'), 'part must be one of'),
    (dict(holdout=0.01), 'leaves 0 held out'),
])
def test_bad_splits_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HoldoutSplit(_Images(10), **kwargs)
