# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The base dataset configs work with mmdet's CocoDataset and CocoMetric:
ground truth fed back as predictions scores an AP of 1."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdet_dynamic.registry import DATASETS, METRICS
from mmdet_dynamic.datasets import via_to_coco
from ..conftest import PROJECT_ROOT

BASE = osp.join(PROJECT_ROOT, 'configs', '_base_', 'datasets')


def _perfect_predictions(dataset, num_images, with_mask):
    """GT of the first images as predictions, in original image scale."""
    samples = []
    for i in range(num_images):
        info = dataset.get_data_info(i)
        boxes = np.array([inst['bbox'] for inst in info['instances']],
                         dtype=np.float32)
        pred = dict(
            bboxes=torch.from_numpy(boxes),
            scores=torch.ones(len(boxes)),
            labels=torch.zeros(len(boxes), dtype=torch.long))
        if with_mask:
            from mmdet.structures.mask import PolygonMasks
            polys = [[np.array(p) for p in inst['mask']]
                     for inst in info['instances']]
            masks = PolygonMasks(polys, info['height'],
                                 info['width']).to_ndarray()
            pred['masks'] = torch.from_numpy(masks).bool()
        samples.append(
            dict(
                img_id=info['img_id'],
                ori_shape=(info['height'], info['width']),
                pred_instances=pred))
    return samples


def _evaluate(cfg, ann_file, data_root, num_images, with_mask=False):
    init_default_scope('mmdet_dynamic')
    ds_cfg = cfg.val_dataloader.dataset
    ds_cfg.update(data_root=data_root, ann_file=ann_file)
    ds_cfg.indices = num_images
    dataset = DATASETS.build(ds_cfg)
    metric = METRICS.build(dict(cfg.val_evaluator, ann_file=ann_file))
    metric.dataset_meta = dataset.metainfo
    metric.process({}, _perfect_predictions(dataset, num_images, with_mask))
    return metric.evaluate(num_images), dataset


def test_raccoon_base_config(raccoon_coco):
    cfg = Config.fromfile(osp.join(BASE, 'raccoon_detection.py'))
    assert cfg.train_dataloader.dataset.type == 'CocoDataset'
    assert cfg.val_evaluator.type == 'CocoMetric'
    results, dataset = _evaluate(cfg, raccoon_coco['test'],
                                 raccoon_coco['root'], 40)
    assert dataset.metainfo['classes'] == ('raccoon', )
    assert results['coco/bbox_mAP'] == pytest.approx(1.0)


def test_balloon_base_config(balloon_root, tmp_path):
    ann_file = str(tmp_path / 'val.json')
    via_to_coco(
        osp.join(balloon_root, 'val', 'via_region_data.json'),
        osp.join(balloon_root, 'val'), ann_file)
    cfg = Config.fromfile(osp.join(BASE, 'balloon_instance.py'))
    cfg.val_dataloader.dataset.data_prefix = dict(img='val/')
    results, _ = _evaluate(cfg, ann_file, balloon_root, 13, with_mask=True)
    assert results['coco/bbox_mAP'] == pytest.approx(1.0)
    assert results['coco/segm_mAP'] == pytest.approx(1.0)
