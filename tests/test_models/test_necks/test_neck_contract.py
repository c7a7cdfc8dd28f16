# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""What every neck of this package promises a detector config, checked once
for BiFPN and RSAFPN: one map per output level at the expected strides,
gradients to every parameter, and in_channels that do not fit the maps it
receives named, both lists."""
import pytest
import torch

from mmdet_dynamic.models.necks import BiFPN, RSAFPN

NECKS = {  # (in_channels, num_outs, start_level) -> neck, 32 channels out
    'BiFPN':
    lambda cin, nout, start: BiFPN(cin, 32, nout, start, num_repeats=2),
    'RSAFPN':
    lambda cin, nout, start: RSAFPN(cin, 32, nout, start, True),
}


def _feats(channels, sizes, batch=2):
    return [torch.rand(batch, c, s, s) for c, s in zip(channels, sizes)]


@pytest.mark.parametrize('neck', list(NECKS))
@pytest.mark.parametrize('in_channels,sizes,num_outs,start_level', [
    ([40, 112, 320], [32, 16, 8], 5, 0),         # EfficientNet-like P3-P5
    ([256, 512, 1024, 2048], [40, 20, 10, 5], 5, 1),  # ResNet-50, from C3
    ([64, 128, 256, 512], [33, 17, 9, 5], 4, 0),  # odd sizes, no extras
    ([64, 128, 256], [52, 26, 13], 3, 0),         # RSANet at 416 px
])
def test_output_shapes(neck, in_channels, sizes, num_outs, start_level):
    outs = NECKS[neck](in_channels, num_outs, start_level)(
        _feats(in_channels, sizes))
    expected = list(sizes[start_level:])
    while len(expected) < num_outs:
        expected.append((expected[-1] + 1) // 2)
    assert [tuple(o.shape) for o in outs] == [(2, 32, s, s) for s in expected]


@pytest.mark.parametrize('neck', list(NECKS))
def test_gradients_reach_every_parameter(neck):
    model = NECKS[neck]([16, 32, 64], 4, 0)
    sum(o.mean() for o in model(_feats([16, 32, 64], [16, 8, 4]))).backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize('neck', list(NECKS))
def test_mismatched_in_channels_names_both_lists(neck):
    model = NECKS[neck]([64, 128, 256], 3, 0)
    with pytest.raises(ValueError) as err:
        model(_feats([64, 128, 512], [16, 8, 4]))
    assert '[64, 128, 256]' in str(err.value)
    assert '[64, 128, 512]' in str(err.value)
