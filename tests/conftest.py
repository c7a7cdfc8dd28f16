# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Shared fixtures: project paths and the real bundled / shared datasets."""
import os
import os.path as osp

import pytest

PROJECT_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
RACCOON_ROOT = osp.join(PROJECT_ROOT, 'data', 'raccoon')
BALLOON_ROOT = os.environ.get(
    'BALLOON_SRC', osp.join(PROJECT_ROOT, '..', 'shared', 'datasets',
                            'balloon'))


def pytest_runtest_setup(item):
    """Every test (and every fixture it sets up, module-scoped ones
    included) starts in the package's default scope, what its configs set,
    whatever scope an earlier test left current."""
    from mmdet_dynamic.utils import register_all_modules
    register_all_modules()


def free_port() -> int:
    """A free local TCP port (for a distributed test's rendezvous)."""
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def tool_main(path: str):
    """The ``main`` function of the script ``tools/<path>`` (tools are
    scripts, not an importable package)."""
    import importlib.util
    full = osp.join(PROJECT_ROOT, 'tools', path)
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, full)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def randomise_bn(model, seed: int = 0, affine: bool = False) -> None:
    """Give every BatchNorm2d of ``model`` trained-looking statistics
    (fresh BN in eval mode is the identity), reproducibly from ``seed``;
    with ``affine`` its weight and bias too."""
    import torch
    gen = torch.Generator().manual_seed(seed)

    def uniform(t, low, high):
        t.copy_(torch.rand(t.shape, generator=gen) * (high - low) + low)

    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                uniform(m.running_mean, -0.2, 0.2)
                uniform(m.running_var, 0.5, 1.5)
                if affine:
                    uniform(m.weight, 0.5, 1.5)
                    uniform(m.bias, -0.5, 0.5)


@pytest.fixture(scope='session')
def raccoon_coco(tmp_path_factory):
    """The bundled raccoon data converted to COCO json in a temp folder.

    Returns:
        dict: ``root`` (dataset root), ``images`` (image folder),
        ``train``/``test`` (json paths).
    """
    from mmdet_dynamic.datasets import voc_to_coco
    out = tmp_path_factory.mktemp('raccoon_coco')
    written = voc_to_coco(
        RACCOON_ROOT, {
            'train': 'data/train_labels.csv',
            'test': 'data/test_labels.csv'
        }, str(out))
    return dict(
        root=RACCOON_ROOT, images=osp.join(RACCOON_ROOT, 'images'), **written)


@pytest.fixture(scope='session')
def balloon_coco(balloon_root, tmp_path_factory):
    """The balloon val split (13 images, masks) as COCO json in a temp
    folder; images stay in the shared folder."""
    from mmdet_dynamic.datasets import via_to_coco
    out = str(tmp_path_factory.mktemp('balloon_coco') / 'val.json')
    via_to_coco(
        osp.join(balloon_root, 'val', 'via_region_data.json'),
        osp.join(balloon_root, 'val'), out)
    return dict(root=balloon_root, train=out, img_prefix='val/')


@pytest.fixture(scope='session')
def balloon_root():
    """The shared balloon dataset (images never copied into the project)."""
    if not osp.isfile(osp.join(BALLOON_ROOT, 'train', 'via_region_data.json')):
        pytest.skip(f'balloon dataset not found at {BALLOON_ROOT} (it lives '
                    'in ../shared/datasets/balloon and is not bundled because '
                    'its images\' licence is unstated; set BALLOON_SRC)')
    return BALLOON_ROOT
