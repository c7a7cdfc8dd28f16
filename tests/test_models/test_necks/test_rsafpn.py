# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""RSAFPN: output contract, RSAM attention, bad input."""
import pytest
import torch

from mmdet_dynamic.models.layers import RSAM
from mmdet_dynamic.models.necks import RSAFPN


def _feats(channels, sizes, batch=2):
    return [torch.rand(batch, c, s, s) for c, s in zip(channels, sizes)]


@pytest.mark.parametrize(
    'in_channels,sizes,num_outs,start_level,extra_convs', [
        ([64, 128, 256], [52, 26, 13], 3, 0, False),
        ([64, 128, 256], [52, 26, 13], 5, 0, False),
        ([64, 128, 256], [52, 26, 13], 5, 0, True),
        ([256, 512, 1024, 2048], [40, 20, 10, 5], 5, 1, False),
    ])
def test_output_shapes(in_channels, sizes, num_outs, start_level,
                       extra_convs):
    neck = RSAFPN(in_channels, 48, num_outs, start_level, extra_convs)
    outs = neck(_feats(in_channels, sizes))
    expected = list(sizes[start_level:])
    while len(expected) < num_outs:
        expected.append((expected[-1] + 1) // 2)
    assert [tuple(o.shape) for o in outs] == [(2, 48, s, s) for s in expected]


def test_rsam_attention_comes_from_high_level():
    rsam = RSAM(32, 16, 24).eval()
    high, low = torch.rand(1, 32, 4, 4), torch.rand(1, 16, 8, 8)
    out = rsam(high, low)
    assert out.shape == (1, 24, 8, 8)
    # zero attention logits -> sigmoid 0.5: output = 0.5 * context + residual
    with torch.no_grad():
        rsam.attention.weight.zero_()
        rsam.attention.bias.zero_()
        r = rsam.reduce(
            torch.cat([
                torch.nn.functional.interpolate(
                    rsam.high_reduce(high), size=(8, 8)), low
            ], 1))
        torch.testing.assert_close(rsam(high, low),
                                   0.5 * rsam.context(r) + r)


def test_gradients_reach_every_parameter():
    neck = RSAFPN([16, 32, 64], 16, 4, add_extra_convs=True)
    sum(o.mean() for o in neck(_feats([16, 32, 64], [16, 8, 4]))).backward()
    assert all(p.grad is not None for p in neck.parameters())


def test_mismatched_in_channels_names_both_lists():
    neck = RSAFPN([64, 128, 256], 48, 3)
    with pytest.raises(ValueError) as err:
        neck(_feats([64, 128, 512], [16, 8, 4]))
    assert '[64, 128, 256]' in str(err.value)
    assert '[64, 128, 512]' in str(err.value)


def test_bad_arguments():
    with pytest.raises(ValueError, match='num_outs'):
        RSAFPN([64, 128, 256], 48, 2)
    with pytest.raises(ValueError, match='start_level'):
        RSAFPN([64, 128, 256], 48, 3, start_level=3)


def test_paper_channel_plan_halves_a_doubled_high_level():
    """channel_plan='paper': each RSAM takes a high-level map with twice
    the low level's channels and halves it; the levels keep the
    backbone's widths. Widths that do not double are refused."""
    neck = RSAFPN([64, 128, 256], None, num_outs=4,
                  channel_plan='paper').eval()
    assert neck.out_channels == [64, 128, 256, 256]
    for rsam, low in zip(neck.rsams, (64, 128)):
        assert rsam.high_reduce.conv.in_channels == 2 * low
        assert rsam.high_reduce.conv.out_channels == low
    feats = [torch.rand(1, c, s, s)
             for c, s in zip([64, 128, 256], [32, 16, 8])]
    with torch.no_grad():
        outs = neck(feats)
    assert [tuple(o.shape[1:]) for o in outs] == [
        (64, 32, 32), (128, 16, 16), (256, 8, 8), (256, 4, 4)]
    with pytest.raises(ValueError, match='twice the channels.*192, 256'):
        RSAFPN([192, 256, 352], None, 3, channel_plan='paper')
    with pytest.raises(ValueError, match='needs out_channels'):
        RSAFPN([64, 128, 256], None, 3)
