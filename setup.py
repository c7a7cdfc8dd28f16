# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Packaging for mmdet_dynamic, following OpenMMLab's conventions.

``configs/``, ``tools/`` and ``model-index.yml`` are made reachable under
``mmdet_dynamic/.mim/`` so that ``mim`` finds them: they are symlinked for an
editable install and copied for an sdist or a wheel.
"""
import os
import os.path as osp
import shutil
import sys
import warnings

from setuptools import find_packages, setup

ROOT = osp.dirname(osp.abspath(__file__))
MIM_FILES = ('configs', 'tools', 'model-index.yml')
# repository scripts a wheel does not ship under .mim/tools
REPO_ONLY_TOOLS = ('setup_env.sh', 'compat_check.sh', 'gpu_check.sh')


def readme() -> str:
    with open(osp.join(ROOT, 'README.md'), encoding='utf-8') as f:
        return f.read()


def get_version() -> str:
    namespace: dict = {}
    with open(osp.join(ROOT, 'mmdet_dynamic', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), namespace)
    return namespace['__version__']


def parse_requirements(fname: str) -> list:
    """Read a requirements file, skipping comments and blank lines."""
    with open(osp.join(ROOT, 'requirements', fname)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line]


def add_mim_extension() -> None:
    """Make configs/, tools/ and model-index.yml reachable for mim.

    Editable installs (``pip install -e .``, ``setup.py develop``) get
    symlinks, builds (``sdist``, ``bdist_wheel``, ``python -m build``) get
    copies. In an unpacked sdist the sources are absent and the copies that
    the sdist carries are kept.
    """
    argv = ' '.join(sys.argv)
    if 'develop' in argv or 'editable' in argv:
        mode = 'symlink'
    elif any(cmd in argv for cmd in ('sdist', 'bdist_wheel', 'build_py')):
        mode = 'copy'
    else:
        return

    mim_path = osp.join(ROOT, 'mmdet_dynamic', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(ROOT, name)
        dst = osp.join(mim_path, name)
        if not osp.exists(src):
            continue  # building from an sdist: keep the shipped copy
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            try:
                os.symlink(osp.relpath(src, mim_path), dst,
                           target_is_directory=osp.isdir(src))
                continue
            except OSError:
                warnings.warn(f'Cannot symlink {src}; copying instead.')
        if osp.isdir(src):
            shutil.copytree(
                src, dst,
                ignore=shutil.ignore_patterns('__pycache__',
                                              *REPO_ONLY_TOOLS))
        else:
            shutil.copyfile(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmdet_dynamic',
        version=get_version(),
        description='Dynamic detection for MMDetection 3.x: DynamicDet '
        'cascades with adaptive routing, E-ELAN, LCNet, BiFPN, RSAFPN and '
        'DetNAS supernets',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='computer vision, object detection, dynamic networks',
        packages=find_packages(include=('mmdet_dynamic', 'mmdet_dynamic.*')),
        include_package_data=True,
        python_requires='>=3.10',
        license='Apache License 2.0',
        install_requires=parse_requirements('runtime.txt'),
        extras_require={
            'deploy': parse_requirements('deploy.txt'),
            'tests': parse_requirements('tests.txt'),
            'mim': parse_requirements('mminstall.txt'),
        },
        classifiers=[
            'Programming Language :: Python :: 3',
            'Programming Language :: Python :: 3.10',
            'Programming Language :: Python :: 3.11',
            'Topic :: Scientific/Engineering :: Artificial Intelligence',
        ],
        zip_safe=False)
