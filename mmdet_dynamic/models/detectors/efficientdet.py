# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The EfficientDet detector."""
from mmdet.models.detectors import SingleStageDetector
from mmdet_dynamic.registry import MODELS


@MODELS.register_module()
class EfficientDet(SingleStageDetector):
    """EfficientDet (Tan et al., CVPR 2020): an EfficientNet backbone,
    :class:`BiFPN` neck (P3-P7) and :class:`EfficientDetSepBNHead`, as
    mmdet's ``SingleStageDetector`` runs them (so the dynamic cascade wraps
    it). Arguments as ``SingleStageDetector``."""
