# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The YOLOv7 detector."""
from mmdet.models.detectors import SingleStageDetector
from mmdet_dynamic.registry import MODELS
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig


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

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 bbox_head: ConfigType,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            bbox_head=bbox_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
