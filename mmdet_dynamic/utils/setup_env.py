# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""``register_all_modules``, as mmdet and mmyolo provide it."""


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every module of mmdet_dynamic (registering it) and, by
    default, make ``mmdet_dynamic`` the current default scope, so that
    registries resolve this package's modules and mmdet's without a config
    (scripts, notebooks, tests).

    Args:
        init_default_scope (bool): Set the default scope. Defaults to True.
    """
    import mmdet_dynamic  # noqa: F401
    if init_default_scope:
        from mmengine.registry import init_default_scope as init_scope
        init_scope('mmdet_dynamic')
