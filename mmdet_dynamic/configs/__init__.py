# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Pure-Python configs (mmengine's ``read_base()`` style, as
``mmdet/configs``), which any mmdet entry point can inherit without this
package having been imported first::

    from mmengine.config import read_base
    with read_base():
        from mmdet_dynamic.configs.dynamicdet.\\
dy_faster_rcnn_r18_fpn_joint_router_raccoon import *

Types are the classes themselves, so the config imports what it builds.
They mirror the text configs of the repository's ``configs/`` folder of the
same names (tested to build the same models).
"""
