# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""LCNet: stage layout, CCM/DSM behaviour, freezing, bad input."""
import pytest
import torch

from mmdet_dynamic.models.backbones import LCNet
from mmdet_dynamic.models.layers import CCM, DSM


def test_default_outputs():
    model = LCNet().eval()
    assert model.out_channels == [192, 256, 352]
    assert model.out_strides == [8, 16, 32]
    with torch.no_grad():
        outs = model(torch.rand(1, 3, 416, 416))
    assert [tuple(o.shape) for o in outs] == [
        (1, 192, 52, 52), (1, 256, 26, 26), (1, 352, 13, 13)]


def test_stage_layout_matches_paper():
    model = LCNet()
    assert len(model.layers) == 5
    ccms = [sum(isinstance(m, CCM) for m in getattr(model, n).children())
            for n in model.layers]
    assert ccms == [1, 1, 2, 6, 3]
    assert all(isinstance(getattr(model, n)[0], DSM)
               for n in model.layers[1:])
    assert model.layer_strides == [2, 4, 8, 16, 32]


def test_ccm_keeps_channels_in_every_conv():
    ccm = CCM(24)
    convs = [m for m in ccm.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 4
    assert all(c.in_channels == c.out_channels == 24 for c in convs)
    assert [c.groups for c in convs] == [24, 1, 24, 1]
    x = torch.rand(2, 24, 9, 9)
    assert ccm(x).shape == x.shape


def test_dsm_halves_odd_sizes():
    assert DSM(8, 16)(torch.rand(1, 8, 13, 13)).shape == (1, 16, 7, 7)


def test_out_indices_and_frozen_stages():
    model = LCNet(out_indices=(0, 1, 2, 3, 4), frozen_stages=1).train()
    assert model.out_strides == [2, 4, 8, 16, 32]
    for name in ('stage1', 'stage2'):
        assert not any(p.requires_grad
                       for p in getattr(model, name).parameters())
        assert not any(m.training for m in getattr(model, name).modules())
    assert all(p.requires_grad for p in model.stage3.parameters())


def test_bad_arguments():
    with pytest.raises(ValueError, match=r'valid indices are \[0, 1, 2, 3, 4'):
        LCNet(out_indices=(5, ))
    with pytest.raises(ValueError, match='5 stages'):
        LCNet(channels=(32, 64, 128))
