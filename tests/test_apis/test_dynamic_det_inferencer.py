# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""mmdet's inference APIs on the dynamic configs: init_detector on every
config, DetInferencer (and ours) with the route in results and drawings."""
import glob
import os.path as osp
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmdet_dynamic.registry import MODELS
from ..conftest import PROJECT_ROOT, RACCOON_ROOT, randomise_bn

DYNAMIC_CONFIGS = sorted(
    glob.glob(osp.join(PROJECT_ROOT, 'configs', 'dynamicdet', '*.py')))
IMAGE = osp.join(RACCOON_ROOT, 'images', 'raccoon-1.jpg')
ROUTE_COLORS = dict(easy=(46, 160, 67), hard=(214, 39, 40))


@pytest.mark.parametrize('config', DYNAMIC_CONFIGS,
                         ids=[osp.basename(c) for c in DYNAMIC_CONFIGS])
def test_init_detector_builds_every_dynamic_config(config):
    """mmdet's most used inference API (it used to fail with "'ConfigDict'
    object has no attribute 'backbone'")."""
    from mmdet.apis import init_detector
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = init_detector(config, None, device='cpu')
    assert type(model).__name__ == 'DynamicCascadeDetector'
    assert not model.training


@pytest.fixture(scope='module')
def trained_like(raccoon_coco, tmp_path_factory):
    """The Dy-Faster R-CNN raccoon config at 128 px and a checkpoint with
    varied BN and the raccoon class in its meta."""
    tmp = tmp_path_factory.mktemp('inferencer')
    cfg = Config.fromfile(
        osp.join(PROJECT_ROOT, 'configs', 'dynamicdet',
                 'dy-faster-rcnn_r18_fpn_40i_raccoon.py'))
    for t in cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'Resize':
            t['scale'] = (128, 128)
    cfg.test_dataloader.dataset.update(
        data_root=raccoon_coco['root'], ann_file=raccoon_coco['test'])
    config = str(tmp / 'dy_faster.py')
    cfg.dump(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    randomise_bn(model)
    ckpt = str(tmp / 'dy_faster.pth')
    torch.save(
        dict(state_dict=model.state_dict(),
             meta=dict(dataset_meta=dict(classes=('raccoon', )))), ckpt)
    return dict(config=config, ckpt=ckpt)


@pytest.mark.parametrize('threshold', [0.0, 1.0])
def test_mmdet_det_inferencer_gives_and_draws_the_route(
        trained_like, threshold, tmp_path):
    from mmdet.apis import DetInferencer
    inferencer = DetInferencer(
        trained_like['config'], trained_like['ckpt'], device='cpu',
        scope='mmdet_dynamic', show_progress=False)
    inferencer.model.set_threshold(threshold)
    route = 'hard' if threshold == 0.0 else 'easy'
    out = inferencer(IMAGE, return_datasamples=True, return_vis=True,
                     no_save_vis=True)
    sample = out['predictions'][0]
    assert sample.route == route and 0 < sample.difficulty_score < 1
    assert sample.pred_instances.bboxes.shape[1] == 4
    drawn = out['visualization'][0]
    image = np.asarray(inferencer.visualizer.get_image())
    assert drawn.shape == image.shape
    # the route label's box, in the route's colour, sits top-left (found
    # by colour: text metrics differ between matplotlib versions)
    corner = drawn[:60, :300].reshape(-1, 3).astype(float)

    def pixels_of(colour):
        return int((np.abs(corner - np.array(colour)).max(1) < 45).sum())

    other = 'easy' if route == 'hard' else 'hard'
    assert pixels_of(ROUTE_COLORS[route]) > 100
    assert pixels_of(ROUTE_COLORS[route]) > pixels_of(ROUTE_COLORS[other])


def test_dynamic_det_inferencer_dicts_carry_the_route(trained_like):
    from mmdet_dynamic.apis import DynamicDetInferencer
    inferencer = DynamicDetInferencer(
        trained_like['config'], trained_like['ckpt'], device='cpu',
        show_progress=False)
    inferencer.model.set_threshold(0.0)
    pred = inferencer(IMAGE, no_save_vis=True)['predictions'][0]
    assert pred['route'] == 'hard'
    assert 0 < pred['difficulty_score'] < 1
    assert {'bboxes', 'scores', 'labels'} <= set(pred)
    assert inferencer.model.dataset_meta['classes'] == ('raccoon', )
