# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Make ``mmdet_dynamic::`` usable as a package scope in config ``_base_``.

mmengine resolves ``_base_ = 'mmdet::path/to/cfg.py'`` through a fixed map of
known OpenMMLab packages (``mmengine.config.utils.MODULE2PACKAGE``) and then
reads ``<package>/.mim/configs``. Adding this package to that map lets any
project inherit this package's configs::

    _base_ = 'mmdet_dynamic::faster_rcnn/faster-rcnn_r18_fpn_40i_raccoon.py'

once ``mmdet_dynamic`` is imported (``tools/train.py`` and ``tools/test.py``
of this package import it before parsing the config).
"""


def register_config_scope() -> None:
    """Register ``mmdet_dynamic`` in mmengine's package-scope map."""
    from mmengine.config import utils
    utils.MODULE2PACKAGE.setdefault('mmdet_dynamic', 'mmdet_dynamic')
