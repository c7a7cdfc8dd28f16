# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The README's wrap of an existing mmdet config ("Use it from your own
config"), taken from the README itself and put over mmdet's own RetinaNet
config: it builds a cascade around that detector, and its backbone can be
changed from the command line."""
import os.path as osp
import re

import pytest
from mmengine.config import Config

import mmdet
from mmdet.registry import MODELS
from ..conftest import PROJECT_ROOT

MMDET_RETINANET = osp.join(
    osp.dirname(mmdet.__file__), '.mim', 'configs', 'retinanet',
    'retinanet_r50_fpn_1x_coco.py')


@pytest.fixture(scope='module')
def wrap_config(tmp_path_factory):
    with open(osp.join(PROJECT_ROOT, 'README.md')) as f:
        readme = f.read()
    section = readme.split('## Use it from your own config', 1)[1]
    snippet = re.search(r'```python\n(.*?)```', section, re.S).group(1)
    assert "_base_ = './my_retinanet.py'" in snippet
    path = tmp_path_factory.mktemp('wrap') / 'dy_retinanet.py'
    path.write_text(
        snippet.replace("'./my_retinanet.py'", repr(MMDET_RETINANET)))
    return str(path)


def test_readme_wrap_builds_a_cascade_of_the_users_detector(wrap_config):
    cfg = Config.fromfile(wrap_config)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'DynamicCascadeDetector'
    assert type(model.detector1).__name__ == 'RetinaNet'
    assert model.detector1.backbone.depth == 50
    assert cfg.custom_hooks[0]['type'] == 'mmdet_dynamic.RouterTrainingHook'


def test_readme_wrap_backbone_change_from_the_command_line(wrap_config):
    """The backbone is given once (model.backbone): a --cfg-options change
    of it reaches both detectors."""
    cfg = Config.fromfile(wrap_config)
    cfg.merge_from_dict({
        'model.backbone.depth': 18,
        'model.detector.neck.in_channels': [64, 128, 256, 512]
    })
    model = MODELS.build(cfg.model)
    assert model.detector1.backbone.depth == 18
    assert model.detector2.backbone.depth == 18
