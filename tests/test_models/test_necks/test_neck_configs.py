# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Each neck trains one step in a two-stage and a single-stage detector."""
import math

import pytest

from ...train_utils import train_steps

# trains each config a step (mmengine's runner): not in make test-fast
pytestmark = pytest.mark.slow


@pytest.mark.parametrize('config', [
    'bifpn/faster-rcnn_r18_bifpn-d0_40i_raccoon.py',
    'bifpn/retinanet_r18_bifpn-d0_40i_raccoon.py',
    'rsafpn/faster-rcnn_r18_rsafpn_40i_raccoon.py',
    'rsafpn/retinanet_r18_rsafpn_40i_raccoon.py',
])
def test_neck_config_trains_one_step(config, raccoon_coco, tmp_path):
    result = train_steps(config, raccoon_coco, str(tmp_path))
    loss = result['runner'].message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss) and loss > 0
    neck_type = result['runner'].cfg.model.neck.type
    assert type(result['runner'].model.neck).__name__ == neck_type
    assert any(n.startswith('neck.') for n in result['changed'])
    assert any(n.startswith('backbone.') for n in result['changed'])
