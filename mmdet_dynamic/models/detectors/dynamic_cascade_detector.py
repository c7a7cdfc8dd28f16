# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""DynamicDet's dynamic architecture as an mmdet detector."""
import contextlib
import copy
import logging
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from torch import Tensor

from mmdet.models.detectors import (BaseDetector, SingleStageDetector,
                                    TwoStageDetector)
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from ..layers.adaptive_router import AdaptiveRouter
from ..layers.composite_connection import CompositeConnection
from ..layers.stage_adapters import stage_channels, stage_layers

PHASES = ('joint', 'router')
HEAD_NAMES = ('neck', 'rpn_head', 'roi_head', 'bbox_head')


class _BothHeads:
    """``bbox_head`` of the cascade: attribute writes go to both detectors'
    heads (so mmdet hooks such as ``YOLOXModeSwitchHook``, which set
    ``model.bbox_head.use_l1 = True``, reach both); reads come from
    detector 1."""

    def __init__(self, heads: Sequence[nn.Module]) -> None:
        object.__setattr__(self, '_heads', list(heads))

    def __getattr__(self, name):
        return getattr(self._heads[0], name)

    def __setattr__(self, name, value) -> None:
        for head in self._heads:
            setattr(head, name, value)


def _sum_losses(losses: Dict) -> Tensor:
    """Scalar sum of every entry whose key contains 'loss' (as mmengine's
    ``parse_losses`` does; some heads return shape-(1, ) tensors)."""
    total = 0.
    for key, value in losses.items():
        if 'loss' not in key:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        total = total + sum(v.sum() for v in values)
    return total


@MODELS.register_module()
class DynamicCascadeDetector(BaseDetector):
    """Two detectors in cascade with an adaptive router (DynamicDet, CVPR
    2023), wrapping an ordinary mmdet detector config.

    Detector 1 is backbone B1 + neck/heads D1; detector 2 is backbone B2 +
    neck/heads D2. B2 receives B1's stage outputs through a
    :class:`CompositeConnection` (zero-initialised: B2 starts as a plain
    backbone). :class:`AdaptiveRouter` scores each image from B1's output
    features; at test time images with ``phi > threshold`` are *hard* and go
    through B2 + D2 only, the others are *easy* and go through D1 only. A
    batch with mixed routes is split and the results come back in input
    order; every ``DetDataSample`` gets ``difficulty_score`` and ``route``
    in its metainfo.

    Training has two phases (``phase``, switched by setting the attribute,
    e.g. from a hook): ``'joint'`` trains both detectors (losses prefixed
    ``d1.`` and ``d2.``, weighted by ``loss_weights``); ``'router'`` trains
    only the router with ``(1 - phi) (L1 - Delta/2) + phi (L2 + Delta/2)``
    averaged over the batch, where L1, L2 are the detached per-image losses
    of the two detectors (backbones run once per batch, heads per image) and
    ``Delta`` is the :attr:`delta` buffer (saved in checkpoints). The
    per-image differences
    ``L1 - L2`` of the last batch are in :attr:`last_loss_diffs`.

    Args:
        detector (dict): An mmdet detector config, single-stage
            (``YOLOX``, ``RetinaNet``, ...) or two-stage (``FasterRCNN``,
            ``MaskRCNN``, ...). Its ``data_preprocessor`` becomes the
            cascade's.
        backbone2 (dict, optional): B2 config when it differs from B1 (other
            arch or width). Defaults to a copy of B1's config.
        share_heads (bool, optional): D2 is D1 (the paper's R-CNN setting).
            Defaults to True for two-stage and False for single-stage
            detectors.
        composite_cfg (dict): ``norm_cfg`` of the composite connection.
        loss_weights (Sequence[float]): Joint-phase weights of detector 1's
            and detector 2's losses. Defaults to (1, 1).
        phase (str): ``'joint'`` or ``'router'``.
        init_detectors_from (str, optional): A single-detector checkpoint
            (e.g. a baseline trained with mmdet) loaded into both detectors
            by :meth:`init_weights`; keys that do not fit are reported and
            skipped.
        train_cfg (dict, optional): Unused; the wrapped detector's config
            holds its own ``train_cfg``.
        test_cfg (dict, optional): ``threshold`` (in [0, 1]; 0 sends every
            image hard, 1 every image easy; default 0.5) and
            ``tensor_route`` (``'easy'`` or ``'hard'``: the route that
            ``_forward`` takes, e.g. for FLOPs counting; default ``'hard'``).
        data_preprocessor (dict, optional): Overrides the detector's.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 detector: ConfigType,
                 backbone2: OptConfigType = None,
                 share_heads: Optional[bool] = None,
                 composite_cfg: ConfigType = dict(norm_cfg=dict(type='BN')),
                 loss_weights: Sequence[float] = (1.0, 1.0),
                 phase: str = 'joint',
                 init_detectors_from: Optional[str] = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        detector = copy.deepcopy(dict(detector))
        det_preprocessor = detector.pop('data_preprocessor', None)
        super().__init__(
            data_preprocessor=data_preprocessor or det_preprocessor,
            init_cfg=init_cfg)
        self.detector1 = MODELS.build(copy.deepcopy(detector))
        if not isinstance(self.detector1,
                          (SingleStageDetector, TwoStageDetector)):
            raise TypeError(
                'DynamicCascadeDetector wraps single-stage detectors '
                '(SingleStageDetector subclasses: YOLOX, RetinaNet, FCOS, '
                '...) and two-stage detectors (TwoStageDetector subclasses: '
                f'FasterRCNN, MaskRCNN, ...); got {detector["type"]}, which '
                'cannot be split into backbone and heads this way.')
        det2_cfg = copy.deepcopy(detector)
        if backbone2 is not None:
            det2_cfg['backbone'] = copy.deepcopy(backbone2)
        self.detector2 = MODELS.build(det2_cfg)
        self.two_stage = isinstance(self.detector1, TwoStageDetector)
        self.share_heads = self.two_stage if share_heads is None \
            else share_heads

        self._layers1, self._out1 = stage_layers(self.detector1.backbone)
        self._layers2, self._out2 = stage_layers(self.detector2.backbone)
        ch1 = stage_channels(self.detector1.backbone)
        ch2 = stage_channels(self.detector2.backbone)
        if len(ch1) != len(ch2):
            raise ValueError(
                f'B1 has {len(ch1)} layers and B2 {len(ch2)}: the composite '
                'connection needs backbones with the same number of stages')
        if self.share_heads:
            out1 = [ch1[i] for i in self._out1]
            out2 = [ch2[i] for i in self._out2]
            if out1 != out2:
                raise ValueError(
                    f'share_heads=True needs B1 and B2 to give the same '
                    f'output channels, got {out1} and {out2}; use '
                    'share_heads=False or a matching backbone2')
            for name in HEAD_NAMES:
                if hasattr(self.detector1, name):
                    setattr(self.detector2, name,
                            getattr(self.detector1, name))
        self.composite = CompositeConnection(ch1[1:], ch2[:-1],
                                             **composite_cfg)
        self.router = AdaptiveRouter([ch1[i] for i in self._out1])

        if len(loss_weights) != 2:
            raise ValueError('loss_weights needs two values (detector 1, '
                             f'detector 2), got {loss_weights}')
        self.loss_weights = tuple(float(w) for w in loss_weights)
        self.init_detectors_from = init_detectors_from
        self.register_buffer('delta', torch.zeros(()))
        self.last_loss_diffs: Optional[Tensor] = None
        test_cfg = dict(test_cfg or {})
        test_cfg.setdefault('threshold', 0.5)
        test_cfg.setdefault('tensor_route', 'hard')
        self.test_cfg = test_cfg
        self.set_threshold(test_cfg['threshold'])
        if test_cfg['tensor_route'] not in ('easy', 'hard'):
            raise ValueError("test_cfg.tensor_route must be 'easy' or "
                             f"'hard', got {test_cfg['tensor_route']!r}")
        self.phase = phase
        if not torch.cuda.is_available():
            self._revert_sync_bn()

    def _revert_sync_bn(self) -> None:
        """SyncBN needs CUDA: on a CPU-only machine fall back to BN (the
        state dict keys stay the same, so checkpoints move freely between
        GPU and CPU runs)."""
        if not any('SyncBatchNorm' in type(m).__name__
                   for m in self.modules()):
            return
        from mmengine.model import revert_sync_batchnorm
        print_log(
            'DynamicCascadeDetector: SyncBN needs CUDA, which this machine '
            'does not have; using BatchNorm instead (same weights and '
            'statistics; on GPUs SyncBN is kept)',
            logger='current',
            level=logging.WARNING)
        for name, child in list(self.named_children()):
            setattr(self, name, revert_sync_batchnorm(child))

    # ------------------------------------------------------------------ api
    @property
    def phase(self) -> str:
        """Training phase, ``'joint'`` or ``'router'``."""
        return self._phase

    @phase.setter
    def phase(self, value: str) -> None:
        if value not in PHASES:
            raise ValueError(f'phase must be one of {PHASES}, got {value!r}')
        if getattr(self, '_phase', None) == value:
            return
        self._phase = value
        if value == 'router':  # freeze everything but the router
            self._frozen_by_phase = [
                p for p in self._detector_parameters() if p.requires_grad
            ]
            for p in self._frozen_by_phase:
                p.requires_grad_(False)
        else:
            for p in getattr(self, '_frozen_by_phase', []):
                p.requires_grad_(True)
            self._frozen_by_phase = []
        self.train(self.training)

    def _detector_parameters(self) -> Iterator[nn.Parameter]:
        for module in (self.detector1, self.detector2, self.composite):
            yield from module.parameters()

    def train(self, mode: bool = True) -> 'DynamicCascadeDetector':
        """In the router phase the detectors and the composite connection
        stay in eval mode (BN statistics frozen) whatever ``mode`` is."""
        super().train(mode)
        if getattr(self, '_phase', 'joint') == 'router':
            for module in (self.detector1, self.detector2, self.composite):
                module.eval()
        return self

    def set_threshold(self, threshold: float) -> None:
        """Set the routing threshold tau (images with phi > tau are hard).

        Raises:
            ValueError: If ``threshold`` is outside [0, 1].
        """
        threshold = float(threshold)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(
                f'routing threshold must be in [0, 1] (0: every image hard, '
                f'1: every image easy), got {threshold}')
        self.test_cfg['threshold'] = threshold

    @property
    def bbox_head(self) -> _BothHeads:
        """Both detectors' ``bbox_head`` (or ``roi_head``) as one target
        for mmdet hooks that configure the head."""
        name = 'roi_head' if self.two_stage else 'bbox_head'
        return _BothHeads(
            [getattr(self.detector1, name),
             getattr(self.detector2, name)])

    @property
    def with_mask(self) -> bool:
        return self.detector1.with_mask

    def init_weights(self) -> None:
        super().init_weights()
        if self.init_detectors_from:
            from mmengine.runner import load_checkpoint
            for name in ('detector1', 'detector2'):
                print_log(
                    f'init {name} from {self.init_detectors_from}',
                    logger='current')
                load_checkpoint(
                    getattr(self, name),
                    self.init_detectors_from,
                    map_location='cpu',
                    strict=False,
                    logger='current')

    # ------------------------------------------------------------- features
    def backbone1(self, inputs: Tensor) -> Tuple[List[Tensor], List[Tensor]]:
        """Run B1 once. Returns (outputs of layers L_1..L_n, B1's output
        features for the neck and the router)."""
        feats, x = [], inputs
        for layer in self._layers1:
            x = layer(x)
            feats.append(x)
        return feats[1:], [feats[i] for i in self._out1]

    def backbone2(self, inputs: Tensor,
                  feats1: Sequence[Tensor]) -> List[Tensor]:
        """Run B2 with the composite connection from B1's layer outputs."""
        feats, x = [], inputs
        for k, layer in enumerate(self._layers2):
            if k > 0:
                x = x + self.composite(k - 1, feats1, x.shape[-2:])
            x = layer(x)
            feats.append(x)
        return [feats[i] for i in self._out2]

    @staticmethod
    @contextlib.contextmanager
    def _features(detector: BaseDetector, backbone_feats: Sequence[Tensor]):
        """Make ``detector.extract_feat`` return its neck applied to the
        given backbone features, so that its own ``loss``/``predict``/
        ``_forward`` (mmdet's code, any detector type) run on them."""

        def extract_feat(_inputs):
            x = tuple(backbone_feats)
            return detector.neck(x) if detector.with_neck else x

        detector.extract_feat = extract_feat
        try:
            yield detector
        finally:
            del detector.extract_feat

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor]:
        """Detector 1's neck features (N, C, H_i, W_i) for the batch."""
        _, out1 = self.backbone1(batch_inputs)
        with self._features(self.detector1, out1) as det:
            return det.extract_feat(batch_inputs)

    # ---------------------------------------------------------------- train
    def _weighted(self, losses: Dict, prefix: str, weight: float) -> Dict:
        out = {}
        for key, value in losses.items():
            if 'loss' in key and weight != 1.0:
                value = [v * weight for v in value] if isinstance(
                    value, (list, tuple)) else value * weight
            out[f'{prefix}.{key}'] = value
        return out

    def _per_image_loss(self, detector: BaseDetector, inputs: Tensor,
                        feats: Sequence[Tensor],
                        samples: SampleList) -> Tensor:
        losses = []
        for i, sample in enumerate(samples):
            with self._features(detector, [f[i:i + 1] for f in feats]):
                losses.append(
                    _sum_losses(detector.loss(inputs[i:i + 1], [sample])))
        return torch.stack([torch.as_tensor(v, device=inputs.device)
                            for v in losses]).float()

    @torch.no_grad()
    def _detached_losses(self, inputs: Tensor, samples: SampleList,
                         feats1: Sequence[Tensor],
                         out1: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        out2 = self.backbone2(inputs, feats1)
        l1 = self._per_image_loss(self.detector1, inputs, out1,
                                  copy.deepcopy(samples))
        l2 = self._per_image_loss(self.detector2, inputs, out2,
                                  copy.deepcopy(samples))
        return l1, l2

    @torch.no_grad()
    def loss_differences(self, batch_inputs: Tensor,
                         batch_data_samples: SampleList) -> Tensor:
        """Per-image ``L1 - L2``: detector 1's total loss minus detector
        2's on each image, without gradients (what Delta is the median of).

        Args:
            batch_inputs (Tensor): (N, 3, H, W), preprocessed.
            batch_data_samples (list[DetDataSample]): N samples with
                ``gt_instances``.

        Returns:
            Tensor: (N, ) float differences.
        """
        feats1, out1 = self.backbone1(batch_inputs)
        l1, l2 = self._detached_losses(batch_inputs, batch_data_samples,
                                       feats1, out1)
        return l1 - l2

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses of the current phase (see the class docstring).

        Args:
            batch_inputs (Tensor): (N, 3, H, W).
            batch_data_samples (list[DetDataSample]): N samples with
                ``gt_instances``.
        """
        feats1, out1 = self.backbone1(batch_inputs)
        if self.phase == 'joint':
            with self._features(self.detector1, out1) as det:
                losses = self._weighted(
                    det.loss(batch_inputs, copy.deepcopy(batch_data_samples)),
                    'd1', self.loss_weights[0])
            out2 = self.backbone2(batch_inputs, feats1)
            with self._features(self.detector2, out2) as det:
                losses.update(
                    self._weighted(
                        det.loss(batch_inputs, batch_data_samples), 'd2',
                        self.loss_weights[1]))
            return losses

        l1, l2 = self._detached_losses(batch_inputs, batch_data_samples,
                                       feats1, out1)
        phi = self.router([f.detach() for f in out1])
        delta = self.delta.to(phi.dtype)
        loss = ((1 - phi) * (l1 - delta / 2) + phi * (l2 + delta / 2)).mean()
        self.last_loss_diffs = (l1 - l2).detach()
        return dict(
            loss_router=loss,
            router_score=phi.detach().mean(),
            router_hard_ratio=(phi.detach() >
                               self.test_cfg['threshold']).float().mean())

    # -------------------------------------------------------------- predict
    def route(self, out1: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Scores phi (N, ) and the hard mask (N, ) for B1 outputs."""
        phi = self.router(out1)
        return phi, phi > self.test_cfg['threshold']

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Route each image and predict with detector 1 (easy) or 2 (hard).

        Returns:
            list[DetDataSample]: In input order, with ``pred_instances``
            (``bboxes``, ``scores``, ``labels`` and ``masks`` for Mask
            R-CNN) and ``difficulty_score`` / ``route`` in the metainfo.
        """
        feats1, out1 = self.backbone1(batch_inputs)
        phi, hard = self.route(out1)
        for sample, score, is_hard in zip(batch_data_samples, phi.tolist(),
                                          hard.tolist()):
            sample.set_metainfo(
                dict(
                    difficulty_score=score,
                    route='hard' if is_hard else 'easy'))
        easy_idx = (~hard).nonzero().flatten()
        hard_idx = hard.nonzero().flatten()
        if len(easy_idx):
            inputs, out1 = self._take(batch_inputs, out1, easy_idx)
            self._predict_subset(self.detector1, inputs, out1,
                                 batch_data_samples, easy_idx, rescale)
        if len(hard_idx):
            inputs, feats1 = self._take(batch_inputs, feats1, hard_idx)
            out2 = self.backbone2(inputs, feats1)
            self._predict_subset(self.detector2, inputs, out2,
                                 batch_data_samples, hard_idx, rescale)
        return batch_data_samples

    @staticmethod
    def _take(inputs: Tensor, feats: Sequence[Tensor],
              idx: Tensor) -> Tuple[Tensor, List[Tensor]]:
        """The images ``idx`` of a batch; no copy when that is all of it
        (a batch on one route costs what the plain detector costs)."""
        if len(idx) == len(inputs):
            return inputs, list(feats)
        return inputs[idx], [f[idx] for f in feats]

    def _predict_subset(self, detector, inputs, feats, samples, idx,
                        rescale) -> None:
        """Predict the images ``idx`` of ``samples`` (``inputs`` and
        ``feats`` are already theirs) with ``detector``."""
        subset = [samples[i] for i in idx.tolist()]
        with self._features(detector, feats) as det:
            # the detector writes pred_instances into the same sample objects
            det.predict(inputs, subset, rescale=rescale)

    def _forward(self,
                 batch_inputs: Tensor,
                 batch_data_samples: SampleList = None) -> tuple:
        """Tensor-mode forward of the route ``test_cfg.tensor_route`` for
        the whole batch (router included), e.g. for FLOPs counting."""
        feats1, out1 = self.backbone1(batch_inputs)
        phi = self.router(out1)
        if self.test_cfg['tensor_route'] == 'easy':
            detector, feats = self.detector1, out1
        else:
            detector, feats = self.detector2, self.backbone2(
                batch_inputs, feats1)
        with self._features(detector, feats) as det:
            return (phi, ) + tuple(det._forward(batch_inputs,
                                                batch_data_samples))
