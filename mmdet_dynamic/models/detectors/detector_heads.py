# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Run an mmdet detector's own ``loss`` / ``predict`` / ``_forward`` on
backbone outputs it did not compute itself.

mmdet's detectors compute their features inside ``loss``/``predict``/
``_forward`` with ``extract_feat`` (backbone, then neck). The dynamic cascade
computes the backbone outputs itself (backbone 2 gets the composite input),
so it calls the detector class's own method on a view of the detector whose
``extract_feat`` runs the neck on those outputs; every other attribute is
the detector's. So the cascade runs exactly the code mmdet runs after the
backbone, whatever the detector family: single-stage, two-stage (RPN,
proposals, RoI heads) or DETR-like (neck, encoder, decoder, head), and
whatever mmdet version. The one requirement (:func:`check_wrappable`): the
detector's ``extract_feat`` is mmdet's backbone-then-neck.
"""
from typing import Dict, Sequence, Tuple

from torch import Tensor

from mmdet.models.detectors import (BaseDetector, DetectionTransformer,
                                    SingleStageDetector, TwoStageDetector)
from mmdet.structures import SampleList

_BASES = (SingleStageDetector, TwoStageDetector, DetectionTransformer)


def check_wrappable(detector: BaseDetector, type_name: str) -> None:
    """Check that the cascade can give ``detector`` its features: its
    ``extract_feat`` is mmdet's (backbone, then neck).

    Raises:
        TypeError: If the detector is of none of the supported families, or
            its class computes features differently (``extract_feat``
            overridden).
    """
    base = next((b for b in _BASES if isinstance(detector, b)), None)
    if base is None:
        raise TypeError(
            'DynamicCascadeDetector wraps mmdet detectors that compute '
            'their features with a backbone and a neck: single-stage '
            '(YOLOX, RetinaNet, RTMDet, ...), two-stage (FasterRCNN, '
            'MaskRCNN, ...) and DETR-like (DETR, DeformableDETR, DINO, ...); '
            f'got {type_name}, which cannot be split into backbone and heads '
            'this way.')
    if type(detector).extract_feat is not base.extract_feat:
        raise TypeError(
            f'{type_name} overrides extract_feat of {base.__name__}, so its '
            'features are not its backbone\'s outputs through its neck; the '
            'cascade computes the backbone outputs itself and cannot give '
            'this detector what it expects. Wrap a detector that keeps '
            f'{base.__name__}.extract_feat.')


def neck_features(detector: BaseDetector,
                  backbone_outs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
    """``extract_feat`` after the backbone: the neck (if any) on
    ``backbone_outs``, each (N, C_i, H_i, W_i)."""
    x = tuple(backbone_outs)
    return tuple(detector.neck(x)) if detector.with_neck else x


class _OnBackboneOutputs:
    """A view of ``detector`` whose ``extract_feat`` gives the neck
    features of ``backbone_outs``; everything else is the detector's."""

    def __init__(self, detector: BaseDetector,
                 backbone_outs: Sequence[Tensor]) -> None:
        self.__dict__.update(_detector=detector, _outs=tuple(backbone_outs))

    def extract_feat(self, batch_inputs=None) -> Tuple[Tensor, ...]:
        return neck_features(self._detector, self._outs)

    def __getattr__(self, name: str):
        return getattr(self._detector, name)


def heads_loss(detector: BaseDetector, backbone_outs: Sequence[Tensor],
               samples: SampleList) -> Dict[str, Tensor]:
    """``detector.loss`` (its class's own) on ``backbone_outs``."""
    view = _OnBackboneOutputs(detector, backbone_outs)
    return type(detector).loss(view, None, samples)


def heads_predict(detector: BaseDetector, backbone_outs: Sequence[Tensor],
                  samples: SampleList, rescale: bool) -> SampleList:
    """``detector.predict`` on ``backbone_outs``: writes ``pred_instances``
    into ``samples`` and returns them."""
    view = _OnBackboneOutputs(detector, backbone_outs)
    return type(detector).predict(view, None, samples, rescale=rescale)


def heads_forward(detector: BaseDetector, backbone_outs: Sequence[Tensor],
                  samples: SampleList) -> tuple:
    """``detector._forward`` (tensor mode) on ``backbone_outs``."""
    view = _OnBackboneOutputs(detector, backbone_outs)
    out = type(detector)._forward(view, None, samples)
    return out if isinstance(out, tuple) else (out, )
