# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Import official YOLOv7 and DynamicDet checkpoints, safely.

Official YOLOv7 checkpoints (``yolov7*.pt``, ``*_training.pt``) pickle whole
``models.yolo.Model`` objects (fp16) under ``'model'`` / ``'ema'`` next to
optimizer and training state; DynamicDet's (``dy-yolov7*.pt``) hold fp16
state dicts. Loading them the ordinary way needs the official source on the
path and executes the pickle. :func:`load_official_checkpoint` does neither:
its unpickler maps the official module classes (``models.*``) and torch's
module classes to an inert stand-in that only keeps its attribute
dictionary, rebuilds tensors, and refuses every other global (a pickled
function, ``os.system``, ...) with :class:`UnsafeCheckpointError`.

The tensors are then matched layer by layer to this package's modules
(:func:`official_layer_map`): the official model is a flat list of layers
(``model.<i>.``); each of ours yields the same list in the same order, with
the official sub-keys of each layer mapped to our keys.
"""
import copy
import os.path as osp
import re
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.runner import load_state_dict

from ..models.layers.rep_conv import RepConv
from ..models.layers.yolov7_downsample import DownC, MPDownsample
from ..utils.atomic_write import write_files_atomically
from ..utils.checkpoint_safety import (  # noqa: F401 (re-exported)
    CheckpointReadError, UnsafeCheckpointError, read_checkpoint,
    restricted_pickle_module)

LayerMap = Dict[str, str]  # official sub-key -> our state-dict key

# ---------------------------------------------------------------- unpickler


class OfficialObject:
    """Inert stand-in for an official (or torch) module class: keeps the
    pickled attribute dictionary and nothing else; no code of the official
    class runs. Module objects are rebuilt without arguments (``__new__``
    then ``__setstate__``); a pickle that calls the class with arguments
    is not a saved module and is refused."""

    _qualname = 'object'

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise UnsafeCheckpointError(
                f'refusing the global {self._qualname} called with '
                'arguments: official checkpoints only rebuild module '
                'objects from their attributes')

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        self.__dict__['_state'] = state if isinstance(state, dict) else {}

    def get(self, name: str, default=None):
        return self.__dict__.get('_state', {}).get(name, default)

    def __repr__(self) -> str:
        return f'<inert {self._qualname}>'


_STANDINS: Dict[str, type] = {}


def _standin(module: str, name: str) -> type:
    key = f'{module}.{name}'
    if key not in _STANDINS:
        _STANDINS[key] = type(name, (OfficialObject, ),
                              dict(_qualname=key, __module__=__name__))
    return _STANDINS[key]


_OFFICIAL_MODULES = re.compile(r'^(models|utils)(\.|$)')
_TORCH_MODULES = re.compile(r'^torch\.nn\.modules(\.|$)')


def _official_class(module: str, name: str) -> Optional[type]:
    """A stand-in for a module class of the official code
    (``models.*``, ``utils.*``) or of ``torch.nn.modules``; classes are
    named in CapWords there, so a lower-case name (a function such as
    ``utils.google_utils.attempt_download``) is not one and is refused."""
    if name[:1].isupper() and (_OFFICIAL_MODULES.match(module)
                               or _TORCH_MODULES.match(module)):
        return _standin(module, name)
    return None


def load_official_checkpoint(path: str) -> Dict[str, Any]:
    """Load an official YOLOv7/DynamicDet checkpoint without running its
    pickle: official module classes become :class:`OfficialObject`
    stand-ins; every format torch reads (zip, legacy, legacy tar, bare
    pickle) goes through the same restricted unpickler
    (:func:`~mmdet_dynamic.utils.checkpoint_safety.read_checkpoint`).

    Raises:
        UnsafeCheckpointError: If the pickle references any other global
            (a function, ``os.system``, ...), named.
        CheckpointReadError: A missing, empty, foreign or damaged file.
    """
    return read_checkpoint(
        path, 'cpu',
        restricted_pickle_module(
            resolve=_official_class,
            refusal='an official YOLOv7/DynamicDet checkpoint holds only '
            'tensors, containers and the official model classes'))


def module_state_dict(obj: Any, prefix: str = '') -> 'OrderedDict[str, Any]':
    """The state dict of a pickled module (stand-in), in
    ``nn.Module.state_dict`` order: own parameters, persistent buffers,
    then children."""
    out: 'OrderedDict[str, Any]' = OrderedDict()
    if not isinstance(obj, OfficialObject):
        return out
    for name, value in (obj.get('_parameters') or {}).items():
        if value is not None:
            out[prefix + name] = value
    skip = obj.get('_non_persistent_buffers_set') or set()
    for name, value in (obj.get('_buffers') or {}).items():
        if value is not None and name not in skip:
            out[prefix + name] = value
    for name, child in (obj.get('_modules') or {}).items():
        out.update(module_state_dict(child, f'{prefix}{name}.'))
    return out


def official_state_dict(checkpoint: Any, path: str = 'checkpoint'
                        ) -> 'OrderedDict[str, torch.Tensor]':
    """The model's state dict from an official checkpoint: its EMA weights
    when present (what the official test and detect scripts load), else
    ``'model'``; a pickled Model or a state dict; as float32.

    Raises:
        ValueError: If there is no model in it.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(f'{path}: not a YOLOv7/DynamicDet checkpoint (a '
                         f'{type(checkpoint).__name__}, not a dict)')
    source = checkpoint.get('ema') or checkpoint.get('model')
    if source is None:
        raise ValueError(
            f"{path}: not a YOLOv7/DynamicDet checkpoint: no 'model' or "
            f"'ema' entry (keys: {sorted(map(str, checkpoint))[:8]})")
    if isinstance(source, OfficialObject):
        state = module_state_dict(source)
    elif isinstance(source, dict):
        state = OrderedDict(source)
    else:
        raise ValueError(f"{path}: 'model' is a {type(source).__name__}, "
                         'neither a YOLOv7 Model nor a state dict')
    return OrderedDict((k, v.float() if v.is_floating_point() else v)
                       for k, v in state.items()
                       if isinstance(v, torch.Tensor))


# ------------------------------------------------------- official layer maps
_BN_KEYS = ('weight', 'bias', 'running_mean', 'running_var',
            'num_batches_tracked')


def _conv_map(prefix: str, official: str = '') -> LayerMap:
    """An official ``Conv`` (conv + bn) -> our ConvModule at ``prefix``."""
    out = {f'{official}conv.weight': f'{prefix}.conv.weight'}
    out.update({f'{official}bn.{k}': f'{prefix}.bn.{k}' for k in _BN_KEYS})
    return out


def _layer_map(module: nn.Module, prefix: str) -> LayerMap:
    """One official layer holding ``module`` (Conv or RepConv)."""
    if isinstance(module, RepConv):
        out = {
            'rbr_reparam.weight': f'{prefix}.fused_conv.weight',
            'rbr_reparam.bias': f'{prefix}.fused_conv.bias'
        }
        out['rbr_dense.0.weight'] = f'{prefix}.conv3x3.conv.weight'
        out['rbr_1x1.0.weight'] = f'{prefix}.conv1x1.conv.weight'
        for k in _BN_KEYS:
            out[f'rbr_dense.1.{k}'] = f'{prefix}.conv3x3.bn.{k}'
            out[f'rbr_1x1.1.{k}'] = f'{prefix}.conv1x1.bn.{k}'
            out[f'rbr_identity.{k}'] = f'{prefix}.identity.{k}'
        return out
    assert isinstance(module, ConvModule), type(module)
    return _conv_map(prefix)


def _elan_layers(block: nn.Module, prefix: str) -> List[LayerMap]:
    """ELAN / ELAN-H / E-ELAN: per branch the two 1x1 convs, the chain and
    the transition (Concat and Shortcut layers hold no tensors)."""
    layers = []
    for b, branch in enumerate(block.branches):
        p = f'{prefix}.branches.{b}'
        layers.append(_layer_map(branch['short_conv'], f'{p}.short_conv'))
        layers.append(_layer_map(branch['main_conv'], f'{p}.main_conv'))
        for i, conv in enumerate(branch['chain']):
            layers.append(_layer_map(conv, f'{p}.chain.{i}'))
        layers.append(_layer_map(branch['transition'], f'{p}.transition'))
    return layers


def _down_layers(down: nn.Module, prefix: str) -> List[LayerMap]:
    """Official down-sampling layers: MP (pool conv first, then the conv
    branch), DownC (one layer: cv1, cv2 conv branch, cv3 pool conv) or a
    stride-2 Conv; a bare max-pool holds nothing."""
    if isinstance(down, DownC):
        out = _conv_map(f'{prefix}.conv_down.0', 'cv1.')
        out.update(_conv_map(f'{prefix}.conv_down.1', 'cv2.'))
        out.update(_conv_map(f'{prefix}.pool_conv.1', 'cv3.'))
        return [out]
    if isinstance(down, MPDownsample):
        return [
            _conv_map(f'{prefix}.pool_conv.1'),
            _conv_map(f'{prefix}.conv_down.0'),
            _conv_map(f'{prefix}.conv_down.1')
        ]
    if isinstance(down, ConvModule):
        return [_conv_map(prefix)]
    return []


def backbone_layers(backbone: nn.Module, prefix: str) -> List[LayerMap]:
    """EELAN's official layers (``cfg/training/yolov7*.yaml`` backbone)."""
    layers: List[LayerMap] = []
    for name in backbone.layers:
        layer = getattr(backbone, name)
        for i, module in enumerate(layer):
            p = f'{prefix}.{name}.{i}'
            if isinstance(module, ConvModule):
                layers.append(_conv_map(p))
            elif hasattr(module, 'branches'):
                layers += _elan_layers(module, p)
            else:
                layers += _down_layers(module, p)
    return layers


def neck_layers(neck: nn.Module, prefix: str) -> List[LayerMap]:
    """YOLOv7PAFPN's official layers (the yaml ``head:`` up to Detect)."""
    spp, sp = neck.spp, f'{prefix}.spp'
    if spp.tiny:
        layers = [
            _conv_map(f'{sp}.short_conv'),
            _conv_map(f'{sp}.main_conv'),
            _conv_map(f'{sp}.pool_conv'),
            _conv_map(f'{sp}.final_conv')
        ]
    else:
        out = {}
        for official, ours in (('cv1', 'main_convs.0'), ('cv2', 'short_conv'),
                               ('cv3', 'main_convs.1'),
                               ('cv4', 'main_convs.2'),
                               ('cv5', 'fuse_convs.0'),
                               ('cv6', 'fuse_convs.1'),
                               ('cv7', 'final_conv')):
            out.update(_conv_map(f'{sp}.{ours}', f'{official}.'))
        layers = [out]
    for i, block in enumerate(neck.top_down_blocks):
        layers.append(_conv_map(f'{prefix}.reduce_convs.{i}'))
        layers.append(_conv_map(f'{prefix}.lateral_convs.{i}'))
        layers += _elan_layers(block, f'{prefix}.top_down_blocks.{i}')
    for i, block in enumerate(neck.bottom_up_blocks):
        layers += _down_layers(neck.downsamples[i],
                               f'{prefix}.downsamples.{i}')
        layers += _elan_layers(block, f'{prefix}.bottom_up_blocks.{i}')
    for i, conv in enumerate(neck.out_convs):
        layers.append(_layer_map(conv, f'{prefix}.out_convs.{i}'))
    for i, conv in enumerate(neck.aux_convs):
        layers.append(_conv_map(f'{prefix}.aux_convs.{i}'))
    return layers


def head_layer(head: nn.Module, prefix: str) -> LayerMap:
    """IDetect / IAuxDetect / Detect (anchor buffers are read, not
    mapped)."""
    out = {}
    for i in range(len(head.convs)):
        out[f'm.{i}.weight'] = f'{prefix}.convs.{i}.weight'
        out[f'm.{i}.bias'] = f'{prefix}.convs.{i}.bias'
        if head.use_implicit:
            out[f'ia.{i}.implicit'] = f'{prefix}.implicit_a.{i}.implicit'
            out[f'im.{i}.implicit'] = f'{prefix}.implicit_m.{i}.implicit'
    for i in range(len(head.aux_convs)):
        out[f'm2.{i}.weight'] = f'{prefix}.aux_convs.{i}.weight'
        out[f'm2.{i}.bias'] = f'{prefix}.aux_convs.{i}.bias'
    return out


def official_layer_map(detector: nn.Module, prefix: str = ''
                       ) -> List[LayerMap]:
    """Every tensor-holding official layer of a YOLOv7 detector, in order
    (backbone, neck, detection layer)."""
    p = prefix
    return backbone_layers(detector.backbone, f'{p}backbone') + \
        neck_layers(detector.neck, f'{p}neck') + \
        [head_layer(detector.bbox_head, f'{p}bbox_head')]


# ------------------------------------------------------------------ matching
class ConversionError(ValueError):
    """The official tensors do not fit the model built for them."""


def _group_layers(state: Dict[str, torch.Tensor],
                  prefix: str) -> List[Tuple[int, Dict[str, torch.Tensor]]]:
    """Official tensors ``<prefix><i>.<sub>`` grouped by layer index ``i``
    (sorted), keeping tensor order within a layer."""
    groups: Dict[int, Dict[str, torch.Tensor]] = {}
    pattern = re.compile(re.escape(prefix) + r'(\d+)\.(.+)$')
    for key, value in state.items():
        m = pattern.match(key)
        if m:
            groups.setdefault(int(m.group(1)), OrderedDict())[m.group(2)] = \
                value
    return sorted(groups.items())


def map_layers(official: List[Tuple[int, Dict[str, torch.Tensor]]],
               ours: List[LayerMap], own_state: Dict[str, torch.Tensor],
               official_prefix: str,
               skip: Tuple[str, ...] = ('anchors', 'anchor_grid')
               ) -> 'OrderedDict[str, torch.Tensor]':
    """Official layers -> our keys, checking every shape.

    Raises:
        ConversionError: Naming the first official tensors that do not fit
            (both shapes), or the layer counts when they differ.
    """
    if len(official) != len(ours):
        raise ConversionError(
            f'{official_prefix}*: the checkpoint has {len(official)} layers '
            f'with weights, the model built for it {len(ours)}; the arch '
            'does not match')
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    problems: List[str] = []
    for (index, tensors), layer in zip(official, ours):
        for sub, value in tensors.items():
            if sub in skip:
                continue
            name = f'{official_prefix}{index}.{sub}'
            target = layer.get(sub)
            if target is None or target not in own_state:
                problems.append(f'{name} {tuple(value.shape)} has no '
                                'counterpart')
                continue
            if tuple(own_state[target].shape) != tuple(value.shape):
                problems.append(
                    f'{name} {tuple(value.shape)} vs {target} '
                    f'{tuple(own_state[target].shape)}')
                continue
            out[target] = value
        if len(problems) >= 5:
            break
    if problems:
        raise ConversionError('official tensors that do not fit the model: '
                              + '; '.join(problems[:5]))
    return out


def split_cblinear(weight: torch.Tensor, bias: torch.Tensor,
                   out_channels: List[int]) -> List[tuple]:
    """DynamicDet's CBLinear (one conv, output split per target level) ->
    one (weight, bias) per target level."""
    ws = torch.split(weight, out_channels, dim=0)
    bs = torch.split(bias, out_channels, dim=0)
    return list(zip(ws, bs))


# ------------------------------------------------------------- conversion
YOLOV7_CONFIGS = {
    'tiny': 'yolov7/yolov7_tiny_8xb16-300e_coco.py',
    'L': 'yolov7/yolov7_l_8xb16-300e_coco.py',
    'X': 'yolov7/yolov7_x_8xb16-300e_coco.py',
    'W6': 'yolov7/yolov7_w6_8xb8-300e_coco.py',
    'E6': 'yolov7/yolov7_e6_8xb8-300e_coco.py',
    'D6': 'yolov7/yolov7_d6_8xb8-300e_coco.py',
    'E6E': 'yolov7/yolov7_e6e_8xb8-300e_coco.py',
}
DYNAMICDET_CONFIGS = {
    'L': 'dynamicdet/dy-yolov7_l_step1_coco.py',
    'X': 'dynamicdet/dy-yolov7_x_step1_coco.py',
    'W6': 'dynamicdet/dy-yolov7_w6_step1_coco.py',
}


def configs_root() -> str:
    """This package's configs (installed under ``.mim``, or the source
    tree's)."""
    import mmdet_dynamic
    pkg = osp.dirname(mmdet_dynamic.__file__)
    for root in (osp.join(pkg, '.mim', 'configs'),
                 osp.join(osp.dirname(pkg), 'configs')):
        if osp.isdir(root):
            return root
    raise FileNotFoundError('mmdet_dynamic configs not found')


def _first_conv(groups) -> Tuple[int, ...]:
    for _, tensors in groups:
        for sub, value in tensors.items():
            if sub.endswith('conv.weight') and value.dim() == 4:
                return tuple(value.shape)
    return ()


def detect_arch(state: Dict[str, torch.Tensor], path: str
                ) -> Tuple[str, str]:
    """``('yolov7' | 'dynamicdet', arch)`` from the tensors' names and
    shapes.

    Raises:
        ValueError: For a checkpoint that is neither, or an arch that is
            not known, naming what was found.
    """
    if any(k.startswith('model_b.') for k in state):
        kind, groups = 'dynamicdet', _group_layers(state, 'model_b.')
    elif any(re.match(r'model\.\d+\.', k) for k in state):
        kind, groups = 'yolov7', _group_layers(state, 'model.')
    else:
        raise ValueError(
            f'{path}: not a YOLOv7/DynamicDet checkpoint: expected tensors '
            "named 'model.<i>.*' (YOLOv7) or 'model_b.<i>.*' (DynamicDet), "
            f'found {list(state)[:5]}')
    first = _first_conv(groups)
    num_layers = groups[-1][0] + 1 if groups else 0
    arch = None
    if first[1:2] == (3, ):
        arch = {40: 'X'}.get(first[0])
        if first[0] == 32:
            arch = 'tiny' if kind == 'yolov7' and num_layers < 95 else 'L'
    elif first[1:2] == (12, ):
        arch = {64: 'W6', 96: 'D6'}.get(first[0])
        if first[0] == 80:
            arch = 'E6E' if num_layers > 200 else 'E6'
    known = DYNAMICDET_CONFIGS if kind == 'dynamicdet' else YOLOV7_CONFIGS
    if arch not in known:
        raise ValueError(
            f'{path}: unknown {kind} arch: first conv {first}, '
            f'{num_layers} layers; known archs: {list(known)}')
    return kind, arch


def _head_settings(state: Dict[str, torch.Tensor], prefix: str) -> dict:
    """Number of classes, anchors (pixels) and head form of an official
    detection layer ``<prefix><i>.``."""
    groups = _group_layers(state, prefix)
    index, det = groups[-1]
    if 'anchor_grid' not in det or 'm.0.weight' not in det:
        raise ValueError(f'{prefix}{index}: not a YOLOv7 detection layer '
                         f'(tensors {list(det)[:4]})')
    grid = det['anchor_grid']
    nl, na = grid.shape[0], grid.shape[2]
    nc = det['m.0.weight'].shape[0] // na - 5
    anchors = [[tuple(round(float(v), 4) for v in grid[i, 0, a, 0, 0])
                for a in range(na)] for i in range(nl)]
    return dict(
        num_classes=nc,
        anchors=anchors,
        use_implicit=any(k.startswith('ia.') for k in det),
        aux=any(k.startswith('m2.') for k in det),
        rep_deploy=any('rbr_reparam' in k for k in state))


def _adapt_detector_cfg(det_cfg: dict, head: dict) -> None:
    det_cfg['bbox_head']['num_classes'] = head['num_classes']
    det_cfg['bbox_head']['anchors'] = [list(map(list, level))
                                       for level in head['anchors']]
    det_cfg['bbox_head']['use_implicit'] = head['use_implicit']
    if not head['aux']:
        det_cfg['bbox_head']['aux_in_channels'] = []
        det_cfg['neck']['use_aux'] = False
    if head['rep_deploy']:
        det_cfg['neck']['deploy'] = True


def convert_yolov7_checkpoint(src: str, out_dir: str,
                              name: Optional[str] = None
                              ) -> Tuple[str, str]:
    """Convert an official YOLOv7 or DynamicDet checkpoint.

    Writes ``<out_dir>/<name>.pth`` (this package's checkpoint, strict for
    the config) and ``<out_dir>/<name>.py`` (the matching config: the
    arch's config in ``configs/`` with the checkpoint's classes, anchors
    and head form). Everything is checked before anything is written.

    DynamicDet's router scores *easiness* (hard if score < threshold); the
    converted router scores difficulty: its last layer's weight and bias
    are negated, and the threshold becomes ``1 - official threshold``
    (0.5), so every image takes the official route.

    Returns:
        tuple[str, str]: The checkpoint and config paths.

    Raises:
        UnsafeCheckpointError: A pickle that references other globals.
        ValueError: Not a YOLOv7/DynamicDet checkpoint, or an unknown arch.
        ConversionError: Tensors that do not fit (named, with shapes).
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from mmdet_dynamic.registry import MODELS
    checkpoint = load_official_checkpoint(src)
    state = official_state_dict(checkpoint, src)
    kind, arch = detect_arch(state, src)
    name = name or osp.splitext(osp.basename(src))[0]
    table = DYNAMICDET_CONFIGS if kind == 'dynamicdet' else YOLOV7_CONFIGS
    cfg = Config.fromfile(osp.join(configs_root(), table[arch]))
    init_default_scope(cfg.get('default_scope', 'mmdet_dynamic'))
    model_cfg = copy.deepcopy(cfg.model)
    if kind == 'yolov7':
        head = _head_settings(state, 'model.')
        _adapt_detector_cfg(model_cfg, head)
        if head['rep_deploy']:
            model_cfg['bbox_head']['deploy'] = not head['use_implicit']
    else:
        head = _head_settings(state, 'model_h.')
        _adapt_detector_cfg(model_cfg['detector'], head)
    model = MODELS.build(copy.deepcopy(model_cfg))
    own = model.state_dict()
    if kind == 'yolov7':
        mapped = map_layers(
            _group_layers(state, 'model.'), official_layer_map(model), own,
            'model.')
        router_note = None
    else:
        mapped, router_note = _map_dynamicdet(model, state, own)
        model_cfg['test_cfg'] = dict(threshold=0.5)
    # a strict load proves the checkpoint fits the config before writing
    try:
        load_state_dict(model, mapped, strict=True, logger='current')
    except RuntimeError as e:
        raise ConversionError(f'{src}: the converted tensors do not fit the '
                              f'model: {str(e).strip()}') from None
    cfg.model = model_cfg
    meta = dict(
        converted_from=osp.basename(src),
        source_format=kind,
        arch=arch,
        router=router_note,
        official_epoch=checkpoint.get('epoch') if isinstance(
            checkpoint.get('epoch'), int) else None)
    ckpt_path = osp.join(out_dir, f'{name}.pth')
    cfg_path = osp.join(out_dir, f'{name}.py')
    cfg.load_from = ckpt_path
    text = cfg.pretty_text

    def write_config(path: str) -> None:
        with open(path, 'w') as f:
            f.write(text)

    write_files_atomically({  # both files or neither
        ckpt_path:
        lambda path: torch.save(
            dict(state_dict=model.state_dict(), meta=meta), path),
        cfg_path:
        write_config
    })
    return ckpt_path, cfg_path


def _map_dynamicdet(model: nn.Module, state: Dict[str, torch.Tensor],
                    own: Dict[str, torch.Tensor]) -> Tuple[dict, str]:
    """DynamicDet's ``model_b`` (B1), ``model_b2`` (CBLinear, then B2),
    ``model_h`` / ``model_h2`` (necks and heads) and ``router``.

    Returns:
        tuple: Our state dict and a note on the router (converted, or
        initialised for a step-1 checkpoint, which has none). Delta (the
        median of L1 - L2) is router-training state the official
        checkpoints do not keep: it stays at its initial value and the
        router phase re-estimates it.
    """
    d1, d2 = model.detector1, model.detector2
    mapped = map_layers(
        _group_layers(state, 'model_b.'),
        backbone_layers(d1.backbone, 'detector1.backbone'), own, 'model_b.')
    b2 = _group_layers(state, 'model_b2.')
    num_sources = len(model.stages1.fused)
    cblinear, b2 = b2[:num_sources], b2[num_sources:]
    mapped.update(
        map_layers(b2, backbone_layers(d2.backbone, 'detector2.backbone'),
                   own, 'model_b2.'))
    fusion = model.stages2.fusion_channels
    for j, (index, tensors) in enumerate(cblinear):
        w, b = tensors.get('conv.weight'), tensors.get('conv.bias')
        widths = fusion[:j + 1]
        if w is None or b is None or w.shape[0] != sum(widths):
            raise ConversionError(
                f'model_b2.{index}: expected a CBLinear with '
                f'{sum(widths)} output channels, got '
                f'{None if w is None else tuple(w.shape)}')
        for k, (wk, bk) in enumerate(split_cblinear(w, b, widths)):
            key = f'composite.convs.{k}_{j}.conv'
            if tuple(own[f'{key}.weight'].shape) != tuple(wk.shape):
                raise ConversionError(
                    f'model_b2.{index}.conv.weight[{k}] {tuple(wk.shape)} '
                    f'vs {key}.weight {tuple(own[key + ".weight"].shape)}')
            mapped[f'{key}.weight'], mapped[f'{key}.bias'] = wk, bk
    for prefix, det, ours in (('model_h.', d1, 'detector1'),
                              ('model_h2.', d2, 'detector2')):
        layers = neck_layers(det.neck, f'{ours}.neck') + \
            [head_layer(det.bbox_head, f'{ours}.bbox_head')]
        mapped.update(
            map_layers(_group_layers(state, prefix), layers, own, prefix))
    mapped['delta'] = own['delta']
    if 'router.layer1.weight' not in state:  # step 1: the router's own init
        model.init_weights()
        for key, value in model.router.state_dict().items():
            mapped[f'router.{key}'] = value
        return mapped, 'initialised (step-1 checkpoint has no router)'
    w1, b1 = state['router.layer1.weight'], state['router.layer1.bias']
    w2, b2_ = state['router.layer2.weight'], state['router.layer2.bias']
    for key, value in (('router.fc1.weight', w1.flatten(1)),
                       ('router.fc1.bias', b1),
                       ('router.fc2.weight', -w2.flatten(1)),
                       ('router.fc2.bias', -b2_)):
        if tuple(own[key].shape) != tuple(value.shape):
            raise ConversionError(f'{key}: {tuple(value.shape)} vs '
                                  f'{tuple(own[key].shape)}')
        mapped[key] = value
    return mapped, 'converted (easiness negated into difficulty)'
