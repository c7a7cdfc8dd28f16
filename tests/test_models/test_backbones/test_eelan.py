# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""EELAN: every arch's outputs, compound scaling, freezing, bad input."""
import pytest
import torch

from mmdet_dynamic.models.backbones import EELAN
from mmdet_dynamic.models.layers import switch_to_deploy

# arch -> (out channels, strides) of the default outputs
EXPECTED = {
    'tiny': ([128, 256, 512], [8, 16, 32]),
    'L': ([512, 1024, 1024], [8, 16, 32]),
    'X': ([640, 1280, 1280], [8, 16, 32]),
    'W6': ([256, 512, 768, 1024], [8, 16, 32, 64]),
    'E6': ([320, 640, 960, 1280], [8, 16, 32, 64]),
    'D6': ([384, 768, 1152, 1536], [8, 16, 32, 64]),
    'E6E': ([320, 640, 960, 1280], [8, 16, 32, 64]),
}


@pytest.mark.parametrize('arch', list(EXPECTED))
def test_arch_outputs(arch):
    channels, strides = EXPECTED[arch]
    # widen 0.25 keeps the big archs light; strides do not depend on it
    model = EELAN(arch=arch, widen_factor=0.25).eval()
    size = 128
    with torch.no_grad():
        outs = model(torch.rand(1, 3, size, size))
    assert model.out_strides == strides
    assert model.out_channels == [max(8, c // 4) for c in channels]
    assert [tuple(o.shape) for o in outs] == [
        (1, c, size // s, size // s)
        for c, s in zip(model.out_channels, strides)
    ]
    full = EELAN(arch=arch)
    assert full.out_channels == channels


def test_e6e_is_two_branch_e6():
    e6, e6e = EELAN('E6'), EELAN('E6E')
    assert len(e6.stage1[1].branches) == 1
    assert len(e6e.stage1[1].branches) == 2
    n_e6 = sum(p.numel() for p in e6.parameters())
    n_e6e = sum(p.numel() for p in e6e.parameters())
    assert n_e6e > 1.5 * n_e6


def test_compound_scaling_l_to_x():
    """Deepening L by 1.5 (4 -> 6 convs, 4 -> 5 concat parts) scales the
    transition widths by 5/4 with the chain width fixed: that is X."""
    scaled, x = EELAN('L', deepen_factor=1.5), EELAN('X')
    assert scaled.layer_channels == x.layer_channels
    assert [type(m).__name__ for m in scaled.modules()] == \
        [type(m).__name__ for m in x.modules()]
    assert sum(p.numel() for p in scaled.parameters()) == \
        sum(p.numel() for p in x.parameters())
    assert len(scaled.stage2[1].branches[0]['chain']) == 6


def test_out_indices_and_frozen_stages():
    model = EELAN('tiny', out_indices=(0, 1, 2, 3, 4), frozen_stages=2)
    assert model.out_strides == [4, 4, 8, 16, 32]
    model.train()
    for name in ('stem', 'stage1', 'stage2'):
        layer = getattr(model, name)
        assert not any(p.requires_grad for p in layer.parameters())
        assert not any(m.training for m in layer.modules())
    assert all(p.requires_grad for p in model.stage3.parameters())
    outs = model(torch.rand(1, 3, 64, 64))
    sum(o.mean() for o in outs).backward()
    assert all(p.grad is None for p in model.stage1.parameters())
    assert all(p.grad is not None for p in model.stage4.parameters())


def test_norm_eval():
    model = EELAN('tiny', norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and not any(m.training for m in bns)


def test_repconv_chain_fuses_to_same_output():
    model = EELAN('tiny', use_repconv=True, widen_factor=0.5).eval()
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        assert switch_to_deploy(model) == 8  # 4 stages x 2 chain convs
        for a, b in zip(model(x), expected):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_bad_arguments_list_valid_values():
    with pytest.raises(ValueError, match=r"'tiny'.*'E6E'"):
        EELAN(arch='M')
    with pytest.raises(ValueError, match=r'valid indices are \[0, 1, 2, 3, 4'):
        EELAN(arch='L', out_indices=(2, 3, 5))
    with pytest.raises(ValueError, match=r'valid values include \[0\.5, 1\.0'):
        EELAN(arch='L', deepen_factor=1.2)
    with pytest.raises(ValueError, match='widen_factor'):
        EELAN(arch='L', widen_factor=0)
    with pytest.raises(ValueError, match='frozen_stages'):
        EELAN(arch='L', frozen_stages=7)
