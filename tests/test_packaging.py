# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The package installs the way OpenMMLab packages do and plugs into mmdet."""
import glob
import os.path as osp
import shutil
import subprocess
import sys
import zipfile

import yaml
from mmengine.config import Config

from .conftest import PROJECT_ROOT

SOURCES = ('setup.py', 'MANIFEST.in', 'README.md', 'model-index.yml',
           'requirements', 'mmdet_dynamic', 'configs', 'tools', 'tests',
           'benchmarks')


def test_custom_imports_and_the_package_scope(tmp_path):
    """A user's config in mmdet's scope reaches our modules with the
    ``mmdet_dynamic.`` prefix; one in our scope reaches ours and mmdet's."""
    from mmengine.registry import DefaultScope

    from mmdet.registry import MODELS as MMDET_MODELS
    cfg_file = tmp_path / 'user_cfg.py'
    cfg_file.write_text(
        "custom_imports = dict(imports=['mmdet_dynamic'], "
        'allow_failed_imports=False)\n'
        "default_scope = 'mmdet'\n")
    cfg = Config.fromfile(str(cfg_file))  # imports custom_imports
    assert 'mmdet_dynamic' in sys.modules
    assert cfg.default_scope == 'mmdet'
    neck = dict(type='mmdet_dynamic.BiFPN', in_channels=[8, 16, 32],
                out_channels=8, num_outs=5, num_repeats=1)
    with DefaultScope.overwrite_default_scope('mmdet'):
        assert type(MMDET_MODELS.build(neck)).__name__ == 'BiFPN'
    with DefaultScope.overwrite_default_scope('mmdet_dynamic'):
        from mmdet_dynamic.registry import MODELS
        assert MODELS.get('EELAN').__module__.startswith('mmdet_dynamic')
        assert MODELS.get('FasterRCNN') is MMDET_MODELS.get('FasterRCNN')


IMPORT_PROBE = """
import matplotlib
matplotlib.use('svg')
import mmengine.dist.utils as dist_utils
from mmengine.config import utils as config_utils
from mmengine.model import MMDistributedDataParallel
from mmdet.registry import HOOKS, MODELS
import mmdet.datasets, mmdet.engine, mmdet.evaluation, mmdet.models
launchers = (dist_utils._init_dist_pytorch, dist_utils._init_dist_slurm)
ddp_init = MMDistributedDataParallel.__init__
mmdet_models = dict(MODELS.module_dict)
mmdet_hooks = dict(HOOKS.module_dict)
import mmdet_dynamic
assert (dist_utils._init_dist_pytorch, dist_utils._init_dist_slurm) == \\
    launchers, 'launchers replaced'
assert MMDistributedDataParallel.__init__ is ddp_init, 'DDP patched'
assert matplotlib.get_backend() == 'svg', 'backend changed'
assert dict(MODELS.module_dict) == mmdet_models, 'mmdet MODELS changed'
assert dict(HOOKS.module_dict) == mmdet_hooks, 'mmdet HOOKS changed'
assert config_utils.MODULE2PACKAGE['mmdet_dynamic'] == 'mmdet_dynamic'
print('clean import')
"""


def test_import_registers_and_changes_nothing_else():
    """No launcher or DDP patch (on this CPU-only machine, where the old
    code patched them), no matplotlib backend change, nothing written into
    mmdet's registries; the config package scope is registered."""
    proc = subprocess.run([sys.executable, '-c', IMPORT_PROBE],
                          capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'clean import' in proc.stdout


EFFICIENTDET_PROBE = """
import torch.nn as nn
from mmdet.registry import MODELS
names = ['BiFPN', 'RepConv', 'ELANBlock', 'CCM', 'DSM', 'ReOrg', 'DownC']
for name in names:  # what mmdet's projects/EfficientDet (and co.) register
    MODELS.register_module(name=name, module=type(name, (nn.Module, ), {}))
import mmdet_dynamic
from mmdet_dynamic.registry import MODELS as OURS
for name in names:
    assert MODELS.get(name).__module__ != 'mmdet_dynamic', name
    assert OURS.get(name).__module__.startswith('mmdet_dynamic'), name
print('no collision')
"""


def test_import_next_to_mmdet_projects_with_the_same_names():
    proc = subprocess.run([sys.executable, '-c', EFFICIENTDET_PROBE],
                          capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'no collision' in proc.stdout


def test_every_module_class_is_registered():
    """Each nn.Module / Hook class the package defines is in the package's
    registries under its class name (model wrappers in MODEL_WRAPPERS;
    abstract ``Base*`` classes aside, and
    the trace wrappers of :mod:`mmdet_dynamic.deployment`, which take a
    built model and are never built from a config)."""
    import importlib
    import inspect
    import pkgutil

    import torch.nn as nn
    from mmengine.hooks import Hook
    from mmdet_dynamic.registry import HOOKS, MODEL_WRAPPERS, MODELS

    import mmdet_dynamic
    missing = []
    for info in pkgutil.walk_packages(mmdet_dynamic.__path__,
                                      'mmdet_dynamic.'):
        module = importlib.import_module(info.name)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != info.name or name.startswith(('_', 'Base')):
                continue
            if info.name.startswith('mmdet_dynamic.deployment.'):
                continue
            if MODEL_WRAPPERS.get(name) is cls:
                continue  # a model wrapper, built by the runner
            if issubclass(cls, nn.Module) and MODELS.get(name) is not cls:
                missing.append(f'{info.name}.{name} (MODELS)')
            if issubclass(cls, Hook) and HOOKS.get(name) is not cls:
                missing.append(f'{info.name}.{name} (HOOKS)')
    assert not missing, f'not registered: {missing}'


def test_model_index_imports_existing_metafiles():
    index = yaml.safe_load(open(osp.join(PROJECT_ROOT, 'model-index.yml')))
    metafiles = index['Import']
    folders = {
        osp.dirname(p)
        for p in glob.glob(osp.join(PROJECT_ROOT, 'configs', '*', '*.py'))
        if '_base_' not in p
    }
    assert {osp.join(PROJECT_ROOT, osp.dirname(m))
            for m in metafiles} == folders
    for metafile in metafiles:
        meta = yaml.safe_load(open(osp.join(PROJECT_ROOT, metafile)))
        for model in meta['Models']:
            assert osp.isfile(osp.join(PROJECT_ROOT, model['Config']))
            # `mim search` shows what a user can get: no empty results
            for result in model.get('Results', []):
                assert all(v is not None
                           for v in result['Metrics'].values()), model


def test_editable_install_exposes_mim_folders(tmp_path):
    import mmdet_dynamic
    mim = osp.join(osp.dirname(mmdet_dynamic.__file__), '.mim')
    assert osp.isfile(osp.join(mim, 'model-index.yml'))
    assert osp.isfile(osp.join(mim, 'tools', 'train.py'))
    # a user's config inherits ours through the package scope, which
    # mmengine resolves in .mim/configs
    user_cfg = tmp_path / 'my_faster_rcnn.py'
    user_cfg.write_text(
        "_base_ = 'mmdet_dynamic::faster_rcnn/"
        "faster-rcnn_r18_fpn_40i_raccoon.py'\n"
        'model = dict(roi_head=dict(bbox_head=dict(num_classes=3)))\n')
    cfg = Config.fromfile(str(user_cfg))
    assert cfg.model.backbone.depth == 18
    assert cfg.model.backbone.init_cfg is None  # nothing is downloaded
    assert cfg.model.roi_head.bbox_head.num_classes == 3
    assert cfg.train_dataloader.dataset.type == 'CocoDataset'


def test_wheel_contains_configs_tools_and_model_index(tmp_path):
    src = tmp_path / 'src'
    src.mkdir()
    for name in SOURCES:
        path = osp.join(PROJECT_ROOT, name)
        if osp.isdir(path):
            shutil.copytree(
                path,
                src / name,
                ignore=shutil.ignore_patterns('__pycache__', '.mim',
                                              '*.egg-info'))
        else:
            shutil.copy(path, src / name)
    proc = subprocess.run([
        sys.executable, '-m', 'pip', 'wheel', '--no-deps',
        '--no-build-isolation', '-q', '-w',
        str(tmp_path / 'dist'),
        str(src)
    ],
                          capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheel, = glob.glob(str(tmp_path / 'dist' / 'mmdet_dynamic-*.whl'))
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
            'mmdet_dynamic/.mim/model-index.yml',
            'mmdet_dynamic/.mim/tools/train.py',
            'mmdet_dynamic/.mim/tools/dataset_converters/voc_to_coco.py',
            'mmdet_dynamic/.mim/configs/faster_rcnn/metafile.yml',
            'mmdet_dynamic/.mim/configs/faster_rcnn/'
            'faster-rcnn_r18_fpn_40i_raccoon.py',
            'mmdet_dynamic/.mim/configs/_base_/datasets/'
            'raccoon_detection.py'):
        assert expected in names, expected
    assert not any(n.startswith('data/') for n in names)
    # only the package: no top-level tests (or tests.*), no repository
    # set-up scripts, the configs' READMEs beside them
    assert not any(n.startswith(('tests/', 'benchmarks/')) for n in names)
    assert not any(n.endswith(('setup_env.sh', 'compat_check.sh'))
                   for n in names)
    assert 'mmdet_dynamic/.mim/configs/dynamicdet/README.md' in names
    archive = zipfile.ZipFile(wheel)
    info = next(n for n in names if n.endswith('.dist-info/METADATA'))
    top = next(n for n in names if n.endswith('.dist-info/top_level.txt'))
    assert archive.read(top).decode().split() == ['mmdet_dynamic']
    metadata = archive.read(info).decode()
    requires = [line.split(':', 1)[1].strip()
                for line in metadata.splitlines()
                if line.startswith('Requires-Dist:')]
    plain = [r for r in requires if 'extra ==' not in r]
    # ranges that fit an existing mmdet environment: no pins, no torch,
    # mmcv or onnx outside the extras
    assert not [r for r in requires if '==' in r.split(';')[0]], requires
    assert any(r.startswith('mmdet') and '<3.4.0' in r for r in plain)
    assert any(r.startswith('mmengine') and '<1.0.0' in r for r in plain)
    assert not [r for r in plain
                if r.split('>')[0].split('<')[0].strip() in (
                    'torch', 'mmcv', 'onnx', 'onnxruntime')], plain
    deploy = [r for r in requires if 'extra == "deploy"' in r]
    assert {r.split('>')[0] for r in deploy} == {'onnx', 'onnxruntime'}
    assert 'Requires-Python: >=3.10' in metadata
