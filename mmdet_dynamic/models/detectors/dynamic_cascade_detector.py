# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""DynamicDet's dynamic architecture as an mmdet detector."""
import copy
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.dist import all_gather_object, get_rank, get_world_size
from torch import Tensor

from mmdet.models.detectors import (BaseDetector, DeformableDETR,
                                    DetectionTransformer, TwoStageDetector)
from mmdet_dynamic.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmdet_dynamic.evaluation import image_ap
from ..layers.adaptive_router import AdaptiveRouter, logit_of, sigmoid_of
from ..layers.composite_connection import CompositeConnection
from ..layers.backbone_stages import backbone_stages, forward_stages
from .detector_heads import (check_wrappable, heads_forward, heads_loss,
                             heads_predict, neck_features)

PHASES = ('joint', 'router')
ROUTER_TARGETS = ('loss', 'ap_gain')
TEST_CFG_KEYS = ('threshold', 'tensor_route')
HEAD_NAMES = ('neck', 'rpn_head', 'roi_head', 'bbox_head')


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


def router_loss(phi: Tensor, l1: Tensor, l2: Tensor, delta: Tensor) -> Tensor:
    """DynamicDet's router loss, averaged over the batch:
    ``(1 - phi) (L1 - Delta / 2) + phi (L2 + Delta / 2)``.

    Args:
        phi (Tensor): Router scores (N, ).
        l1, l2 (Tensor): Detached per-image losses of detector 1 and 2 (N, ).
        delta (Tensor): Delta, a scalar (the median of L1 - L2).
    """
    delta = delta.to(phi.dtype)
    return ((1 - phi) * (l1 - delta / 2) + phi * (l2 + delta / 2)).mean()


def checked_threshold(threshold: float) -> float:
    """A routing threshold tau as a float, checked to lie in [0, 1] (images
    with phi > tau go hard: 0 sends every image hard, 1 every image easy).

    Raises:
        ValueError: If ``threshold`` is outside [0, 1].
    """
    threshold = float(threshold)
    if not 0.0 <= threshold <= 1.0:
        raise ValueError(
            f'routing threshold must be in [0, 1] (0: every image hard, '
            f'1: every image easy), got {threshold}')
    return threshold


def route_metainfo(logit: float, is_hard: bool) -> dict:
    """What a routed image's ``DetDataSample`` carries in its metainfo:
    ``difficulty_score`` (phi), ``difficulty_logit`` and ``route``."""
    return dict(
        difficulty_score=sigmoid_of(logit),
        difficulty_logit=logit,
        route='hard' if is_hard else 'easy')


def own_pad_groups(inputs: Tensor, samples: SampleList,
                   pad_size_divisor: int) -> List[Tuple[Tensor, tuple]]:
    """Images grouped by the input size each would have alone (its
    ``img_shape`` padded to ``pad_size_divisor``, as mmdet's preprocessor
    pads one image), capped by the batch's size.

    Args:
        inputs (Tensor): (N, 3, H, W) padded batch.
        samples (list[DetDataSample]): Its N samples.
        pad_size_divisor (int): The preprocessor's divisor.

    Returns:
        list: ``[(indices, (h, w)), ...]`` in order of first appearance.
    """
    height, width = inputs.shape[-2:]
    div = int(pad_size_divisor)
    groups: Dict[tuple, List[int]] = {}
    for i, sample in enumerate(samples):
        if 'img_shape' not in sample:
            shape = (height, width)
        else:
            h, w = sample.img_shape[:2]
            shape = (min(height, -(-h // div) * div),
                     min(width, -(-w // div) * div))
        groups.setdefault(shape, []).append(i)
    return [(torch.tensor(idx, device=inputs.device), shape)
            for shape, idx in groups.items()]


def wrapped_detector_cfg(cascade_cfg: ConfigType) -> dict:
    """The single detector a cascade config wraps (``detector``, with
    ``backbone`` put back when the config gives it at the top level): what
    detector 1 alone is, e.g. for a baseline or ``lat1``."""
    detector = copy.deepcopy(dict(cascade_cfg['detector']))
    if cascade_cfg.get('backbone') is not None:
        detector['backbone'] = copy.deepcopy(cascade_cfg['backbone'])
    return detector


@MODELS.register_module()
class DynamicCascadeDetector(BaseDetector):
    """Two detectors in cascade with an adaptive router (DynamicDet, CVPR
    2023), wrapping an ordinary mmdet detector config.

    Detector 1 is backbone B1 + neck/heads D1; detector 2 is backbone B2 +
    neck/heads D2; both are ordinary mmdet detectors built from
    ``detector``. The cascade composes their parts: it runs each backbone's
    own ``forward`` (forward hooks on ``detector1.backbone`` fire as in the
    plain detector), reads B1's stage outputs and adds B2's composite input
    at the stages the backbone declares (see
    :mod:`mmdet_dynamic.models.layers.backbone_stages`), and runs each
    detector's neck and heads with mmdet's own head code (see
    :mod:`mmdet_dynamic.models.detectors.detector_heads`). B2 receives B1's
    stage outputs through a :class:`CompositeConnection`
    (zero-initialised: B2 starts as a plain backbone).
    :class:`AdaptiveRouter` scores each image from B1's output features
    (pooled over the image's own region, not its batch's padding); at test
    time images with ``phi > threshold`` are *hard* and go through B2 + D2
    only, the others are *easy* and go through D1 only. A batch with mixed
    routes is split and the results come back in input order; every
    ``DetDataSample`` gets ``difficulty_score`` and ``route`` in its
    metainfo. An image's score, route and detections do not depend on its
    batch-mates (see :meth:`predict`).

    Training has two phases (``phase``, switched by setting the attribute,
    e.g. from a hook): ``'joint'`` trains both detectors (losses prefixed
    ``d1.`` and ``d2.``, weighted by ``loss_weights``); ``'router'`` trains
    only the router with ``(1 - phi) (L1 - Delta/2) + phi (L2 + Delta/2)``
    averaged over the batch, where L1, L2 are the detached per-image losses
    of the two detectors (backbones run once per batch, heads per image) and
    ``Delta`` is the :attr:`delta` buffer (saved in checkpoints). The
    per-image differences
    ``L1 - L2`` of the last batch are in :attr:`last_loss_diffs`, its router
    logits in :attr:`last_router_logits`.

    Args:
        detector (dict): An mmdet detector config, single-stage
            (``YOLOX``, ``RetinaNet``, ...) or two-stage (``FasterRCNN``,
            ``MaskRCNN``, ...). Its ``data_preprocessor`` becomes the
            cascade's.
        backbone (dict, optional): B1's backbone (and B2's, unless
            ``backbone2``), when ``detector`` leaves its ``backbone`` out,
            as this package's configs do: mmdet's tools find it at
            ``model.backbone`` as in any mmdet detector config
            (``init_detector`` clears its ``init_cfg`` there). Give the
            backbone in one of the two places.
        backbone2 (dict, optional): B2 config when it differs from B1 (other
            arch or width). Defaults to a copy of B1's config.
        share_heads (bool, optional): D2 is D1 (the paper's R-CNN setting).
            Defaults to True for two-stage and False for single-stage
            detectors.
        layout (str): Where the cascade joins the backbones.
            ``'cbnetv2'`` (default, any supported backbone): the composite
            input enters each stage's input (before its down-sampling), the
            router pools B1's outputs. ``'dynamicdet'`` (EELAN backbones):
            DynamicDet's YOLO layout, as its official dy-yolov7 cfgs: the
            composite input enters right after each down-sampling layer,
            from the stride-2 level on, and the router pools every level
            from stride 2 (see :meth:`EELAN.stage_specs`).
        composite_cfg (dict): Arguments of :class:`CompositeConnection`
            (``norm_cfg``; ``zero_init``). DynamicDet's YOLO code uses
            ``norm_cfg=None`` and PyTorch's default conv init
            (``zero_init=False``).
        loss_weights (Sequence[float]): Joint-phase weights of detector 1's
            and detector 2's losses. Defaults to (1, 1).
        phase (str): ``'joint'`` or ``'router'``.
        router_target (str): What the per-image costs L1 and L2 of the
            router loss are. ``'loss'`` (default, DynamicDet's): each
            detector's total training loss on the image. ``'ap_gain'``:
            minus each detector's COCO AP (IoU 0.50:0.95) on the image
            (its predictions with the wrapped detector's ``test_cfg``
            against the image's ground truth), so ``L1 - L2`` is detector
            2's AP gain on the image and Delta its median. The loss of an
            overfit detector on its own training images says little about
            new images; the AP gain measures what routing is scored on.
            Not DynamicDet's; the official recipes keep ``'loss'``.
        init_detectors_from (str, optional): A single-detector checkpoint
            (e.g. a baseline trained with mmdet) loaded into both detectors
            by :meth:`init_weights`. A shorthand for
            ``detector.init_cfg=dict(type='Pretrained', checkpoint=...)``:
            mmengine's ``Pretrained`` init loads it (keys that do not fit
            are reported and skipped, as mmengine does).
        synced_head_attrs (Sequence[str]): Mode attributes of detector 1's
            head (:attr:`bbox_head`) that detector 2's head follows; mmdet
            hooks write them to ``model.bbox_head`` (``YOLOXModeSwitchHook``
            sets ``use_l1``). Copied at every :meth:`loss`/:meth:`predict`.
            Defaults to ``('use_l1', )``.
        train_cfg (dict, optional): Unused; the wrapped detector's config
            holds its own ``train_cfg``.
        test_cfg (dict, optional): ``threshold`` (in [0, 1]; 0 sends every
            image hard, 1 every image easy; default 0.5) and
            ``tensor_route`` (``'easy'`` or ``'hard'``: the route that
            ``_forward`` takes, e.g. for FLOPs counting; default ``'hard'``).
            Any other key is an error.
        data_preprocessor (dict, optional): Overrides the detector's.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 detector: ConfigType,
                 backbone: OptConfigType = None,
                 backbone2: OptConfigType = None,
                 share_heads: Optional[bool] = None,
                 layout: str = 'cbnetv2',
                 composite_cfg: ConfigType = dict(norm_cfg=dict(type='BN')),
                 loss_weights: Sequence[float] = (1.0, 1.0),
                 phase: str = 'joint',
                 router_target: str = 'loss',
                 init_detectors_from: Optional[str] = None,
                 synced_head_attrs: Sequence[str] = ('use_l1', ),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        detector = copy.deepcopy(dict(detector))
        det_preprocessor = detector.pop('data_preprocessor', None)
        super().__init__(
            data_preprocessor=data_preprocessor or det_preprocessor,
            init_cfg=init_cfg)
        self.layout = layout
        self._build_detectors(detector, backbone, backbone2,
                              init_detectors_from)
        self._declare_stages()
        self._share_heads(share_heads)
        self._build_composite(composite_cfg)
        self.router = AdaptiveRouter(self.stages1.router_channels)
        self._set_loss_weights(loss_weights)
        self.synced_head_attrs = tuple(synced_head_attrs)
        self.register_buffer('delta', torch.zeros(()))
        self.last_loss_diffs: Optional[Tensor] = None
        self.last_router_logits: Optional[Tensor] = None
        self.test_cfg = self._checked_test_cfg(test_cfg)
        if router_target not in ROUTER_TARGETS:
            raise ValueError(f'router_target must be one of {ROUTER_TARGETS}'
                             f', got {router_target!r}')
        self.router_target = router_target
        self.phase = phase

    # ---------------------------------------------------------- build steps
    def _build_detectors(self, detector: dict, backbone: OptConfigType,
                         backbone2: OptConfigType,
                         init_detectors_from: Optional[str]) -> None:
        """Build detector 1 and detector 2 (B1 from ``backbone`` or
        ``detector.backbone``, B2 from ``backbone2`` if given), each
        initialised from ``init_detectors_from`` through mmengine's
        ``Pretrained`` init if given."""
        if backbone is not None:
            inner = detector.get('backbone')
            if inner is not None and dict(inner) != dict(backbone):
                raise ValueError(
                    'DynamicCascadeDetector got two different backbones, '
                    'model.backbone and model.detector.backbone; give it '
                    'once, or the same in both. Wrapping a detector config, '
                    'give it once: backbone=_base_.model.backbone, '
                    'detector=dict(_base_.model, backbone=None); in a '
                    'config that keeps both, clear the inner one: '
                    '--cfg-options model.detector.backbone=None')
            detector['backbone'] = copy.deepcopy(backbone)
        elif detector.get('backbone') is None:
            raise ValueError(
                'DynamicCascadeDetector needs a backbone: model.backbone '
                '(or model.detector.backbone)')
        if init_detectors_from:
            detector['init_cfg'] = dict(
                type='Pretrained', checkpoint=init_detectors_from)
        self.init_detectors_from = init_detectors_from
        self.detector1 = MODELS.build(copy.deepcopy(detector))
        check_wrappable(self.detector1, detector['type'])
        det2_cfg = copy.deepcopy(detector)
        if backbone2 is not None:
            det2_cfg['backbone'] = copy.deepcopy(backbone2)
        self.detector2 = MODELS.build(det2_cfg)
        self.two_stage = isinstance(self.detector1, TwoStageDetector)

    def _declare_stages(self) -> None:
        """Read both backbones' declared stages (see
        :mod:`mmdet_dynamic.models.layers.backbone_stages`)."""
        self.stages1 = backbone_stages(self.detector1.backbone, self.layout)
        self.stages2 = backbone_stages(self.detector2.backbone, self.layout)
        n1, n2 = len(self.stages1.fused), len(self.stages2.fused)
        if n1 != n2:
            raise ValueError(
                f'B1 has {n1} fused stages and B2 {n2}: the composite '
                'connection needs backbones with the same number of stages')
        self._fusion_level = {k: i for i, k in enumerate(self.stages2.fused)}

    def _share_heads(self, share_heads: Optional[bool]) -> None:
        """With ``share_heads`` (default for two-stage detectors) detector
        2 uses detector 1's neck and heads (the same modules)."""
        self.share_heads = self.two_stage if share_heads is None \
            else share_heads
        if not self.share_heads:
            return
        if isinstance(self.detector1, DetectionTransformer):
            raise ValueError(
                'share_heads=True is not supported for DETR-like detectors '
                f'({type(self.detector1).__name__}): their heads are the '
                'neck, the transformer and the bbox head together; use '
                'share_heads=False (the default for them)')
        out1, out2 = self.stages1.out_channels, self.stages2.out_channels
        if out1 != out2:
            raise ValueError(
                f'share_heads=True needs B1 and B2 to give the same output '
                f'channels, got {out1} and {out2}; use share_heads=False or '
                'a matching backbone2')
        for name in HEAD_NAMES:
            if hasattr(self.detector1, name):
                setattr(self.detector2, name, getattr(self.detector1, name))

    def _build_composite(self, composite_cfg: ConfigType) -> None:
        """The composite connection from B1's fused stages into the fusion
        points of B2's (stages 1..n in the CBNetV2 layout)."""
        self.composite = CompositeConnection(self.stages1.source_channels,
                                             self.stages2.fusion_channels,
                                             **composite_cfg)

    def _set_loss_weights(self, loss_weights: Sequence[float]) -> None:
        if len(loss_weights) != 2:
            raise ValueError('loss_weights needs two values (detector 1, '
                             f'detector 2), got {loss_weights}')
        self.loss_weights = tuple(float(w) for w in loss_weights)

    def _checked_test_cfg(self, test_cfg: OptConfigType) -> dict:
        """``test_cfg`` with defaults; unknown keys and bad values are
        errors."""
        test_cfg = dict(test_cfg or {})
        unknown = sorted(set(test_cfg) - set(TEST_CFG_KEYS))
        if unknown:
            raise KeyError(
                f'unknown key(s) {unknown} in DynamicCascadeDetector\'s '
                f'test_cfg; known keys: {list(TEST_CFG_KEYS)} (the wrapped '
                "detector's own test_cfg goes in detector.test_cfg)")
        test_cfg.setdefault('threshold', 0.5)
        test_cfg.setdefault('tensor_route', 'hard')
        if test_cfg['tensor_route'] not in ('easy', 'hard'):
            raise ValueError("test_cfg.tensor_route must be 'easy' or "
                             f"'hard', got {test_cfg['tensor_route']!r}")
        test_cfg['threshold'] = checked_threshold(
            test_cfg['threshold'])
        return test_cfg

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
        if value == 'router' and self.router_target == 'loss':
            self._check_eval_losses()
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
        self.test_cfg['threshold'] = checked_threshold(threshold)

    def _check_eval_losses(self) -> None:
        """The router phase scores frozen detectors (eval mode). mmdet's
        Deformable DETR and DINO give their heads the encoder outputs only
        in training mode, so their loss cannot be computed there.

        Raises:
            ValueError: Naming the detector and the option that works
                (``router_target='ap_gain'``).
        """
        if isinstance(self.detector1, DeformableDETR):
            name = type(self.detector1).__name__
            raise ValueError(
                f"router_target='loss' needs each detector's loss with the "
                f'detectors frozen (eval mode), and mmdet\'s {name} computes '
                'its loss only in training mode (its encoder outputs reach '
                "the head only then). Use router_target='ap_gain' for "
                f'{name} cascades.')

    @property
    def bbox_head(self) -> nn.Module:
        """Detector 1's ``bbox_head`` (``roi_head`` for two-stage
        detectors): the head that mmdet hooks configure through
        ``model.bbox_head`` (e.g. ``YOLOXModeSwitchHook`` sets
        ``use_l1``). Detector 2's head follows it: the attributes named in
        ``synced_head_attrs`` are copied to it at every :meth:`loss` and
        :meth:`predict` (see :meth:`sync_heads`)."""
        return self._head(self.detector1)

    def _head(self, detector: BaseDetector) -> nn.Module:
        return detector.roi_head if self.two_stage else detector.bbox_head

    def sync_heads(self) -> None:
        """Copy the ``synced_head_attrs`` of detector 1's head to detector
        2's head (a no-op when the heads are shared)."""
        head1, head2 = self._head(self.detector1), self._head(self.detector2)
        if head1 is head2:
            return
        for name in self.synced_head_attrs:
            if hasattr(head1, name):
                setattr(head2, name, getattr(head1, name))

    @property
    def with_mask(self) -> bool:
        return self.detector1.with_mask

    # ------------------------------------------------------------- features
    def run_backbone1(self,
                      inputs: Tensor) -> Tuple[List[Tensor], List[Tensor]]:
        """Run B1 once (its own forward).

        Args:
            inputs (Tensor): (N, 3, H, W) images.

        Returns:
            tuple: Every stage output of B1 (stem first), and B1's own
            outputs (what its neck and the router take).
        """
        outs, feats = forward_stages(self.detector1.backbone, self.stages1,
                                     inputs)
        return feats, list(outs)

    def run_backbone2(self, inputs: Tensor,
                      feats1: Sequence[Tensor]) -> List[Tensor]:
        """Run B2 (its own forward) with the composite input from B1's
        stage outputs ``feats1`` added at each fusion point.

        Returns:
            list[Tensor]: B2's own outputs.
        """

        sources = [feats1[k] for k in self.stages1.fused]

        def fuse(k: int, x: Tensor) -> Tensor:
            return self.composite(self._fusion_level[k], sources,
                                  x.shape[-2:])

        outs, _ = forward_stages(self.detector2.backbone, self.stages2,
                                 inputs, fuse)
        return list(outs)

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor]:
        """Detector 1's neck features (N, C, H_i, W_i) for the batch."""
        _, out1 = self.run_backbone1(batch_inputs)
        return neck_features(self.detector1, out1)

    # ---------------------------------------------------------------- train
    def _weighted(self, losses: Dict, prefix: str, weight: float) -> Dict:
        out = {}
        for key, value in losses.items():
            if 'loss' in key and weight != 1.0:
                value = [v * weight for v in value] if isinstance(
                    value, (list, tuple)) else value * weight
            out[f'{prefix}.{key}'] = value
        return out

    def _detector_loss(self, detector: BaseDetector,
                       backbone_outs: Sequence[Tensor],
                       samples: SampleList) -> Dict:
        return heads_loss(detector, backbone_outs, samples)

    def _per_image_loss(self, detector: BaseDetector,
                        feats: Sequence[Tensor],
                        samples: SampleList) -> Tensor:
        """Each image's total loss alone (N, ), without gradients.

        Under distributed training every rank runs the neck and heads of
        every image of the step (its B outputs gathered from all ranks), in
        the same order, and keeps its own images' losses: a head whose loss
        averages a count over the ranks (mmdet's ``reduce_mean`` of the
        positive samples, in YOLOX, FCOS, ATSS, ...) then sees the same
        image on every rank, so each image's loss is the one a single
        process computes, whatever the number of processes, and every rank
        makes the same collective calls (no rank waits for another)."""
        items = [([f[i:i + 1] for f in feats], sample)
                 for i, sample in enumerate(samples)]
        start = 0
        if get_world_size() > 1:
            parts = all_gather_object([([f.cpu() for f in fs], s.cpu())
                                       for fs, s in items])
            start = sum(len(p) for p in parts[:get_rank()])
            device = feats[0].device
            items = [([f.to(device) for f in fs], s.to(device))
                     for part in parts for fs, s in part]
        losses = [
            _sum_losses(self._detector_loss(detector, fs, [sample]))
            for fs, sample in items
        ]
        losses = losses[start:start + len(samples)]
        device = feats[0].device
        return torch.stack([torch.as_tensor(v, device=device)
                            for v in losses]).float()

    def _per_image_neg_ap(self, detector: BaseDetector,
                          feats: Sequence[Tensor],
                          samples: SampleList) -> Tensor:
        """Minus each image's COCO AP (IoU 0.50:0.95) of ``detector``'s
        predictions (its ``test_cfg``, in input coordinates) against the
        image's ``gt_instances``."""
        samples = heads_predict(detector, feats, copy.deepcopy(samples),
                                rescale=False)
        costs = []
        for sample in samples:
            pred, gt = sample.pred_instances, sample.gt_instances
            costs.append(-image_ap(
                pred.bboxes.detach().cpu().numpy(),
                pred.scores.detach().cpu().numpy(),
                pred.labels.cpu().numpy(),
                get_box_tensor(gt.bboxes).detach().cpu().numpy(),
                gt.labels.cpu().numpy()))
        return torch.tensor(costs, device=feats[0].device)

    @torch.no_grad()
    def _detached_losses(self,
                         inputs: Tensor,
                         samples: SampleList,
                         feats1: Sequence[Tensor],
                         out1: Sequence[Tensor],
                         target: Optional[str] = None
                         ) -> Tuple[Tensor, Tensor]:
        """Per-image costs L1, L2 (N, ) of the two detectors, as ``target``
        (default: ``router_target``) defines them."""
        target = target or self.router_target
        if target not in ROUTER_TARGETS:
            raise ValueError(f'router target must be one of '
                             f'{ROUTER_TARGETS}, got {target!r}')
        if target == 'loss':
            self._check_eval_losses()
        out2 = self.run_backbone2(inputs, feats1)
        cost = self._per_image_loss if target == 'loss' \
            else self._per_image_neg_ap
        l1 = cost(self.detector1, out1, copy.deepcopy(samples))
        l2 = cost(self.detector2, out2, copy.deepcopy(samples))
        return l1, l2

    @torch.no_grad()
    def loss_differences(self,
                         batch_inputs: Tensor,
                         batch_data_samples: SampleList,
                         target: Optional[str] = None) -> Tensor:
        """Per-image ``L1 - L2`` without gradients (what Delta is the
        median of): detector 1's total loss minus detector 2's on each
        image, or, with ``router_target='ap_gain'``, detector 2's AP minus
        detector 1's.

        Args:
            batch_inputs (Tensor): (N, 3, H, W), preprocessed.
            batch_data_samples (list[DetDataSample]): N samples with
                ``gt_instances``.
            target (str, optional): ``'loss'`` or ``'ap_gain'``; defaults
                to the model's ``router_target``.

        Returns:
            Tensor: (N, ) float differences.
        """
        self.sync_heads()
        feats1, out1 = self.run_backbone1(batch_inputs)
        l1, l2 = self._detached_losses(batch_inputs, batch_data_samples,
                                       feats1, out1, target)
        return l1 - l2

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses of the current phase (see the class docstring).

        Args:
            batch_inputs (Tensor): (N, 3, H, W).
            batch_data_samples (list[DetDataSample]): N samples with
                ``gt_instances``.
        """
        self.sync_heads()
        feats1, out1 = self.run_backbone1(batch_inputs)
        if self.phase == 'joint':
            losses = self._weighted(
                self._detector_loss(self.detector1, out1,
                                    copy.deepcopy(batch_data_samples)),
                'd1', self.loss_weights[0])
            out2 = self.run_backbone2(batch_inputs, feats1)
            losses.update(
                self._weighted(
                    self._detector_loss(self.detector2, out2,
                                        batch_data_samples), 'd2',
                    self.loss_weights[1]))
            return losses

        l1, l2 = self._detached_losses(batch_inputs, batch_data_samples,
                                       feats1, out1)
        logits, hard = self.route([f.detach() for f in feats1],
                                  batch_inputs, batch_data_samples)
        phi = logits.sigmoid()
        loss = router_loss(phi, l1, l2, self.delta)
        self.last_loss_diffs = (l1 - l2).detach()
        self.last_router_logits = logits.detach()
        return dict(
            loss_router=loss,
            router_score=phi.detach().mean(),
            router_hard_ratio=hard.float().mean())

    # -------------------------------------------------------------- predict
    @staticmethod
    def _valid_region(inputs: Tensor, samples: Optional[SampleList]):
        """Each image's own (h, w) in the padded batch, and the batch's
        (H, W): what the router averages over. (None, None) without
        ``img_shape`` metainfo (whole maps)."""
        if not samples or any('img_shape' not in s for s in samples):
            return None, None
        return [tuple(s.img_shape[:2]) for s in samples], \
            tuple(inputs.shape[-2:])

    def route(self,
              feats1: Sequence[Tensor],
              inputs: Optional[Tensor] = None,
              samples: Optional[SampleList] = None) -> Tuple[Tensor, Tensor]:
        """Router logits (N, ) and the hard mask (N, ) from B1's stage
        outputs ``feats1`` (the router pools those of
        ``stages1.routed``: B1's outputs in the CBNetV2 layout, every level
        from stride 2 in the DynamicDet layout); with the batch ``inputs``
        and ``samples``, each image's score pools only its own region (see
        :class:`AdaptiveRouter`).

        An image is hard if ``phi > threshold``, decided on the logits
        (``logit > logit(threshold)``, in float64) so that images whose phi
        saturates to the same float still compare by their logits.
        """
        region = self._valid_region(inputs, samples) \
            if inputs is not None else (None, None)
        logits = self.router.logits([feats1[k] for k in self.stages1.routed],
                                    *region)
        return logits, logits.double() > self.logit_threshold()

    def logit_threshold(self) -> float:
        """``logit(threshold)`` in float64: -inf for 0 (every image hard),
        +inf for 1 (every image easy)."""
        return logit_of(self.test_cfg['threshold'])

    def _own_pad_groups(self, inputs: Tensor,
                        samples: SampleList) -> List[Tuple[Tensor, tuple]]:
        return own_pad_groups(
            inputs, samples,
            int(getattr(self.data_preprocessor, 'pad_size_divisor', 1)))

    def difficulty_logits(self, batch_inputs: Tensor,
                          batch_data_samples: SampleList) -> Tensor:
        """The router logits (N, ) that :meth:`predict` routes by (B1 and
        the router only; the same grouping by own padded size). ``sigmoid``
        of them is phi."""
        logits = batch_inputs.new_empty(len(batch_data_samples))
        for idx, (h, w) in self._own_pad_groups(batch_inputs,
                                                batch_data_samples):
            inputs = batch_inputs[idx, :, :h, :w]
            samples = [batch_data_samples[i] for i in idx.tolist()]
            feats1, _ = self.run_backbone1(inputs)
            logits[idx] = self.route(feats1, inputs, samples)[0]
        return logits

    def router_inputs(self, batch_inputs: Tensor,
                      batch_data_samples: SampleList) -> Tensor:
        """The router's input vectors (N, d): B1's routed levels pooled
        over each image's own cells (:meth:`AdaptiveRouter.pooled`), the
        same grouping by own padded size as :meth:`difficulty_logits`. In
        the router phase they are fixed per image (B1 is frozen)."""
        pooled = None
        for idx, (h, w) in self._own_pad_groups(batch_inputs,
                                                batch_data_samples):
            inputs = batch_inputs[idx, :, :h, :w]
            samples = [batch_data_samples[i] for i in idx.tolist()]
            feats1, _ = self.run_backbone1(inputs)
            vec = self.router.pooled([feats1[k] for k in self.stages1.routed],
                                     *self._valid_region(inputs, samples))
            if pooled is None:
                pooled = vec.new_empty((len(batch_data_samples), ) +
                                       vec.shape[1:])
            pooled[idx] = vec
        return pooled

    def difficulty_scores(self, batch_inputs: Tensor,
                          batch_data_samples: SampleList) -> Tensor:
        """phi (N, ): ``sigmoid`` of :meth:`difficulty_logits`."""
        return self.difficulty_logits(batch_inputs,
                                      batch_data_samples).sigmoid()

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Route each image and predict with detector 1 (easy) or 2 (hard).

        An image's score, route and detections do not depend on the other
        images of its batch: images whose own padded size (``img_shape``
        padded to ``pad_size_divisor``, as the preprocessor pads an image
        alone) is smaller than the batch's run on their own crop of the
        batch, grouped by that size. A batch of equal-size images is one
        group and runs as it is.

        Returns:
            list[DetDataSample]: In input order, with ``pred_instances``
            (``bboxes``, ``scores``, ``labels`` and ``masks`` for Mask
            R-CNN) and ``difficulty_score`` / ``route`` in the metainfo.
        """
        self.sync_heads()
        groups = self._own_pad_groups(batch_inputs, batch_data_samples)
        if len(groups) == 1 and groups[0][1] == tuple(batch_inputs.shape[-2:]):
            return self._predict_group(batch_inputs, batch_data_samples,
                                       rescale)
        for idx, (h, w) in groups:
            samples = [batch_data_samples[i] for i in idx.tolist()]
            for sample in samples:  # what the preprocessor sets alone
                sample.set_metainfo(
                    dict(batch_input_shape=(h, w), pad_shape=(h, w)))
            self._predict_group(batch_inputs[idx, :, :h, :w], samples,
                                rescale)
        return batch_data_samples

    def _predict_group(self, batch_inputs: Tensor,
                       batch_data_samples: SampleList,
                       rescale: bool) -> SampleList:
        """:meth:`predict` on images of one padded size."""
        feats1, out1 = self.run_backbone1(batch_inputs)
        logits, hard = self.route(feats1, batch_inputs, batch_data_samples)
        for sample, logit, is_hard in zip(batch_data_samples,
                                          logits.tolist(), hard.tolist()):
            sample.set_metainfo(route_metainfo(logit, is_hard))
        easy_idx = (~hard).nonzero().flatten()
        hard_idx = hard.nonzero().flatten()
        if len(easy_idx):
            _, out1 = self._take(batch_inputs, out1, easy_idx)
            self._predict_subset(self.detector1, out1, batch_data_samples,
                                 easy_idx, rescale)
        if len(hard_idx):
            inputs, feats1 = self._take(batch_inputs, feats1, hard_idx)
            out2 = self.run_backbone2(inputs, feats1)
            self._predict_subset(self.detector2, out2, batch_data_samples,
                                 hard_idx, rescale)
        return batch_data_samples

    @staticmethod
    def _take(inputs: Tensor, feats: Sequence[Tensor],
              idx: Tensor) -> Tuple[Tensor, List[Tensor]]:
        """The images ``idx`` of a batch; no copy when that is all of it
        (a batch on one route costs what the plain detector costs)."""
        if len(idx) == len(inputs):
            return inputs, list(feats)
        return inputs[idx], [f[idx] for f in feats]

    def _predict_subset(self, detector: BaseDetector,
                        backbone_outs: Sequence[Tensor], samples: SampleList,
                        idx: Tensor, rescale: bool) -> None:
        """Predict the images ``idx`` of ``samples`` (``backbone_outs`` are
        already theirs) with ``detector``; the results are written into the
        same sample objects."""
        subset = [samples[i] for i in idx.tolist()]
        heads_predict(detector, backbone_outs, subset, rescale)

    def _forward(self,
                 batch_inputs: Tensor,
                 batch_data_samples: SampleList = None) -> tuple:
        """Tensor-mode forward of the route ``test_cfg.tensor_route`` for
        the whole batch (router included), e.g. for FLOPs counting."""
        feats1, out1 = self.run_backbone1(batch_inputs)
        phi = self.route(feats1, batch_inputs,
                         batch_data_samples)[0].sigmoid()
        if self.test_cfg['tensor_route'] == 'easy':
            detector, outs = self.detector1, out1
        else:
            detector = self.detector2
            outs = self.run_backbone2(batch_inputs, feats1)
        return (phi, ) + tuple(
            heads_forward(detector, outs, batch_data_samples))
