# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The YOLOv7 detector."""
from mmdet.models.detectors import SingleStageDetector
from mmdet_dynamic.registry import MODELS


@MODELS.register_module()
class YOLOv7(SingleStageDetector):
    """YOLOv7 (Wang et al., CVPR 2023): :class:`EELAN` backbone,
    :class:`YOLOv7PAFPN` neck and :class:`YOLOv7Head` (IDetect, OTA loss),
    as mmdet's ``SingleStageDetector`` runs them (so the dynamic cascade
    wraps it like any single-stage detector).

    Args:
        backbone (dict): Backbone config (``EELAN``).
        neck (dict): Neck config (``YOLOv7PAFPN``).
        bbox_head (dict): Head config (``YOLOv7Head``).
        train_cfg, test_cfg (dict, optional): Passed to the head.
        data_preprocessor (dict, optional): Preprocessor config.
        init_cfg (dict, optional): Initialisation config.
    """
