# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The trade-off report's oracle router and paired bootstrap, on hand-made
cases whose answers are known."""
import numpy as np
import pytest

from mmdet_dynamic.apis.dynamic_tradeoff import (oracle_order,
                                                 paired_bootstrap, reading)


def test_oracle_sends_hard_the_images_detector_2_helps_most():
    ap_easy = np.array([0.5, 0.2, 0.9, 0.1, 0.3])
    ap_hard = np.array([0.6, 0.8, 0.7, 0.1, 0.6])
    # gains 0.1, 0.6, -0.2, 0.0, 0.3: hardest first, ties in input order
    assert oracle_order(ap_easy, ap_hard).tolist() == [1, 4, 0, 3, 2]
    assert oracle_order([0.5, 0.5], [0.5, 0.5]).tolist() == [0, 1]


def test_paired_bootstrap_known_cases():
    # no spread: the interval is the mean itself
    assert paired_bootstrap([0.1] * 30) == pytest.approx((0.1, 0.1, 0.1))
    # 100 images, half gain 1, half 0: mean 0.5, standard error 0.05, so
    # the 95 % interval is about 0.5 +- 1.96 * 0.05
    mean, lo, hi = paired_bootstrap([0.0, 1.0] * 50, seed=3)
    assert mean == 0.5
    assert lo == pytest.approx(0.402, abs=0.015)
    assert hi == pytest.approx(0.598, abs=0.015)
    # seeded: the same seed, the same interval
    assert paired_bootstrap([0.0, 1.0] * 50, seed=3) == (mean, lo, hi)
    # symmetric differences: a tie, the interval holds 0
    _, lo, hi = paired_bootstrap([-1.0, 1.0] * 20)
    assert lo < 0 < hi
    with pytest.raises(ValueError, match='no images'):
        paired_bootstrap([])


def test_reading_says_tie_or_win():
    base = dict(hard_ratio=0.5, router_minus_random=0.01,
                oracle_gain_share=0.25)
    assert 'tie' in reading([dict(base, ci_low=-0.01, ci_high=0.03)])
    assert 'router beats' in reading([dict(base, ci_low=0.002,
                                           ci_high=0.03)])
    assert 'random split beats' in reading(
        [dict(base, router_minus_random=-0.02, ci_low=-0.03,
              ci_high=-0.01)])
