# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""YOLOv7's detection head (IDetect / IAuxDetect / Detect)."""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.ops import batched_nms
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.models.dense_heads.base_dense_head import BaseDenseHead
from mmdet.structures.bbox import scale_boxes
from mmdet.utils import (ConfigType, InstanceList, OptConfigType,
                         OptInstanceList, OptMultiConfig)
from mmdet_dynamic.registry import MODELS
from ..layers.implicit import ImplicitA, ImplicitM
from ..losses.yolov7_ota_loss import YOLOv7OTALoss

ANCHORS = {
    'tiny': [[(10, 13), (16, 30), (33, 23)], [(30, 61), (62, 45), (59, 119)],
             [(116, 90), (156, 198), (373, 326)]],
    'P5': [[(12, 16), (19, 36), (40, 28)], [(36, 75), (76, 55), (72, 146)],
           [(142, 110), (192, 243), (459, 401)]],
    'P6': [[(19, 27), (44, 40), (38, 94)], [(96, 68), (86, 152), (180, 137)],
           [(140, 301), (303, 264), (238, 542)],
           [(436, 615), (739, 380), (925, 792)]],
}


@MODELS.register_module()
class YOLOv7Head(BaseDenseHead):
    """YOLOv7's head: per level a 1x1 conv to ``na * (5 + num_classes)``
    channels (box xywh, objectness, classes for each of ``na`` anchors).

    * ``use_implicit=True`` (IDetect, the training form): ImplicitA is
      *added* to the level's map before the conv and ImplicitM
      *multiplies* its output. :meth:`switch_to_deploy` folds them into the
      conv (bias ``b + W a``, then weight and bias times ``m``), which is
      the official deploy ``Detect``.
    * ``aux_in_channels`` (IAuxDetect, P6 training): a plain 1x1 conv per
      level on the neck's auxiliary maps; their outputs only enter the loss
      (:class:`~mmdet_dynamic.models.losses.YOLOv7OTALoss`).

    Decoding as the official code: ``y = sigmoid(t)``;
    ``xy = (2 y - 0.5 + grid) * stride``; ``wh = (2 y)^2 * anchor``; score
    = objectness x class probability (objectness alone with one class);
    then mmdet's class-aware NMS from ``test_cfg``: ``score_thr``
    (YOLOv7's ``conf_thres``: 0.001 for evaluation), ``nms``
    (``iou_threshold`` 0.65 in YOLOv7's test.py for COCO, 0.6 by default
    there), ``max_per_img`` (300), ``multi_label`` (one box per class
    above ``score_thr``; default True as for evaluation), ``nms_pre``
    (30000).

    Bias init (``init_weights``): objectness ``+= log(8 / (640 / s)^2)``,
    classes ``+= log(0.6 / (nc - 0.99))``, on the lead and auxiliary convs.

    Args:
        num_classes (int): Number of classes.
        in_channels (Sequence[int]): Channels of the lead maps.
        anchors (Sequence or str): Per level ``na`` anchors (w, h) in
            pixels, or one of ``'tiny'``, ``'P5'``, ``'P6'`` (the official
            anchors). Defaults to ``'P5'``.
        strides (Sequence[int]): Level strides. Defaults to (8, 16, 32).
        aux_in_channels (Sequence[int]): Channels of the auxiliary maps
            (P6 training); empty for no auxiliary head.
        use_implicit (bool): IDetect (True) or Detect (False).
        loss_gains (dict): ``hyp`` gains ``box``, ``obj``, ``cls``
            (hyp.scratch.p5: 0.05, 0.7, 0.3; tiny: 0.05, 1.0, 0.5), scaled
            as ``train.py`` does by ``3 / nl``, ``nc / 80`` (cls) and
            ``(img_scale / 640)^2`` (obj).
        img_scale (int): Training image size for that scaling.
            Defaults to 640.
        anchor_t (float): Anchor-ratio threshold of the assignment.
        label_smoothing (float): Class label smoothing.
        deploy (bool): Build the deploy form (``Detect``: no implicit
            layers, no auxiliary convs), e.g. to load a re-parameterised
            checkpoint.
        train_cfg, test_cfg (dict, optional): As mmdet heads.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: Sequence[int],
                 anchors='P5',
                 strides: Sequence[int] = (8, 16, 32),
                 aux_in_channels: Sequence[int] = (),
                 use_implicit: bool = True,
                 loss_gains: ConfigType = dict(box=0.05, obj=0.7, cls=0.3),
                 img_scale: int = 640,
                 anchor_t: float = 4.0,
                 label_smoothing: float = 0.0,
                 deploy: bool = False,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if deploy:
            use_implicit, aux_in_channels = False, ()
        self.deploy = deploy
        if isinstance(anchors, str):
            if anchors not in ANCHORS:
                raise ValueError(f'unknown anchors {anchors!r}; give a list '
                                 f'or one of {list(ANCHORS)}')
            anchors = ANCHORS[anchors]
        self.anchors = [[tuple(float(v) for v in a) for a in level]
                        for level in anchors]
        self.strides = [int(s) for s in strides]
        self.num_levels = len(self.strides)
        if len(self.anchors) != self.num_levels or \
                len(in_channels) != self.num_levels:
            raise ValueError(
                f'YOLOv7Head: {len(self.anchors)} anchor levels, '
                f'{len(in_channels)} in_channels and {self.num_levels} '
                'strides; they must be as many')
        if aux_in_channels and len(aux_in_channels) != self.num_levels:
            raise ValueError('aux_in_channels needs one entry per level, got '
                             f'{list(aux_in_channels)}')
        self.num_classes = num_classes
        self.num_anchors = len(self.anchors[0])
        self.num_outputs = num_classes + 5
        self.in_channels = list(in_channels)
        self.aux_in_channels = list(aux_in_channels)
        self.use_implicit = use_implicit
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        out = self.num_anchors * self.num_outputs
        self.convs = nn.ModuleList(nn.Conv2d(c, out, 1) for c in in_channels)
        self.aux_convs = nn.ModuleList(
            nn.Conv2d(c, out, 1) for c in self.aux_in_channels)
        if use_implicit:
            self.implicit_a = nn.ModuleList(ImplicitA(c) for c in in_channels)
            self.implicit_m = nn.ModuleList(
                ImplicitM(out) for _ in in_channels)
        nl = self.num_levels
        self.loss_gains = dict(loss_gains)
        self.img_scale = img_scale
        self.loss_module = YOLOv7OTALoss(
            num_classes,
            self.anchors,
            self.strides,
            box_gain=loss_gains['box'] * 3. / nl,
            obj_gain=loss_gains['obj'] * (img_scale / 640)**2 * 3. / nl,
            cls_gain=loss_gains['cls'] * num_classes / 80. * 3. / nl,
            anchor_t=anchor_t,
            label_smoothing=label_smoothing)

    def init_weights(self) -> None:
        """Default conv init, then YOLOv7's bias priors
        (``_initialize_biases`` / ``_initialize_aux_biases``)."""
        super().init_weights()
        for convs in (self.convs, self.aux_convs):
            for conv, s in zip(convs, self.strides):
                b = conv.bias.data.view(self.num_anchors, -1)
                b[:, 4] += math.log(8 / (640 / s)**2)
                b[:, 5:] += math.log(0.6 / (self.num_classes - 0.99))

    def forward(self, x: Tuple[Tensor, ...]) -> Tuple[List[Tensor], ...]:
        """Neck maps -> raw outputs.

        Args:
            x (tuple[Tensor]): The lead maps (N, in_channels[i], H_i, W_i),
                then, in training with an auxiliary head, the auxiliary
                maps.

        Returns:
            tuple: ``(preds, aux_preds)``, each a list of
            (N, na * (5 + num_classes), H_i, W_i) maps; ``aux_preds`` is
            empty without auxiliary maps.
        """
        nl = self.num_levels
        preds = []
        for i in range(nl):
            y = x[i]
            if self.use_implicit:
                y = self.implicit_m[i](self.convs[i](self.implicit_a[i](y)))
            else:
                y = self.convs[i](y)
            preds.append(y)
        aux_preds = []
        if len(x) > nl and len(self.aux_convs):
            aux_preds = [conv(y) for conv, y in zip(self.aux_convs, x[nl:])]
        return preds, aux_preds

    def _official_layout(self, pred: Tensor) -> Tensor:
        """(N, na * no, H, W) -> (N, na, H, W, no)."""
        n, _, h, w = pred.shape
        return pred.view(n, self.num_anchors, self.num_outputs, h,
                         w).permute(0, 1, 3, 4, 2).contiguous()

    def decode(self, preds: Sequence[Tensor]) -> Tensor:
        """Raw outputs -> (N, sum of na * H_i * W_i, 5 + num_classes):
        boxes (cx, cy, w, h) in input pixels, then sigmoid objectness and
        class probabilities, in the official order."""
        out = []
        for i, pred in enumerate(preds):
            p = self._official_layout(pred).sigmoid()
            n, _, h, w, _ = p.shape
            ys, xs = torch.meshgrid(
                torch.arange(h, device=p.device),
                torch.arange(w, device=p.device),
                indexing='ij')
            grid = torch.stack((xs, ys), 2).view(1, 1, h, w, 2).to(p.dtype)
            anchor = p.new_tensor(self.anchors[i]).view(1, -1, 1, 1, 2)
            xy = (p[..., :2] * 2. - 0.5 + grid) * self.strides[i]
            wh = (p[..., 2:4] * 2)**2 * anchor
            # explicit sizes: an empty batch (a route no image takes in
            # the end-to-end graph) reshapes too
            out.append(
                torch.cat([xy, wh, p[..., 4:]],
                          dim=-1).reshape(n, self.num_anchors * h * w,
                                          self.num_outputs))
        return torch.cat(out, 1)

    def predict_by_feat(self,
                        preds: List[Tensor],
                        aux_preds: Optional[List[Tensor]] = None,
                        batch_img_metas: Optional[List[dict]] = None,
                        cfg: OptConfigType = None,
                        rescale: bool = True,
                        with_nms: bool = True) -> InstanceList:
        """Decode and NMS (see the class docstring).

        Returns:
            list[InstanceData]: Per image ``bboxes`` (k, 4) xyxy,
            ``scores`` (k, ), ``labels`` (k, ).
        """
        cfg = cfg or self.test_cfg or {}
        score_thr = cfg.get('score_thr', 0.001)
        multi_label = cfg.get('multi_label', True) and self.num_classes > 1
        max_per_img = cfg.get('max_per_img', 300)
        nms_pre = cfg.get('nms_pre', 30000)
        nms_cfg = cfg.get('nms', dict(type='nms', iou_threshold=0.65))
        decoded = self.decode(preds)
        results = []
        for img_id, det in enumerate(decoded):
            det = det[det[:, 4] > score_thr]
            boxes = torch.cat([det[:, :2] - det[:, 2:4] / 2,
                               det[:, :2] + det[:, 2:4] / 2], dim=1)
            if self.num_classes == 1:
                cls_scores = det[:, 4:5]
            else:
                cls_scores = det[:, 5:] * det[:, 4:5]
            if multi_label:
                i, j = (cls_scores > score_thr).nonzero(as_tuple=False).T
                boxes, scores, labels = boxes[i], cls_scores[i, j], j
            else:
                scores, labels = cls_scores.max(1)
                keep = scores > score_thr
                boxes, scores, labels = boxes[keep], scores[keep], \
                    labels[keep]
            if scores.numel() > nms_pre:
                top = scores.argsort(descending=True)[:nms_pre]
                boxes, scores, labels = boxes[top], scores[top], labels[top]
            if with_nms and scores.numel():
                dets, keep = batched_nms(boxes, scores, labels, nms_cfg)
                keep = keep[:max_per_img]
                boxes, scores, labels = dets[:max_per_img, :4], \
                    scores[keep], labels[keep]
            if rescale and batch_img_metas is not None and \
                    'scale_factor' in batch_img_metas[img_id]:
                meta = batch_img_metas[img_id]
                boxes = scale_boxes(boxes,
                                    [1 / s for s in meta['scale_factor']])
                if 'ori_shape' in meta:  # as the official scale_coords
                    h, w = meta['ori_shape'][:2]
                    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
                    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
            result = InstanceData()
            result.bboxes = boxes
            result.scores = scores
            result.labels = labels
            results.append(result)
        return results

    def loss_by_feat(self,
                     preds: List[Tensor],
                     aux_preds: List[Tensor],
                     batch_gt_instances: InstanceList,
                     batch_img_metas: List[dict],
                     batch_gt_instances_ignore: OptInstanceList = None
                     ) -> dict:
        """YOLOv7's OTA loss (:class:`YOLOv7OTALoss`) on the raw outputs;
        ground-truth boxes are in input pixels.

        Returns:
            dict: ``loss_bbox``, ``loss_obj``, ``loss_cls``.
        """
        in_h, in_w = batch_img_metas[0]['batch_input_shape']
        rows = []
        for i, gt in enumerate(batch_gt_instances):
            boxes = gt.bboxes
            if hasattr(boxes, 'tensor'):
                boxes = boxes.tensor
            if not len(boxes):
                continue
            cxcy = (boxes[:, :2] + boxes[:, 2:]) / 2
            wh = boxes[:, 2:] - boxes[:, :2]
            scale = boxes.new_tensor([in_w, in_h])
            rows.append(
                torch.cat([
                    boxes.new_full((len(boxes), 1), i),
                    gt.labels[:, None].to(boxes.dtype), cxcy / scale,
                    wh / scale
                ], dim=1))
        device = preds[0].device
        targets = torch.cat(rows) if rows else torch.zeros((0, 6),
                                                           device=device)
        lead = [self._official_layout(p) for p in preds]
        aux = [self._official_layout(p) for p in aux_preds or []]
        return self.loss_module(lead, targets.to(device), (in_h, in_w), aux)

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fold the implicit layers into the output convs and drop the
        auxiliary convs (the official ``IDetect.fuse``); outputs do not
        change."""
        if self.use_implicit:
            for conv, ia, im in zip(self.convs, self.implicit_a,
                                    self.implicit_m):
                w = conv.weight.view(conv.out_channels, -1)
                conv.bias += w @ ia.implicit.view(-1)
                m = im.implicit.view(-1)
                conv.bias *= m
                conv.weight *= m.view(-1, 1, 1, 1)
            del self.implicit_a, self.implicit_m
            self.use_implicit = False
        self.aux_convs = nn.ModuleList()
        self.aux_in_channels = []
        self.deploy = True
