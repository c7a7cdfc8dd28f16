# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Each backbone trains one step inside an mmdet detector from configs/."""
import math

import pytest

from ...train_utils import train_steps

# trains each config a step (mmengine's runner): not in make test-fast
pytestmark = pytest.mark.slow


@pytest.mark.parametrize('config', [
    'eelan/faster-rcnn_eelan-tiny-rep_fpn_40i_raccoon.py',
    'eelan/faster-rcnn_eelan-l_fpn_40i_raccoon.py',
    'rsanet/faster-rcnn_lcnet_fpn_40i_raccoon.py',
    'rsanet/rsanet_lcnet_rsafpn_40i_raccoon.py',
    'detnas/faster-rcnn_shufflenetv2-supernet-small_fpn_40i_raccoon.py',
    'detnas/faster-rcnn_detnas-300m_fpn_40i_raccoon.py',
    'detnas/retinanet_shufflenetv2-supernet-small_fpn_40i_raccoon.py',
])
def test_backbone_config_trains_one_step(config, raccoon_coco, tmp_path):
    result = train_steps(config, raccoon_coco, str(tmp_path), scale=96)
    runner = result['runner']
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert math.isfinite(loss) and loss > 0
    assert type(runner.model.backbone).__name__ == \
        runner.cfg.model.backbone.type
    first_layer = runner.model.backbone.layers[0]
    assert any(n.startswith(f'backbone.{first_layer}.')
               for n in result['changed'])
