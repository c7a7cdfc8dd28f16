# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""BiFPN: presets, fusion weights, SAME pooling, bad arguments (the
contract shared with RSAFPN: test_neck_contract.py)."""
import pytest
import torch

from mmdet_dynamic.models.necks import BiFPN


def _feats(channels, sizes, batch=2):
    return [torch.rand(batch, c, s, s) for c, s in zip(channels, sizes)]


@pytest.mark.parametrize('arch,width,repeats', [('D0', 64, 3), ('D1', 88, 4),
                                                ('D4', 224, 7),
                                                ('D7', 384, 8)])
def test_presets(arch, width, repeats):
    neck = BiFPN([40, 112, 320], arch=arch)
    assert (neck.out_channels, neck.num_repeats) == (width, repeats)
    assert len(neck.layers) == repeats


@pytest.mark.parametrize('fusion', ['fast', 'softmax'])
def test_fusion_weights_normalised_and_trained(fusion):
    neck = BiFPN([16, 32, 64], 16, 5, num_repeats=2, fusion=fusion)
    with torch.no_grad():  # random non-negative weights
        for m in neck.modules():
            if hasattr(m, 'normalized_weights'):
                m.weight.uniform_(0.1, 3.0)
    outs = neck(_feats([16, 32, 64], [16, 8, 4]))
    sum(o.mean() for o in outs).backward()
    fusions = [m for m in neck.modules() if hasattr(m, 'normalized_weights')]
    assert len(fusions) == 2 * (4 + 4)  # per layer: 4 top-down, 4 bottom-up
    for m in fusions:
        w = m.normalized_weights().detach()
        assert torch.all(w >= 0)
        assert abs(w.sum().item() - 1.0) < 1e-3  # 1 up to eps / sum
        assert m.weight.grad is not None and m.weight.grad.abs().sum() > 0


def test_sum_fusion_has_no_weights():
    neck = BiFPN([16, 32, 64], 16, 3, num_repeats=1, fusion='sum')
    assert not any('fuse.weight' in n for n, _ in neck.named_parameters())
    assert len(neck(_feats([16, 32, 64], [8, 4, 2]))) == 3


def test_bad_arguments_list_valid_values():
    with pytest.raises(ValueError, match="'D0'"):
        BiFPN([16, 32], arch='D9')
    with pytest.raises(ValueError, match='fast'):
        BiFPN([16, 32], 16, 3, num_repeats=1, fusion='max')
    with pytest.raises(ValueError, match='num_outs'):
        BiFPN([16, 32, 64], 16, 2, num_repeats=1)


@pytest.mark.parametrize('backbone', [
    dict(type='EELAN', arch='tiny', widen_factor=0.5),
    dict(type='LCNet'),
    dict(type='ShuffleNetV2Supernet', search_space='small'),
    dict(type='ResNet', depth=18, out_indices=(1, 2, 3)),
])
def test_works_on_every_backbone(backbone):
    from mmdet_dynamic.registry import MODELS
    backbone = MODELS.build(backbone)
    backbone.eval()  # mmdet's ResNet.train() returns None
    channels = backbone.out_channels if hasattr(
        backbone, 'layer_channels') else [128, 256, 512]
    neck = BiFPN(channels[-3:], 32, 5, num_repeats=1).eval()
    with torch.no_grad():
        feats = backbone(torch.rand(1, 3, 128, 128))[-3:]
        outs = neck(feats)
    assert [tuple(o.shape[-2:]) for o in outs] == [
        (16, 16), (8, 8), (4, 4), (2, 2), (1, 1)]


def test_same_pooling_alignment_on_a_hand_made_map():
    """TF-SAME 3x3/s2 windows start at rows/cols 0, 2 (zero padding at the
    bottom/right of an even map); torch's padding=1 windows one pixel
    earlier."""
    from mmdet_dynamic.models.layers.bifpn_layer import max_pool_3x3_s2
    x = torch.arange(16.).reshape(1, 1, 4, 4)
    same = max_pool_3x3_s2(x, 'same')[0, 0]
    torch_ = max_pool_3x3_s2(x, 'torch')[0, 0]
    # SAME: window (0, 0) covers rows/cols 0-2 -> x[2, 2] = 10; window
    # (0, 1) covers cols 2-3 (+ pad) -> x[2, 3] = 11; ...
    assert same.tolist() == [[10., 11.], [14., 15.]]
    assert torch_.tolist() == [[5., 7.], [13., 15.]]
    # odd size: one pixel of padding on each side, ceil(5 / 2) = 3 outputs
    y = torch.arange(25.).reshape(1, 1, 5, 5)
    assert max_pool_3x3_s2(y, 'same').shape[-2:] == (3, 3)
    assert max_pool_3x3_s2(y, 'same')[0, 0, 0, 0] == 6.  # rows/cols -1..1
    with pytest.raises(ValueError, match='pool must be one of'):
        max_pool_3x3_s2(x, 'avg')


def test_d6_d7_default_to_sum_fusion_and_same_pooling():
    from mmdet_dynamic.models.necks import BiFPN
    d0 = BiFPN([40, 112, 320], arch='D0')
    d6 = BiFPN([40, 112, 320], arch='D6', num_repeats=1)
    assert d0.fusion == 'fast' and d6.fusion == 'sum'
    assert d0.pool == d6.pool == 'same'
    assert all(layer.pool == 'same' for layer in d0.layers)
    assert BiFPN([40, 112, 320], arch='D7', fusion='fast',
                 num_repeats=1).fusion == 'fast'
