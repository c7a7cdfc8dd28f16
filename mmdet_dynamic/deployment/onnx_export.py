# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Export a trained detector to ONNX graphs that keep the routing.

A :class:`DynamicCascadeDetector` becomes three graphs:

* ``router.onnx`` (a): ``image, valid_hw -> logit, phi, b1_feat*``: B1 and
  the router (each image pooled over its own ``valid_hw`` region);
* ``easy.onnx`` (b): B1's outputs ``[, valid_hw] -> out*``: detector 1's
  neck and heads;
* ``hard.onnx`` (c): ``image``, B1's fused stage outputs ``[, valid_hw]
  -> out*``: B2 with the composite input, then detector 2's neck and heads.

A plain mmdet detector becomes one graph, ``detector.onnx``
(``image [, valid_hw] -> out*``). ``out*`` are the head's ``forward``
outputs for single-stage detectors, and ``rois, cls_score, bbox_pred`` for
two-stage ones (RPN proposals with ONNX ``NonMaxSuppression``, RoI
features with ONNX ``RoiAlign``, see :mod:`.two_stage_graph`); the runner
applies the head's own ``predict_by_feat`` (decoding, score threshold,
NMS) to them. ``valid_hw`` (N, 2) int64 is each image's ``img_shape``.

Every file carries, under the metadata key ``mmdet_dynamic``, a JSON
record: the graph's role, input and output names, the class names, the
routing threshold, the preprocessing (test pipeline, mean/std, channel
order, padding), the heads' test settings (score threshold, pre-NMS and
NMS), the input size of a fixed-shape export, and the config.
"""
import inspect
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from torch import Tensor

from mmdet.models.detectors import TwoStageDetector
from ..models.layers.rep_conv import switch_to_deploy
from ..utils.atomic_write import check_writable_dir
from ..utils.strict_checkpoint import build_model_from_config
from .detections_graph import check_end2end_exportable, clips_to_original
from .end2end_graph import CascadeEnd2End, DetectorEnd2End
from .route_graphs import (DetectorGraph, EasyRouteGraph, HardRouteGraph,
                           RouterGraph)
from .two_stage_graph import (UnsupportedExportError,
                              check_two_stage_exportable)

META_KEY = 'mmdet_dynamic'
FORMAT_VERSION = 1
CASCADE_FILES = ('router.onnx', 'easy.onnx', 'hard.onnx')
DETECTOR_FILE = 'detector.onnx'
END2END_FILE = 'end2end.onnx'
# mmcv ops with an exact standard ONNX counterpart in this exporter
SUPPORTED_MMCV_OPS = ('RoIAlign', )
DEFAULT_OPSET = 17
# torch.onnx.export's TorchScript (tracing) exporter: torch >= 2.5 has a
# ``dynamo`` switch (the default turned to the torch.export-based exporter in
# 2.9), older torch only the tracing one
TRACE_EXPORT = {'dynamo': False} if 'dynamo' in inspect.signature(
    torch.onnx.export).parameters else {}
# onnxruntime session settings the graphs need (stored in the metadata as
# ``ort_session_config`` for runners in any language). onnxruntime's
# ReshapeFusion rewrites a Reshape whose shape it half-knows with a -1,
# which is ambiguous (an error) when the end-to-end graph sends an empty
# batch through a route that no image of the batch takes.
ORT_SESSION_CONFIG = {
    'optimization.disable_specified_optimizers': 'ReshapeFusion'
}


def _ort_version() -> Tuple[int, int]:
    import onnxruntime as ort
    return tuple(int(p) for p in ort.__version__.split('.')[:2])


# onnxruntime before 1.24 (1.23 is the last for Python 3.10) reads the
# config entry above as one optimizer name, and its NCHWc layout
# transformer also reshapes with a -1 that an empty route batch makes
# ambiguous: there both are disabled through InferenceSession's
# disabled_optimizers (convolutions then run in plain NCHW)
OLD_ORT_DISABLED = ['ReshapeFusion', 'NchwcTransformer']


def ort_session_options(options=None):
    """``options`` (a new ``onnxruntime.SessionOptions`` if None) with
    :data:`ORT_SESSION_CONFIG` added (onnxruntime >= 1.24; see
    :func:`ort_session`)."""
    import onnxruntime as ort
    options = options if options is not None else ort.SessionOptions()
    if _ort_version() < (1, 24):
        return options
    for key, value in ORT_SESSION_CONFIG.items():
        try:
            present = options.get_session_config_entry(key)
        except RuntimeError:  # not set
            present = None
        if present != value:
            options.add_session_config_entry(key, value)
    return options


def ort_session(path: str, options=None, providers=None):
    """An ``onnxruntime.InferenceSession`` of ``path`` with the settings
    the graphs need (:func:`ort_session_options`, or on onnxruntime < 1.24
    :data:`OLD_ORT_DISABLED`)."""
    import onnxruntime as ort
    kwargs = dict(sess_options=ort_session_options(options),
                  providers=list(providers or ['CPUExecutionProvider']))
    if _ort_version() < (1, 24):
        kwargs['disabled_optimizers'] = OLD_ORT_DISABLED
    return ort.InferenceSession(path, **kwargs)


def check_standard_ops(model: nn.Module) -> None:
    """Refuse models holding mmcv ops that standard ONNX lacks.

    Raises:
        UnsupportedExportError: Naming the first such module and its op.
    """
    for name, module in model.named_modules():
        cls = type(module)
        if cls.__module__.startswith('mmcv.ops') and \
                cls.__name__ not in SUPPORTED_MMCV_OPS:
            raise UnsupportedExportError(
                f'{name} is mmcv.ops.{cls.__name__}, which has no standard '
                'ONNX op (onnxruntime runs it only with mmdeploy\'s custom '
                'ops); export stops and nothing is written. Replace it '
                '(e.g. a plain conv for a deformable one) to export.')


def test_pipeline_cfg(cfg: Config) -> list:
    """The config's test pipeline (``test_dataloader.dataset.pipeline`` or
    ``test_pipeline``)."""
    pipeline = None
    if cfg.get('test_dataloader'):
        pipeline = cfg.test_dataloader.dataset.get('pipeline')
    pipeline = pipeline or cfg.get('test_pipeline')
    if not pipeline:
        raise KeyError('the config has no test pipeline '
                       '(test_dataloader.dataset.pipeline or test_pipeline)'
                       ': the runner needs it to preprocess images')
    return list(pipeline)


def data_preprocessor_cfg(cfg: Config) -> dict:
    """The model's data preprocessor config (a cascade's own, else its
    wrapped detector's, as :class:`DynamicCascadeDetector` picks)."""
    pre = cfg.model.get('data_preprocessor') or cfg.model.get(
        'detector', {}).get('data_preprocessor')
    if pre is None:
        raise KeyError('the config has no model.data_preprocessor')
    return pre


def preprocess_spec(cfg: Config) -> dict:
    """What turns an image into the graphs' input, for the metadata: the
    test pipeline and the data preprocessor's config, with the input size,
    normalisation, channel order and padding spelled out."""
    pipeline = test_pipeline_cfg(cfg)
    pre = _plain(data_preprocessor_cfg(cfg))
    resize = [t for t in pipeline if 'Resize' in t['type']]
    return dict(
        pipeline=_plain(pipeline),
        data_preprocessor=pre,
        input_size=_plain(resize[0].get('scale')) if resize else None,
        mean=pre.get('mean'),
        std=pre.get('std'),
        bgr_to_rgb=bool(pre.get('bgr_to_rgb', False)),
        pad_size_divisor=int(pre.get('pad_size_divisor', 1)),
        pad_value=pre.get('pad_value', 0))


def _plain(obj):
    """Config values as plain JSON types."""
    return json.loads(json.dumps(obj, default=lambda o: repr(o)))


def _head_settings(detector_cfg: dict) -> dict:
    """The heads' test settings (score threshold, pre-NMS, NMS)."""
    return _plain(detector_cfg.get('test_cfg') or {})


def _dynamic_axes(names: Sequence[str], shapes: Sequence[torch.Size],
                  dynamic_hw: bool, batch_names: Sequence[str]) -> Dict:
    axes = {}
    for name, shape in zip(names, shapes):
        ax = {0: 'batch' if name in batch_names else f'{name}_n'}
        if dynamic_hw and len(shape) == 4:
            ax.update({2: f'{name}_h', 3: f'{name}_w'})
        axes[name] = ax
    return axes


def _export(module: nn.Module, args: Tuple[Tensor, ...],
            input_names: List[str], output_prefix: str, path: str,
            dynamic_hw: bool, opset: int, meta: dict,
            check_args: Optional[Tuple[Tensor, ...]] = None) -> List[Tensor]:
    """Trace ``module`` on ``args`` into ``path`` and add ``meta``; with
    ``check_args`` (inputs of another size), check the graph against
    PyTorch on them. Returns PyTorch's outputs on ``args`` and on
    ``check_args`` (the next graph's example inputs)."""
    import onnx
    # a new wrapper module is in training mode, and torch.onnx.export
    # restores each module's mode afterwards: eval mode first, or BN layers
    # would use (and update) batch statistics
    module.eval()
    with torch.no_grad():
        outs = module(*args)
    if output_prefix == 'router':
        output_names = ['logit', 'phi'] + [
            f'b1_feat{i}' for i in range(len(outs) - 2)
        ]
    else:
        output_names = [f'out{i}' for i in range(len(outs))]
    batch = ['image', 'valid_hw', 'logit', 'phi'] + [
        n for n in input_names + output_names if n.startswith('b1_feat')
    ]
    axes = _dynamic_axes(input_names + output_names,
                         [a.shape for a in args] + [o.shape for o in outs],
                         dynamic_hw, batch)
    try:
        torch.onnx.export(
            module,
            args,
            path,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=axes,
            opset_version=opset,
            do_constant_folding=True,
            **TRACE_EXPORT)
    except (torch.onnx.errors.UnsupportedOperatorError,
            torch.onnx.errors.SymbolicValueError) as err:
        raise UnsupportedExportError(
            f'{type(module).__name__}: an operator has no ONNX opset-{opset} '
            f'form: {err}') from err
    model = onnx.load(path)
    meta = dict(meta, outputs=output_names,
                inputs=[i.name for i in model.graph.input])
    if isinstance(getattr(module, 'heads', None), nn.Module):
        meta['structure'] = module.heads.structure
    if isinstance(module, RouterGraph):
        meta.update(easy_inputs=module.easy_names,
                    hard_inputs=module.hard_names)
    entry = model.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    onnx.checker.check_model(model)
    onnx.save(model, path)
    if check_args is None:
        return list(outs), None
    with torch.no_grad():
        ref = module(*check_args)
    _check_graph(path, input_names, check_args, ref,
                 exact_values=not meta['two_stage'])
    return list(outs), list(ref)


def _check_graph(path: str, input_names: List[str],
                 args: Sequence[Tensor], ref: Sequence[Tensor],
                 exact_values: bool) -> None:
    """Run the exported graph on inputs of another size than it was
    traced at and compare with PyTorch: a layer that fixed a size at trace
    time (a Python int taken from a shape) gives other output shapes or
    values."""
    sess = ort_session(path)
    feeds = {n: a.numpy() for n, a in zip(input_names, args)}
    outs = sess.run(None, {i.name: feeds[i.name] for i in sess.get_inputs()})
    size = tuple(args[0].shape[-2:])
    for i, (got, want) in enumerate(zip(outs, ref)):
        same_shape = got.shape[1:] == tuple(want.shape[1:]) if not \
            exact_values else got.shape == tuple(want.shape)
        close = same_shape and (not exact_values or torch.allclose(
            torch.from_numpy(got), want, rtol=1e-3,
            atol=1e-3 * float(want.abs().max()) + 1e-6))
        if not close:
            raise UnsupportedExportError(
                f'{osp.basename(path)}: at input size {size} output {i} '
                f'of the ONNX graph ({got.shape}) differs from PyTorch\'s '
                f'({tuple(want.shape)}): a layer fixed a size when it was '
                'traced, so the graph only holds for the traced size. '
                'Export with a fixed --input-shape H W (and a test '
                'pipeline that pads every image to it).')


def _example_inputs(spec: dict, input_shape: Optional[Tuple[int, int]]
                    ) -> Tuple[Tensor, Tensor]:
    """A batch of two random images at the export size, the second with a
    smaller valid region (so the router's masked pooling is traced)."""
    if input_shape is None:
        size = spec['input_size'] or (320, 320)
        w, h = (size, size) if isinstance(size, int) else size
        div = spec['pad_size_divisor']
        input_shape = (-(-h // div) * div, -(-w // div) * div)
    h, w = input_shape
    image = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(0))
    valid_hw = torch.tensor([[h, w], [max(1, h * 3 // 4), w]],
                            dtype=torch.int64)
    return image, valid_hw


def build_deploy_model(config: str,
                       checkpoint: str,
                       allow_partial: bool = False
                       ) -> Tuple[nn.Module, Config]:
    """The model of ``config`` with ``checkpoint`` loaded strictly, in eval
    mode, with RepConv and YOLOv7's implicit layers fused."""
    model, cfg = build_model_from_config(config, checkpoint,
                                         allow_partial=allow_partial)
    switch_to_deploy(model)
    return model, cfg


def export_onnx(config: str,
                checkpoint: str,
                out_dir: str,
                input_shape: Optional[Tuple[int, int]] = None,
                opset: int = DEFAULT_OPSET,
                allow_partial: bool = False,
                end2end: bool = False,
                progress: Optional[Callable[[str], None]] = print
                ) -> List[str]:
    """Export ``config`` + ``checkpoint`` to ONNX in ``out_dir``.

    Args:
        config (str): The model's config.
        checkpoint (str): Its trained weights (loaded strictly).
        out_dir (str): Where the graphs go (created).
        input_shape (tuple, optional): (H, W) for a fixed-shape export;
            by default height and width are dynamic (any size the test
            pipeline gives). The batch axis is always dynamic.
        opset (int): ONNX opset (16 or newer: ``RoiAlign``'s half-pixel
            mode).
        allow_partial (bool): Accept a checkpoint that does not fit.
        end2end (bool): One graph, ``end2end.onnx``, from image to padded
            detections with the routing and NMS inside
            (:mod:`.end2end_graph`), instead of the graphs that stop at the
            heads' outputs.
        progress (callable, optional): Receives a line per export step
            (default ``print``; None for silence).

    Returns:
        list[str]: The files written.

    Raises:
        CheckpointMismatchError: The checkpoint does not fit the config.
        UnsupportedExportError: The model holds an op that standard ONNX
            lacks, or (end to end) a head or NMS without an in-graph form
            (named).
        KeyError: The config lacks a test pipeline or data preprocessor.
        OutputDirError: ``out_dir`` cannot be written (checked first).

    Nothing is written unless every graph exports: the graphs are written
    to a temporary folder and moved into ``out_dir`` at the end, where they
    replace an earlier export's graphs.
    """
    say = progress or (lambda line: None)
    if opset < 16:
        raise ValueError(f'opset {opset} is too old: ONNX RoiAlign has '
                         'the half-pixel mode from opset 16')
    if input_shape is not None and (len(input_shape) != 2
                                    or min(input_shape) <= 0):
        raise ValueError(f'input_shape must be (H, W) > 0, got '
                         f'{input_shape}')
    check_writable_dir(out_dir)
    say(f'[1/4] building the model and loading {checkpoint} (strictly)')
    model, cfg = build_deploy_model(config, checkpoint, allow_partial)
    check_standard_ops(model)
    from ..models.detectors import DynamicCascadeDetector
    cascade = isinstance(model, DynamicCascadeDetector)
    detectors = [model.detector1, model.detector2] if cascade else [model]
    two_stage = isinstance(detectors[0], TwoStageDetector)
    for det in detectors:  # refuse before any tracing
        if end2end:
            check_end2end_exportable(det)
        elif two_stage:
            check_two_stage_exportable(det)
    spec = preprocess_spec(cfg)
    if cascade:
        from ..models.detectors.dynamic_cascade_detector import \
            wrapped_detector_cfg
        det_cfg = wrapped_detector_cfg(cfg.model)
    else:
        det_cfg = dict(cfg.model)
    dataset_meta = getattr(model, 'dataset_meta', None) or {}
    classes = dataset_meta.get('classes') or _classes_of(cfg)
    meta = dict(
        format=FORMAT_VERSION,
        kind='cascade' if cascade else 'detector',
        two_stage=two_stage,
        end2end=end2end,
        classes=list(classes) if classes else None,
        threshold=model.test_cfg['threshold'] if cascade else None,
        ort_session_config=ORT_SESSION_CONFIG,
        preprocess=spec,
        head_settings=_head_settings(det_cfg),
        input_shape=list(input_shape) if input_shape else None,
        opset=opset,
        config=cfg.pretty_text)
    image, valid_hw = _example_inputs(spec, input_shape)
    dynamic_hw = input_shape is None
    check = None
    if dynamic_hw:  # another size, to check the graphs are not size-bound
        div = spec['pad_size_divisor']
        h, w = image.shape[-2:]
        check = _example_inputs(spec, (h + div, w + 2 * div))
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.export.', dir=out_dir)
    try:
        if end2end:
            names = [_export_end2end(model, cascade, (image, valid_hw),
                                     check, tmp, dynamic_hw, opset, meta,
                                     say)]
        else:
            say('[2/4] tracing the ' +
                ('three route graphs' if cascade else 'graph'))
            names = _export_all(model, cascade, two_stage,
                                (image, valid_hw), check, tmp, dynamic_hw,
                                opset, meta)
            names += share_weights(tmp, names)
        say(f'[4/4] writing {", ".join(names)} into {out_dir}')
        return replace_export(out_dir, tmp, names)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _export_end2end(model: nn.Module, cascade: bool, example: tuple,
                    check: Optional[tuple], folder: str, dynamic_hw: bool,
                    opset: int, meta: dict, say) -> str:
    """Trace the end-to-end graph into ``folder``; check it against
    PyTorch at the second size ``check``. Returns the file name."""
    import onnx
    image, valid_hw = example
    module = CascadeEnd2End(model) if cascade else DetectorEnd2End(model)
    module.eval()
    args = (image, valid_hw)
    input_names = ['image', 'valid_hw']
    if cascade:  # a threshold between the two examples: both routes run
        with torch.no_grad():
            feats1, _ = model.run_backbone1(image)
            logits = model.router.masked_logits(
                [feats1[k] for k in model.stages1.routed], valid_hw,
                image.shape[-2:])
        threshold = torch.tensor(float(logits.mean().sigmoid()))
        args += (threshold, )
        input_names.append('threshold')
    with torch.no_grad():
        outs = module(*args)
    output_names = list(module.output_names)
    axes = {'image': {0: 'batch'}, 'valid_hw': {0: 'batch'}}
    if dynamic_hw:
        axes['image'].update({2: 'height', 3: 'width'})
    axes.update({name: {0: 'batch'} for name in output_names})
    path = osp.join(folder, END2END_FILE)
    say(f'[2/4] tracing {END2END_FILE} (B1, router, both routes, '
        'post-processing and NMS in one graph)')
    try:
        torch.onnx.export(module, args, path, input_names=input_names,
                          output_names=output_names, dynamic_axes=axes,
                          opset_version=opset, do_constant_folding=True,
                          **TRACE_EXPORT)
    except (torch.onnx.errors.UnsupportedOperatorError,
            torch.onnx.errors.SymbolicValueError) as err:
        raise UnsupportedExportError(
            f'an operator has no ONNX opset-{opset} form: {err}') from err
    graph = onnx.load(path)
    out_shapes = {n: list(o.shape[1:]) for n, o in zip(output_names, outs)}
    det = model.detector1 if cascade else model
    # the graph's own inputs: an unused one (valid_hw of a head that
    # needs no image size) is pruned by the exporter
    meta = dict(meta, graph='end2end',
                inputs=[i.name for i in graph.graph.input],
                clip_to_original=clips_to_original(det),
                outputs=output_names, max_per_img=out_shapes['dets'][0],
                mask_size=out_shapes.get('masks', [None, None, None])[1:])
    entry = graph.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(meta)
    onnx.checker.check_model(graph, full_check=True)
    onnx.save(graph, path)
    if check is not None:
        say('[3/4] checking the graph against PyTorch at another input '
            'size')
        check_args = check + args[2:]
        with torch.no_grad():
            ref = module(*check_args)
        _check_end2end(path, input_names, output_names, check_args, ref)
    return END2END_FILE


def _check_end2end(path: str, input_names: List[str],
                   output_names: List[str], args: Sequence[Tensor],
                   ref: Sequence[Tensor]) -> None:
    """The end-to-end graph against PyTorch at another input size: the
    same routes and phi, as many detections per image and the same scores
    (in rank order, to 1e-3; the graph's NMS breaks exact ties by index,
    which may swap two detections of one score). A layer that fixed a
    size at trace time fails this."""
    sess = ort_session(path)
    feeds = {n: a.numpy() for n, a in zip(input_names, args)}
    feeds = {i.name: feeds[i.name] for i in sess.get_inputs()}
    got = dict(zip(output_names, sess.run(None, feeds)))
    want = {n: r.numpy() for n, r in zip(output_names, ref)}
    size = tuple(args[0].shape[-2:])
    same = all(got[k].shape[1:] == want[k].shape[1:] for k in want)
    if same and 'phi' in want:
        same = (got['route'] == want['route']).all() and np.allclose(
            got['phi'], want['phi'], atol=1e-4)
    if same:
        same = (got['num_dets'] == want['num_dets']).all() and np.allclose(
            got['dets'][..., 4], want['dets'][..., 4], atol=1e-3)
    if not same:
        raise UnsupportedExportError(
            f'{osp.basename(path)}: at input size {size} the ONNX graph\'s '
            'routes or detections differ from PyTorch\'s: a layer took a '
            'size from a shape at trace time. Export for one input size '
            'with --input-shape H W (and make the test pipeline pad every '
            'image to it)')


SHARED_WEIGHTS_FILE = 'shared_weights.bin'
EXPORT_FILES = CASCADE_FILES + (DETECTOR_FILE, END2END_FILE,
                                SHARED_WEIGHTS_FILE)


def share_weights(folder: str, names: List[str]) -> List[str]:
    """Store the weights that several graphs in ``folder`` hold (a
    ``share_heads`` cascade's neck and heads, in ``easy.onnx`` and
    ``hard.onnx``) once, in :data:`SHARED_WEIGHTS_FILE`, as ONNX external
    data that each graph references (onnxruntime reads it from beside the
    graph). Returns ``[SHARED_WEIGHTS_FILE]`` if anything was shared."""
    import hashlib

    import onnx
    from onnx import numpy_helper
    from onnx.external_data_helper import set_external_data
    if len(names) < 2:
        return []
    graphs = {n: onnx.load(osp.join(folder, n)) for n in names}

    def key(t):
        return hashlib.sha256(numpy_helper.to_array(t).tobytes() +
                              str((t.data_type, tuple(t.dims))).encode()
                              ).hexdigest()

    # each initializer's content key, computed once
    keys = {name: [key(t) for t in graph.graph.initializer]
            for name, graph in graphs.items()}
    seen: Dict[str, set] = {}
    for name, graph_keys in keys.items():
        for k in graph_keys:
            seen.setdefault(k, set()).add(name)
    shared = {k for k, owners in seen.items() if len(owners) > 1}
    if not shared:
        return []
    offsets: Dict[str, Tuple[int, int]] = {}
    with open(osp.join(folder, SHARED_WEIGHTS_FILE), 'wb') as f:
        for name, graph in graphs.items():
            changed = False
            for t, k in zip(graph.graph.initializer, keys[name]):
                if k not in shared:
                    continue
                data = numpy_helper.to_array(t).tobytes()
                if k not in offsets:
                    offsets[k] = (f.tell(), len(data))
                    f.write(data)
                offset, length = offsets[k]
                t.raw_data = data  # set_external_data needs raw_data
                for field in ('float_data', 'int32_data', 'int64_data',
                              'double_data'):
                    t.ClearField(field)
                set_external_data(t, SHARED_WEIGHTS_FILE, offset, length)
                t.data_location = onnx.TensorProto.EXTERNAL
                t.ClearField('raw_data')
                changed = True
            if changed:  # graphs with nothing shared stay as written
                onnx.save(graph, osp.join(folder, name))
    return [SHARED_WEIGHTS_FILE]


def replace_export(out_dir: str, tmp: str, names: List[str]) -> List[str]:
    """Move the graphs ``names`` from ``tmp`` into ``out_dir`` and remove
    the graphs of an earlier export there that this one does not replace
    (a cascade's three beside a plain detector's one), so that the folder
    holds one export, never two for a runner to choose from."""
    written = []
    for name in names:
        dst = osp.join(out_dir, name)
        os.replace(osp.join(tmp, name), dst)
        written.append(dst)
    for name in EXPORT_FILES:
        stale = osp.join(out_dir, name)
        if name not in names and osp.isfile(stale):
            os.remove(stale)
    return written


def _classes_of(cfg: Config):
    for key in ('test_dataloader', 'val_dataloader'):
        ds = cfg.get(key, {}).get('dataset', {})
        classes = ds.get('metainfo', {}).get('classes')
        if classes:
            return classes
    return None


def _export_all(model, cascade: bool, two_stage: bool, example: tuple,
                check: Optional[tuple], folder: str, dynamic_hw: bool,
                opset: int, meta: dict) -> List[str]:
    """Export the graphs; ``example`` and ``check`` are (image, valid_hw)
    pairs to trace at and to check at."""

    def inputs(pair, feats=None, names=(), with_image=True):
        if pair is None:
            return None
        image, valid_hw = pair
        args = [image] if with_image else []
        args += [feats[n] for n in names]
        return tuple(args + ([valid_hw] if two_stage else []))

    extra_names = ['valid_hw'] if two_stage else []
    if not cascade:
        _export(DetectorGraph(model), inputs(example), ['image'] + extra_names,
                'out', osp.join(folder, DETECTOR_FILE), dynamic_hw, opset,
                dict(meta, graph='detector'), inputs(check))
        return [DETECTOR_FILE]
    router = RouterGraph(model)
    outs, check_outs = _export(router, example, ['image', 'valid_hw'],
                               'router', osp.join(folder, 'router.onnx'),
                               dynamic_hw, opset, dict(meta, graph='router'),
                               check)
    feats = {f'b1_feat{i}': t for i, t in enumerate(outs[2:])}
    check_feats = {f'b1_feat{i}': t
                   for i, t in enumerate(check_outs[2:])} if check else None
    routes = dict(easy_inputs=router.easy_names,
                  hard_inputs=router.hard_names)
    _export(EasyRouteGraph(model),
            inputs(example, feats, router.easy_names, False),
            router.easy_names + extra_names, 'out',
            osp.join(folder, 'easy.onnx'), dynamic_hw, opset,
            dict(meta, graph='easy', **routes),
            inputs(check, check_feats, router.easy_names, False))
    _export(HardRouteGraph(model), inputs(example, feats, router.hard_names),
            ['image'] + router.hard_names + extra_names, 'out',
            osp.join(folder, 'hard.onnx'), dynamic_hw, opset,
            dict(meta, graph='hard', **routes),
            inputs(check, check_feats, router.hard_names))
    return list(CASCADE_FILES)


def read_metadata(path: str) -> dict:
    """The ``mmdet_dynamic`` metadata record of an exported graph.

    Raises:
        ValueError: If the file has none (not exported by this package).
    """
    import onnx
    model = onnx.load(path, load_external_data=False)
    for entry in model.metadata_props:
        if entry.key == META_KEY:
            return json.loads(entry.value)
    raise ValueError(f'{path} has no {META_KEY!r} metadata: it was not '
                     'written by tools/deployment/export_onnx.py')
