# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Dataset-side components of mmdet_dynamic.

The bundled data (raccoon, balloon) is converted to COCO json by the scripts
in ``tools/dataset_converters`` (thin command lines over the functions here)
and then read with mmdet's own ``CocoDataset`` and ``CocoMetric``.
:class:`HoldoutSplit` splits a training set for router training on
held-out images.
"""
from .coco_json import AnnotationError, write_coco_json
from .holdout_split import HoldoutSplit
from .via_to_coco import via_to_coco
from .voc_to_coco import parse_voc_xml, read_split_list, voc_to_coco

__all__ = [
    'AnnotationError', 'write_coco_json', 'voc_to_coco', 'via_to_coco',
    'parse_voc_xml', 'read_split_list', 'HoldoutSplit'
]
