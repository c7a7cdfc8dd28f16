# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Run an mmdet detector's neck and heads on backbone features it did not
compute itself.

mmdet's ``SingleStageDetector`` and ``TwoStageDetector`` compute their
features inside ``loss``/``predict``/``_forward`` (``extract_feat``). The
dynamic cascade computes the backbone features itself (backbone 2 gets the
composite input), so it runs the rest of each detector with these functions:
the same calls, in the same order, as mmdet 3.3's two base classes make
after ``extract_feat``. A detector class that overrides any of those methods
would run differently here, so :func:`check_wrappable` refuses it.
"""
import copy
from typing import Dict, List, Sequence, Tuple

import torch
from torch import Tensor

from mmdet.models.detectors import (BaseDetector, SingleStageDetector,
                                    TwoStageDetector)
from mmdet.structures import SampleList

_METHODS = ('extract_feat', 'loss', 'predict', '_forward')


def check_wrappable(detector: BaseDetector, type_name: str) -> None:
    """Check that the cascade runs ``detector`` exactly as mmdet would.

    Raises:
        TypeError: If the detector is neither single- nor two-stage, or if
            its class overrides the base class's feature or head methods.
    """
    for base in (SingleStageDetector, TwoStageDetector):
        if isinstance(detector, base):
            break
    else:
        raise TypeError(
            'DynamicCascadeDetector wraps single-stage detectors '
            '(SingleStageDetector subclasses: YOLOX, RetinaNet, FCOS, '
            '...) and two-stage detectors (TwoStageDetector subclasses: '
            f'FasterRCNN, MaskRCNN, ...); got {type_name}, which '
            'cannot be split into backbone and heads this way.')
    overridden = [
        name for name in _METHODS
        if getattr(type(detector), name) is not getattr(base, name)
    ]
    if overridden:
        raise TypeError(
            f'{type_name} overrides {overridden} of {base.__name__}; the '
            f'cascade runs {base.__name__}\'s head code on it and would '
            'silently change what it computes. Wrap a detector that keeps '
            f'{base.__name__}\'s {", ".join(_METHODS)}.')


def neck_features(detector: BaseDetector,
                  backbone_outs: Sequence[Tensor]) -> Tuple[Tensor, ...]:
    """``extract_feat`` after the backbone: the neck (if any) on
    ``backbone_outs``, each (N, C_i, H_i, W_i)."""
    x = tuple(backbone_outs)
    return tuple(detector.neck(x)) if detector.with_neck else x


def heads_loss(detector: BaseDetector, x: Tuple[Tensor, ...],
               samples: SampleList) -> Dict[str, Tensor]:
    """``detector.loss`` on neck features ``x`` (mmdet 3.3's code path)."""
    if not isinstance(detector, TwoStageDetector):
        return detector.bbox_head.loss(x, samples)
    losses = dict()
    if detector.with_rpn:
        proposal_cfg = detector.train_cfg.get('rpn_proposal',
                                              detector.test_cfg.rpn)
        rpn_samples = copy.deepcopy(samples)
        for sample in rpn_samples:  # the RPN is class-agnostic
            sample.gt_instances.labels = torch.zeros_like(
                sample.gt_instances.labels)
        rpn_losses, proposals = detector.rpn_head.loss_and_predict(
            x, rpn_samples, proposal_cfg=proposal_cfg)
        for key in list(rpn_losses):
            if 'loss' in key and 'rpn' not in key:
                rpn_losses[f'rpn_{key}'] = rpn_losses.pop(key)
        losses.update(rpn_losses)
    else:
        proposals = [sample.proposals for sample in samples]
    losses.update(detector.roi_head.loss(x, proposals, samples))
    return losses


def heads_predict(detector: BaseDetector, x: Tuple[Tensor, ...],
                  samples: SampleList, rescale: bool) -> SampleList:
    """``detector.predict`` on neck features ``x``: writes
    ``pred_instances`` into ``samples`` and returns them."""
    if isinstance(detector, TwoStageDetector):
        results = detector.roi_head.predict(
            x, _proposals(detector, x, samples), samples, rescale=rescale)
    else:
        results = detector.bbox_head.predict(x, samples, rescale=rescale)
    return detector.add_pred_to_datasample(samples, results)


def heads_forward(detector: BaseDetector, x: Tuple[Tensor, ...],
                  samples: SampleList) -> tuple:
    """``detector._forward`` (tensor mode) on neck features ``x``."""
    if not isinstance(detector, TwoStageDetector):
        return detector.bbox_head.forward(x)
    if detector.with_rpn:
        proposals = detector.rpn_head.predict(x, samples, rescale=False)
    else:
        proposals = [sample.proposals for sample in samples]
    return (detector.roi_head.forward(x, proposals, samples), )


def _proposals(detector: TwoStageDetector, x: Tuple[Tensor, ...],
               samples: SampleList) -> List:
    if samples[0].get('proposals', None) is None:
        return detector.rpn_head.predict(x, samples, rescale=False)
    return [sample.proposals for sample in samples]
