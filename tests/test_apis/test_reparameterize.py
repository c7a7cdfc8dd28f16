# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""A trained checkpoint converts to its deploy form with equal outputs."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from mmdet_dynamic.registry import MODELS
from ..conftest import PROJECT_ROOT, randomise_bn

# runs the converter tool: left out of make test-fast
pytestmark = pytest.mark.slow

CONFIG = osp.join(PROJECT_ROOT, 'configs', 'eelan',
                  'faster-rcnn_eelan-tiny-rep_fpn_40i_raccoon.py')


def test_reparameterize_tool(tmp_path):
    cfg = Config.fromfile(CONFIG)
    model = MODELS.build(cfg.model)
    model.init_weights()
    randomise_bn(model)
    ckpt = str(tmp_path / 'trained.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), ckpt)

    proc = subprocess.run([
        sys.executable,
        osp.join(PROJECT_ROOT, 'tools', 'model_converters',
                 'reparameterize.py'), CONFIG, ckpt,
        str(tmp_path / 'out')
    ],
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'switched 8 layers to their deploy form' in proc.stdout

    name = 'faster-rcnn_eelan-tiny-rep_fpn_40i_raccoon_deploy'
    deploy_cfg = Config.fromfile(str(tmp_path / 'out' / f'{name}.py'))
    assert deploy_cfg.model.backbone.deploy is True
    deployed = MODELS.build(deploy_cfg.model)
    state = torch.load(
        str(tmp_path / 'out' / f'{name}.pth'), weights_only=True)
    deployed.load_state_dict(state['state_dict'])
    assert not any('conv1x1' in k for k in state['state_dict'])

    model.eval()
    deployed.eval()
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        for a, b in zip(model.extract_feat(x), deployed.extract_feat(x)):
            torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_model_without_repconv_is_refused(tmp_path):
    from mmdet_dynamic.apis import reparameterize_checkpoint
    cfg_file = osp.join(PROJECT_ROOT, 'configs', 'faster_rcnn',
                        'faster-rcnn_r18_fpn_40i_raccoon.py')
    model = MODELS.build(Config.fromfile(cfg_file).model)
    ckpt = str(tmp_path / 'r18.pth')
    save_checkpoint(dict(state_dict=model.state_dict()), ckpt)
    with pytest.raises(ValueError, match='no layer with a deploy form'):
        reparameterize_checkpoint(cfg_file, ckpt, str(tmp_path / 'o.pth'),
                                  str(tmp_path / 'o.py'))


def test_checkpoint_that_does_not_fit_writes_nothing(tmp_path):
    """Random deploy weights from a checkpoint that fits no key: refused,
    naming keys, with no output; --allow-partial is the only way past."""
    ckpt = str(tmp_path / 'other.pth')
    save_checkpoint(dict(state_dict={'backbone.stem.0.conv.weight':
                                     torch.zeros(3)}), ckpt)
    tool = osp.join(PROJECT_ROOT, 'tools', 'model_converters',
                    'reparameterize.py')
    out = tmp_path / 'out'
    proc = subprocess.run([sys.executable, tool, CONFIG, ckpt, str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert 'does not fit the model' in proc.stderr
    assert 'size mismatch for backbone.stem.0.conv.weight: copying a ' \
        'param with shape torch.Size([3])' in proc.stderr
    assert '--allow-partial' in proc.stderr
    assert not out.exists()
    proc = subprocess.run(
        [sys.executable, tool, CONFIG, ckpt, str(out), '--allow-partial'],
        capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.exists()
