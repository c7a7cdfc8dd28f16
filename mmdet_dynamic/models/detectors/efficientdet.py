# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The EfficientDet detector."""
from mmdet.models.detectors import SingleStageDetector
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmdet_dynamic.registry import MODELS


@MODELS.register_module()
class EfficientDet(SingleStageDetector):
    """EfficientDet (Tan et al., CVPR 2020): an EfficientNet backbone,
    :class:`BiFPN` neck (P3-P7) and :class:`EfficientDetSepBNHead`, as
    mmdet's ``SingleStageDetector`` runs them (so the dynamic cascade wraps
    it). Arguments as ``SingleStageDetector``."""

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
