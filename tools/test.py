# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Test a detector: mmdet's `tools/test.py` with mmdet_dynamic imported.

Arguments and behaviour are mmdet 3.3.0's (run with ``--help``); configs of
this package and any mmdet config that lists ``mmdet_dynamic`` in
``custom_imports`` work. The data paths of the config are checked first.
"""
from mmdet_dynamic.utils import run_mmdet_tool

if __name__ == '__main__':
    run_mmdet_tool('test.py')
