# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""RSAFPN: RSAM attention, extra convs, the paper's channel plan, bad
arguments (the contract shared with BiFPN: test_neck_contract.py)."""
import pytest
import torch

from mmdet_dynamic.models.layers import RSAM
from mmdet_dynamic.models.necks import RSAFPN


def _feats(channels, sizes, batch=2):
    return [torch.rand(batch, c, s, s) for c, s in zip(channels, sizes)]


@pytest.mark.parametrize('extra_convs', [False, True])
def test_extra_levels_by_pooling_or_convs(extra_convs):
    neck = RSAFPN([64, 128, 256], 48, 5, 0, extra_convs)
    outs = neck(_feats([64, 128, 256], [52, 26, 13]))
    assert [tuple(o.shape) for o in outs] == [
        (2, 48, s, s) for s in (52, 26, 13, 7, 4)]
    # two levels past the input: stride-2 convs, or max-pools (no weights)
    assert len(neck.extra_convs) == (2 if extra_convs else 0)


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
