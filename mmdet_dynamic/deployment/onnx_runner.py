# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Run exported graphs in onnxruntime, routing as the PyTorch model does."""
import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from torch import Tensor

from mmdet.structures import SampleList
from mmdet_dynamic.registry import MODELS
from ..models.detectors.dynamic_cascade_detector import (
    checked_threshold, own_pad_groups, route_metainfo, wrapped_detector_cfg)
from ..models.layers.adaptive_router import logit_of
from .onnx_export import (CASCADE_FILES, DETECTOR_FILE, END2END_FILE,
                          FORMAT_VERSION, data_preprocessor_cfg,
                          ort_session, read_metadata,
                          test_pipeline_cfg)
from .route_graphs import unflatten_outputs

ImageType = Union[str, np.ndarray]


class DynamicONNXRunner:
    """Dynamic (or plain) detector exported by :func:`export_onnx`, run in
    onnxruntime.

    Images go through the config's test pipeline and data preprocessor
    (mmdet's own transforms, from the metadata), are grouped by the size
    each would have alone (as :meth:`DynamicCascadeDetector.predict` does,
    so an image's result does not depend on its batch-mates), then graph
    (a) gives each image's router logit; images with
    ``logit > logit(threshold)`` (phi > threshold, compared in float64 as
    the PyTorch model does) run graph (c), the others graph (b). The head's
    own ``predict_by_feat`` (built from the stored config; it holds no
    weights that matter) turns the graphs' outputs into detections.

    An end-to-end export (``end2end.onnx``) is one graph that routes and
    post-processes itself: the runner feeds it each size group with the
    threshold and rescales its padded detections (and pastes its masks)
    into the original images. Its ``difficulty_logit`` is computed from
    the graph's phi output.

    Args:
        model_dir (str): The folder written by ``export_onnx`` (or the path
            of a plain detector's ``detector.onnx``).
        threshold (float, optional): Routing threshold in [0, 1]; defaults
            to the one stored at export. Change it with
            :meth:`set_threshold`.
        providers (list[str], optional): onnxruntime execution providers.
            Defaults to ``['CPUExecutionProvider']``.
        session_options (onnxruntime.SessionOptions, optional): E.g. thread
            counts or the graph optimisation level; the runner adds
            ``onnx_export.ORT_SESSION_CONFIG`` (the settings the graphs
            need) to them.

    Example:
        >>> runner = DynamicONNXRunner('work_dirs/onnx', threshold=0.4)
        >>> results = runner(['a.jpg', 'b.jpg'])
        >>> results[0].route, results[0].pred_instances.bboxes.shape
    """

    def __init__(self,
                 model_dir: str,
                 threshold: Optional[float] = None,
                 providers: Optional[Sequence[str]] = None,
                 session_options=None) -> None:
        files = self._files(model_dir)
        self.meta = {k: read_metadata(p) for k, p in files.items()}
        first = next(iter(self.meta.values()))
        if first.get('format') != FORMAT_VERSION:
            raise ValueError(
                f'{model_dir}: metadata format {first.get("format")}, this '
                f'runner reads format {FORMAT_VERSION}; re-export with '
                'this version of tools/deployment/export_onnx.py')
        self.cascade = first['kind'] == 'cascade'
        self.two_stage = first['two_stage']
        self.end2end = bool(first.get('end2end'))
        self.classes = first['classes']
        self.input_shape = tuple(first['input_shape']) \
            if first['input_shape'] else None
        providers = list(providers or ['CPUExecutionProvider'])
        # with the settings the graphs need (onnx_export.ort_session)
        self.sessions = {
            k: ort_session(p, session_options, providers)
            for k, p in files.items()
        }
        self._inputs = {
            k: [i.name for i in s.get_inputs()]
            for k, s in self.sessions.items()
        }
        cfg = Config.fromstring(first['config'], '.py')
        init_default_scope(cfg.get('default_scope', 'mmdet_dynamic'))
        self.cfg = cfg
        det_cfg = wrapped_detector_cfg(cfg.model) if self.cascade \
            else copy.deepcopy(cfg.model)
        if self.end2end:
            self.mask_thr_binary = _mask_threshold(det_cfg)
        else:
            self._build_heads(det_cfg)
        self._build_preprocessing(cfg)
        self.threshold = first['threshold'] if self.cascade else None
        if threshold is not None:
            self.set_threshold(threshold)

    # ------------------------------------------------------------ set-up
    @staticmethod
    def _files(model_dir: str) -> Dict[str, str]:
        if osp.isfile(model_dir):
            return {'detector': model_dir}
        cascade = [osp.join(model_dir, f) for f in CASCADE_FILES]
        plain = osp.join(model_dir, DETECTOR_FILE)
        end2end = osp.join(model_dir, END2END_FILE)
        found = [p for p in cascade + [plain, end2end] if osp.isfile(p)]
        kinds = [any(osp.isfile(p) for p in cascade), osp.isfile(plain),
                 osp.isfile(end2end)]
        if sum(kinds) > 1:
            raise ValueError(
                f'{model_dir} holds more than one export ({", ".join(found)})'
                ': a cascade\'s three graphs, a plain detector\'s graph or '
                'an end-to-end graph. Export again into a clean folder (an '
                'export replaces the graphs of an earlier one), or remove '
                'the graphs you do not want.')
        if osp.isfile(end2end):
            return {'end2end': end2end}
        if all(osp.isfile(p) for p in cascade):
            return {f[:-5]: p for f, p in zip(CASCADE_FILES, cascade)}
        if osp.isfile(plain):
            return {'detector': plain}
        missing = [p for p in cascade if not osp.isfile(p)]
        raise FileNotFoundError(
            f'{model_dir} holds neither a cascade ({", ".join(CASCADE_FILES)}'
            f'; missing {missing}) nor {DETECTOR_FILE} nor {END2END_FILE}: '
            'export it with '
            'tools/deployment/export_onnx.py CONFIG CKPT --out-dir DIR')

    def _build_heads(self, det_cfg: dict) -> None:
        """The post-processing half of the heads (``predict_by_feat``)."""
        test_cfg = det_cfg.get('test_cfg')
        if self.two_stage:
            self.head = MODELS.build(
                copy.deepcopy(det_cfg['roi_head']['bbox_head']))
            self.rcnn_test_cfg = test_cfg.rcnn
        else:
            head_cfg = copy.deepcopy(det_cfg['bbox_head'])
            head_cfg.update(
                train_cfg=det_cfg.get('train_cfg'), test_cfg=test_cfg)
            self.head = MODELS.build(head_cfg)
        self.head.eval()

    def _build_preprocessing(self, cfg: Config) -> None:
        """mmdet's test pipeline (without annotations) and data
        preprocessor, from the stored config."""
        pipeline = [
            copy.deepcopy(t) for t in test_pipeline_cfg(cfg)
            if 'LoadAnnotations' not in t['type']
        ]
        self._pipeline_file = Compose(pipeline)
        array = copy.deepcopy(pipeline)
        array[0] = dict(type='mmdet.LoadImageFromNDArray')
        self._pipeline_array = Compose(array)
        pre = copy.deepcopy(data_preprocessor_cfg(cfg))
        self.preprocessor = MODELS.build(pre)
        self.pad_size_divisor = int(pre.get('pad_size_divisor', 1))

    # ---------------------------------------------------------------- api
    def set_threshold(self, threshold: float) -> None:
        """Set the routing threshold (images with phi > threshold are
        hard).

        Raises:
            ValueError: Outside [0, 1], or for a plain detector.
        """
        if not self.cascade:
            raise ValueError('a plain detector has no routing threshold')
        self.threshold = checked_threshold(threshold)

    def __call__(self, images: Sequence[ImageType],
                 batch_size: int = 1) -> SampleList:
        """Detect on images (paths, or BGR arrays as mmcv reads them),
        ``batch_size`` at a time.

        Returns:
            list[DetDataSample]: In input order, with ``pred_instances``
            and, for a cascade, ``route`` ('easy'/'hard'),
            ``difficulty_score`` (phi) and ``difficulty_logit``.
        """
        if isinstance(images, (str, np.ndarray)):
            images = [images]
        results = []
        for start in range(0, len(images), batch_size):
            inputs, samples = self.preprocess(images[start:start +
                                                     batch_size])
            results.extend(self.predict(inputs, samples))
        return results

    def preprocess(self, images: Sequence[ImageType]):
        """The test pipeline and data preprocessor on ``images``: the
        (N, 3, H, W) batch and its samples, as the PyTorch model gets
        them."""
        data = []
        for img in images:
            if isinstance(img, np.ndarray):
                data.append(self._pipeline_array(dict(img=img)))
            else:
                data.append(
                    self._pipeline_file(dict(img_path=img, img_id=0)))
        batch = dict(
            inputs=[d['inputs'] for d in data],
            data_samples=[d['data_samples'] for d in data])
        with torch.no_grad():
            out = self.preprocessor(batch, training=False)
        return out['inputs'], out['data_samples']

    def predict(self, inputs: Tensor, samples: SampleList) -> SampleList:
        """Detect on a preprocessed batch (what ``model.predict`` takes);
        writes the results into ``samples`` and returns them."""
        groups = own_pad_groups(inputs, samples, self.pad_size_divisor)
        for idx, (h, w) in groups:
            if self.input_shape and (h, w) != self.input_shape:
                raise ValueError(
                    f'the graphs were exported for input size '
                    f'{self.input_shape} (H, W), got {(h, w)}: export with '
                    'dynamic height and width (no --input-shape), or make '
                    f'the test pipeline pad every image to {self.input_shape}')
            group = [samples[i] for i in idx.tolist()]
            for sample in group:
                sample.set_metainfo(
                    dict(batch_input_shape=(h, w), pad_shape=(h, w)))
            image = inputs[idx, :, :h, :w].float().numpy()
            valid_hw = np.array([s.img_shape[:2] for s in group],
                                dtype=np.int64)
            if self.end2end:
                self._predict_end2end(image, valid_hw, group)
            elif self.cascade:
                self._predict_cascade(image, valid_hw, group)
            else:
                outs = self._run('detector', dict(
                    image=image, valid_hw=valid_hw))
                self._post_process(outs, group, 'detector')
        return samples

    # ------------------------------------------------------------ helpers
    def _run(self, name: str, feeds: Dict[str, np.ndarray]) -> list:
        """Run a graph with the inputs it declares (inputs the export
        pruned as unused are left out)."""
        return self.sessions[name].run(
            None, {k: feeds[k]
                   for k in self._inputs[name]})

    def _predict_cascade(self, image: np.ndarray, valid_hw: np.ndarray,
                         group: SampleList) -> None:
        logit, _, *feats = self._run('router',
                                     dict(image=image, valid_hw=valid_hw))
        meta = self.meta['router']
        feats = {f'b1_feat{i}': f for i, f in enumerate(feats)}
        logits = logit.astype(np.float64)
        hard = logits > logit_of(self.threshold)
        for sample, value, is_hard in zip(group, logits.tolist(),
                                          hard.tolist()):
            sample.set_metainfo(route_metainfo(value, is_hard))
        for route, mask in (('easy', ~hard), ('hard', hard)):
            idx = np.nonzero(mask)[0]
            if not len(idx):
                continue
            names = meta[f'{route}_inputs']
            feeds = {n: feats[n][idx] for n in names}
            feeds.update(image=image[idx], valid_hw=valid_hw[idx])
            outs = self._run(route, feeds)
            self._post_process(outs, [group[i] for i in idx], route)

    def _predict_end2end(self, image: np.ndarray, valid_hw: np.ndarray,
                         group: SampleList) -> None:
        """Run the end-to-end graph on one size group; rescale its
        detections into each original image."""
        feeds = dict(image=image, valid_hw=valid_hw)
        if self.cascade:
            feeds['threshold'] = np.array(self.threshold, dtype=np.float32)
        names = self.meta['end2end']['outputs']
        outs = dict(zip(names, self._run('end2end', feeds)))
        for i, sample in enumerate(group):
            if self.cascade:
                phi = float(outs['phi'][i])
                sample.set_metainfo(route_metainfo(
                    logit_of(phi), bool(outs['route'][i])))
            n = int(outs['num_dets'][i])
            dets = torch.from_numpy(outs['dets'][i, :n].copy())
            scale = dets.new_tensor(sample.scale_factor).repeat(2)
            boxes = dets[:, :4] / scale
            if self.meta['end2end'].get('clip_to_original'):
                h, w = sample.ori_shape[:2]
                boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w)
                boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h)
            result = InstanceData(
                bboxes=boxes, scores=dets[:, 4],
                labels=torch.from_numpy(outs['labels'][i, :n].copy()))
            if 'masks' in outs:
                result.masks = paste_masks(
                    torch.from_numpy(outs['masks'][i, :n].copy()),
                    result.bboxes, sample.ori_shape[:2],
                    self.mask_thr_binary)
            sample.pred_instances = result

    def _post_process(self, outs: list, samples: SampleList,
                      graph: str) -> None:
        """The head's ``predict_by_feat`` on the graph's outputs."""
        metas = [s.metainfo for s in samples]
        tensors = [torch.from_numpy(o) for o in outs]
        with torch.no_grad():
            if self.two_stage:
                results = self._rcnn_results(tensors, metas)
            else:
                args = unflatten_outputs(tensors,
                                         self.meta[graph]['structure'])
                results = self.head.predict_by_feat(
                    *args, batch_img_metas=metas, rescale=True)
        for sample, result in zip(samples, results):
            sample.pred_instances = result

    def _rcnn_results(self, tensors: List[Tensor],
                      metas: List[dict]) -> List[InstanceData]:
        """``StandardRoIHead.predict_bbox`` after the box head."""
        from mmdet.models.utils import empty_instances
        rois, cls_score, bbox_pred = tensors
        if rois.shape[0] == 0:
            return empty_instances(
                metas,
                rois.device,
                task_type='bbox',
                box_type=self.head.predict_box_type,
                num_classes=self.head.num_classes)
        counts = torch.bincount(
            rois[:, 0].long(), minlength=len(metas)).tolist()
        return self.head.predict_by_feat(
            rois=rois.split(counts, 0),
            cls_scores=cls_score.split(counts, 0),
            bbox_preds=bbox_pred.split(counts, 0),
            batch_img_metas=metas,
            rcnn_test_cfg=self.rcnn_test_cfg,
            rescale=True)


def _mask_threshold(det_cfg: dict) -> Optional[float]:
    """``mask_thr_binary`` of a mask detector's ``test_cfg.rcnn``."""
    rcnn = (det_cfg.get('test_cfg') or {}).get('rcnn') or {}
    return rcnn.get('mask_thr_binary', 0.5)


def paste_masks(probs: Tensor, bboxes: Tensor, shape: Sequence[int],
                threshold: float) -> Tensor:
    """Binary (K, H, W) masks of the original image from the graph's
    (K, h, w) probabilities on their boxes (``bboxes`` in original
    coordinates), as ``FCNMaskHead.predict_by_feat`` pastes them on CPU:
    one box at a time, skipping the empty area, ``>= threshold``."""
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import \
        _do_paste_mask
    h, w = int(shape[0]), int(shape[1])
    out = torch.zeros(len(probs), h, w, dtype=torch.bool)
    for i in range(len(probs)):
        pasted, where = _do_paste_mask(probs[i:i + 1, None], bboxes[i:i + 1],
                                       h, w, skip_empty=True)
        out[(slice(i, i + 1), ) + where] = pasted >= threshold
    return out
