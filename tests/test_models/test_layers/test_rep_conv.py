# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""RepConv / RepConvN: the fused 3x3 conv equals the training form."""
import pytest
import torch

from mmdet_dynamic.models.layers import RepConv, RepConvN, switch_to_deploy
from ...conftest import randomise_bn


@pytest.mark.parametrize('cls,in_ch,out_ch,stride,groups,has_identity', [
    (RepConv, 16, 16, 1, 1, True),
    (RepConv, 16, 16, 1, 4, True),
    (RepConv, 16, 32, 1, 1, False),
    (RepConv, 16, 16, 2, 1, False),
    (RepConvN, 16, 16, 1, 1, False),
])
def test_fused_equals_unfused(cls, in_ch, out_ch, stride, groups,
                              has_identity):
    layer = cls(in_ch, out_ch, stride=stride, groups=groups)
    assert (layer.identity is not None) == has_identity
    randomise_bn(layer, affine=True)
    layer.eval()
    x = torch.randn(2, in_ch, 17, 17)
    with torch.no_grad():
        expected = layer(x)
        layer.switch_to_deploy()
        fused = layer(x)
    assert layer.deploy and not hasattr(layer, 'conv3x3')
    assert list(dict(layer.named_children())) == ['act', 'fused_conv']
    assert fused.shape == expected.shape
    torch.testing.assert_close(fused, expected, atol=1e-4, rtol=1e-4)


def test_model_level_switch_and_deploy_build():
    model = torch.nn.Sequential(RepConv(8, 8), RepConvN(8, 8))
    randomise_bn(model, affine=True)
    model.eval()
    x = torch.randn(1, 8, 9, 9)
    with torch.no_grad():
        expected = model(x)
        assert switch_to_deploy(model) == 2
        torch.testing.assert_close(model(x), expected, atol=1e-4, rtol=1e-4)
    assert switch_to_deploy(model) == 0  # idempotent
    # a model built with deploy=True loads the fused weights
    deployed = torch.nn.Sequential(
        RepConv(8, 8, deploy=True), RepConvN(8, 8, deploy=True)).eval()
    deployed.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(deployed(x), expected, atol=1e-4,
                                   rtol=1e-4)
