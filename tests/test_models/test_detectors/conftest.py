# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Fixtures for the dynamic cascade: small real batches and built models."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

from mmdet_dynamic.registry import DATASETS, MODELS
from ...conftest import PROJECT_ROOT, randomise_bn  # noqa: F401

SIZE = 96


def load_cfg(name: str) -> Config:
    return Config.fromfile(
        osp.join(PROJECT_ROOT, 'configs', 'dynamicdet', name))


def build_model(name: str, **overrides):
    torch.manual_seed(0)
    cfg = load_cfg(name)
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.update(overrides)
    model = MODELS.build(model_cfg)
    model.init_weights()
    return model


def raccoon_batch(raccoon_coco, num: int, with_mask=False,
                  keep_ratio=False):
    """``num`` raccoon images at SIZE x SIZE (or, with ``keep_ratio``,
    scaled to fit SIZE x SIZE, each its own size) with their boxes,
    packed."""
    ds = DATASETS.build(
        dict(
            type='CocoDataset',
            data_root=raccoon_coco['root'],
            ann_file=raccoon_coco['train'],
            data_prefix=dict(img='images/'),
            metainfo=dict(classes=('raccoon', )),
            indices=num,
            pipeline=[
                dict(type='LoadImageFromFile'),
                dict(type='LoadAnnotations', with_bbox=True),
                dict(type='Resize', scale=(SIZE, SIZE), keep_ratio=keep_ratio),
                dict(type='PackDetInputs')
            ]))
    return pseudo_collate([ds[i] for i in range(num)])


@pytest.fixture
def batch4(raccoon_coco):
    return raccoon_batch(raccoon_coco, 4)


def preprocess(model, packed, training):
    return model.data_preprocessor(copy.deepcopy(packed), training)
