# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Dy-Faster R-CNN, Dy-Mask R-CNN, Dy-YOLO and Dy-RTMDet train a step in each
phase through mmengine's runner; the router phase changes the router
only."""
import math

import numpy as np
import pytest
import torch

from ...train_utils import train_steps

# trains through mmengine's runner: left out of make test-fast
pytestmark = pytest.mark.slow

CONFIGS = {
    'faster': 'dynamicdet/dy-faster-rcnn_r18_fpn_40i_raccoon.py',
    'yolo': 'dynamicdet/dy-yolox_eelan-tiny_40i_raccoon.py',
    'mask': 'dynamicdet/dy-mask-rcnn_r18_fpn_40i_balloon.py',
    'rtmdet': 'dynamicdet/dy-rtmdet_tiny_40i_raccoon.py',
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


def _router_fixture(n=160, seed=0):
    """Pooled features like a Dy-Faster R-CNN R-18's (960 non-negative
    values per image) and per-image losses whose difference L1 - L2 has a
    planted signal and a right-skewed noise (mean above median), as on the
    raccoon data."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 960, generator=g).abs() * 0.45
    signal = x @ (torch.randn(960, generator=g) / 960**0.5)
    noise = -torch.log(torch.rand(n, generator=g)) / 8  # exponential
    diff = 0.5 * (signal - signal.mean()) + noise - noise.median()
    l2 = torch.rand(n, generator=g) * 0.5 + 1.0
    return x, l2 + diff, l2


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_router_phase_at_the_demo_lr_keeps_phi_spread(seed):
    """Two epochs of the router phase (80 iterations, batch 4) with the
    paper's loss at the main job's AdamW lr 1e-4: phi does not saturate;
    its 10th-90th percentiles stay inside (0.05, 0.95), at least 0.03
    apart."""
    from mmdet_dynamic.models.detectors import router_loss
    from mmdet_dynamic.models.layers import AdaptiveRouter
    x, l1, l2 = _router_fixture()
    delta = (l1 - l2).median()
    torch.manual_seed(seed)
    router = AdaptiveRouter([64, 128, 256, 512])
    optimizer = torch.optim.AdamW(router.parameters(), lr=1e-4,
                                  weight_decay=5e-3)
    g = torch.Generator().manual_seed(seed)
    for epoch in range(2):
        for idx in torch.randperm(len(x), generator=g).split(4):
            logits = router.logits_of_pooled(x[idx])
            loss = router_loss(logits.sigmoid(), l1[idx], l2[idx], delta)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        phi = router.logits_of_pooled(x).sigmoid()
    p10, p90 = np.percentile(phi.numpy(), [10, 90])
    assert 0.05 < p10 and p90 < 0.95 and p90 - p10 > 0.03


def test_ap_gain_target_ranks_the_image_detector_2_gets_right(
        raccoon_coco, monkeypatch):
    """``router_target='ap_gain'``: L1 - L2 is detector 2's per-image AP
    minus detector 1's. With detector 1 exact on image 0 and wrong on image
    1, and detector 2 the other way round, the target is (-1, +1): image 1
    is the one to send hard."""
    import copy

    from mmengine.structures import InstanceData

    from mmdet_dynamic.models.detectors import dynamic_cascade_detector
    from .conftest import build_model, preprocess, raccoon_batch
    model = build_model('dy-faster-rcnn_r18_fpn_40i_raccoon.py',
                        router_target='ap_gain').eval()
    data = preprocess(model, raccoon_batch(raccoon_coco, 2), True)
    right = {model.detector1: 0, model.detector2: 1}

    def predict(detector, feats, samples, rescale=False):
        for i, sample in enumerate(samples):
            gt = sample.gt_instances.bboxes.clone()
            if i != right[detector]:  # boxes moved off the objects
                gt[:, 0::2] += 1000
            sample.pred_instances = InstanceData(
                bboxes=gt, scores=torch.ones(len(gt)),
                labels=sample.gt_instances.labels.clone())
        return samples

    monkeypatch.setattr(dynamic_cascade_detector, 'heads_predict', predict)
    diffs = model.loss_differences(data['inputs'],
                                   copy.deepcopy(data['data_samples']))
    torch.testing.assert_close(diffs, torch.tensor([-1.0, 1.0]))
    # the loss target (DynamicDet's, the default) stays available
    assert model.loss_differences(
        data['inputs'], data['data_samples'], target='loss').shape == (2, )
