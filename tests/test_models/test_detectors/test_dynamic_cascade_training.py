# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Dy-Faster R-CNN, Dy-Mask R-CNN and Dy-YOLO train a step in each phase
through mmengine's runner; the router phase changes the router only."""
import math

import pytest

from ...train_utils import train_steps

CONFIGS = {
    'faster': 'dynamicdet/dy-faster-rcnn_r18_fpn_40i_raccoon.py',
    'yolo': 'dynamicdet/dy-yolox_eelan-tiny_40i_raccoon.py',
    'mask': 'dynamicdet/dy-mask-rcnn_r18_fpn_40i_balloon.py',
}


@pytest.fixture(params=list(CONFIGS))
def case(request):
    name = request.param
    data = request.getfixturevalue(
        'balloon_coco' if name == 'mask' else 'raccoon_coco')
    return CONFIGS[name], data


def test_joint_phase_trains_both_detectors(case, tmp_path):
    config, data = case
    result = train_steps(config, data, str(tmp_path), scale=96)
    hub = result['runner'].message_hub
    for prefix in ('d1', 'd2'):
        keys = [k for k in hub.log_scalars if k.startswith(f'train/{prefix}.')
                and 'loss' in k]
        assert keys, f'no {prefix} losses logged'
    assert math.isfinite(hub.get_scalar('train/loss').current())
    changed = result['changed']
    assert any(n.startswith('detector1.backbone.') for n in changed)
    assert any(n.startswith('detector2.backbone.') for n in changed)
    assert not any(n.startswith('router.') for n in changed)


def test_router_phase_changes_only_the_router(case, tmp_path):
    config, data = case
    result = train_steps(
        config, data, str(tmp_path), scale=96,
        cfg_options={'model.phase': 'router'})
    runner = result['runner']
    loss = runner.message_hub.get_scalar('train/loss_router').current()
    assert math.isfinite(loss)
    # every parameter and buffer outside the router is bit-identical
    assert result['changed_state'] and all(
        k.startswith('router.') for k in result['changed_state'])
    diffs = runner.model.last_loss_diffs
    assert diffs is not None and diffs.shape == (2, )
