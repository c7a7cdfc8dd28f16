# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""The seam between a backbone and the dynamic cascade.

The cascade needs three things of a backbone: every stage output of backbone
1 (for the router and the composite connection), a place in backbone 2 where
the composite input is added, and the backbone's own forward output for the
neck. A backbone *declares* its stages (:class:`BackboneStage`: the stage's
module name, its output channels and stride, and the fusion point's name);
the cascade then runs the backbone's own ``forward`` and

* reads each stage output with a forward hook on the declared stage module;
* adds the composite input with a forward pre-hook on the declared fusion
  module.

Stages are declared by module *name* (``'layer2'``, ``'stages.3'``), as
``named_modules`` spells it, and resolved on the live backbone at every call
(:func:`forward_stages`): replacing a module (SyncBN conversion, conv-BN
fusion, RepConv fusion, a user's ``model.backbone.layer3 = ...``) leaves the
cascade consistent, since nothing holds the old module. Both hooks exist
only for the duration of that one call, so the backbone's code, its forward
hooks and its return value are exactly those of the plain detector.

Where the declaration comes from:

* this package's backbones declare it natively (a ``stage_specs()`` method,
  see :class:`~mmdet_dynamic.models.backbones.BaseStagedBackbone`);
* mmdet's backbones through adapters in the :data:`STAGE_ADAPTERS`
  registry, keyed on the backbone class's name and checked against the
  *exact* class. A subclass may change ``forward`` (``DetectoRS_ResNet``
  returns the image too, ``RegNet`` has no max-pool), so it needs an adapter
  of its own: an unknown class fails at build time with the list of
  supported ones. The registry is an mmengine ``Registry`` in scope
  ``mmdet_dynamic``: a project adds or overrides adapters in a child
  registry of its own scope.

Adding a backbone is one function::

    from mmdet_dynamic.models.layers import BackboneStage, \\
        register_backbone_stages

    @register_backbone_stages(MyBackbone)
    def _my_backbone(backbone):
        return [BackboneStage('stem', 32, 2),
                BackboneStage('layer1', 64, 4), ...], [1, 2, 3]
"""
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.registry import Registry
from torch import Tensor

from mmdet.models.backbones import (CSPDarknet, CSPNeXt, EfficientNet,
                                    RegNet, Res2Net, ResNeSt, ResNet,
                                    ResNetV1d, ResNeXt)


class BackboneStage(NamedTuple):
    """One stage of a backbone, as the dynamic cascade sees it.

    Attributes:
        module (str): Name of the stage module in the backbone (as
            ``named_modules`` spells it, e.g. ``'layer2'``). Its forward
            output (called once per backbone forward) is the stage output,
            (N, channels, H / stride, W / stride).
        channels (int): Output channels of the stage.
        stride (int): Total stride of the stage output.
        fusion_module (str, optional): Name of the module to whose first
            input the composite input is added (a forward pre-hook).
            Defaults to ``module`` (CBNetV2's layout: fusion into the stage
            input).
        fusion_channels (int, optional): Channels at the fusion point.
            Defaults to the previous stage's ``channels``.
    """
    module: str
    channels: int
    stride: int
    fusion_module: Optional[str] = None
    fusion_channels: Optional[int] = None


LAYOUTS = ('cbnetv2', 'dynamicdet')


class BackboneStages(NamedTuple):
    """Declared stages of a backbone and which of them it returns.

    Attributes:
        stages (list[BackboneStage]): Stem (index 0) then stages, in the
            order the backbone runs them.
        out_indices (list[int]): Indices into ``stages`` of the maps the
            backbone's ``forward`` returns, in order.
        fused_indices (list[int], optional): The stages joined by the
            composite connection: their outputs in backbone 1 are its
            sources, their fusion points in backbone 2 its targets.
            Defaults to every stage but the stem (CBNetV2).
        router_indices (list[int], optional): The stage outputs the router
            pools. Defaults to ``out_indices``.
    """
    stages: List[BackboneStage]
    out_indices: List[int]
    fused_indices: Optional[List[int]] = None
    router_indices: Optional[List[int]] = None

    @property
    def fused(self) -> List[int]:
        """Indices of the stages joined by the composite connection."""
        if self.fused_indices is not None:
            return list(self.fused_indices)
        return list(range(1, len(self.stages)))

    @property
    def routed(self) -> List[int]:
        """Indices of the stage outputs the router pools."""
        if self.router_indices is not None:
            return list(self.router_indices)
        return list(self.out_indices)

    @property
    def source_channels(self) -> List[int]:
        """Output channels of the fused stages (composite sources)."""
        return [self.stages[i].channels for i in self.fused]

    @property
    def router_channels(self) -> List[int]:
        """Channels of the maps the router pools."""
        return [self.stages[i].channels for i in self.routed]

    @property
    def channels(self) -> List[int]:
        """Output channels of every stage."""
        return [s.channels for s in self.stages]

    @property
    def out_channels(self) -> List[int]:
        """Channels of the maps the backbone returns."""
        return [self.stages[i].channels for i in self.out_indices]

    @property
    def fusion_channels(self) -> List[int]:
        """Channels at the fusion points of the fused stages."""
        declared = self._with_defaults()
        return [declared[i].fusion_channels for i in self.fused]

    def _with_defaults(self) -> List[BackboneStage]:
        """The stages with their fusion point filled in: the stage module's
        name and the previous stage's channels (3, the image's, for the
        stem)."""
        out = []
        for k, s in enumerate(self.stages):
            module = s.module if s.fusion_module is None else s.fusion_module
            channels = s.fusion_channels if s.fusion_channels is not None \
                else (self.stages[k - 1].channels if k else 3)
            out.append(
                s._replace(fusion_module=module, fusion_channels=channels))
        return out


Adapter = Callable[[nn.Module], Tuple[List[BackboneStage], Sequence[int]]]
# Stage adapters of backbones that do not declare their stages, by the
# backbone class's name; each adapter lists the exact classes it fits.
STAGE_ADAPTERS = Registry('backbone stage adapter', scope='mmdet_dynamic')


def register_backbone_stages(*classes: type, registry: Registry = None,
                             force: bool = False):
    """Decorator registering ``fn(backbone) -> (stages, out_indices)`` for
    exactly these backbone classes (not their subclasses), in
    :data:`STAGE_ADAPTERS` or a child ``registry`` of a project's scope
    (``force`` replaces an existing entry)."""

    def wrap(fn: Adapter) -> Adapter:
        fn.backbone_classes = tuple(classes)
        target = registry if registry is not None else STAGE_ADAPTERS
        for cls in classes:
            target.register_module(cls.__name__, module=fn, force=force)
        return fn

    return wrap


def _adapter(backbone: nn.Module) -> Optional[Adapter]:
    """The adapter for ``type(backbone)`` in the registry of the current
    default scope (a project's child registry first), if it fits this
    exact class."""
    from mmengine.registry import DefaultScope
    current = DefaultScope.get_current_instance()
    # a project's child registry where the default scope is that project;
    # this one in any other scope (e.g. mmdet's, from mmdet's own tools)
    registry = STAGE_ADAPTERS.children.get(
        current.scope_name if current else None, STAGE_ADAPTERS)
    fn = registry.get(type(backbone).__name__)
    fits = getattr(fn, 'backbone_classes', ())
    return fn if type(backbone) in fits else None


def _registered_classes() -> List[type]:
    classes = []
    for fn in STAGE_ADAPTERS.module_dict.values():
        classes += list(getattr(fn, 'backbone_classes', ()))
    return classes


def supported_backbones() -> List[str]:
    """Backbones the cascade supports: the classes with an adapter, plus
    any backbone with a native ``stage_specs()``."""
    return sorted(STAGE_ADAPTERS.module_dict)


def backbone_stages(backbone: nn.Module,
                    layout: str = 'cbnetv2') -> BackboneStages:
    """The declared stages of ``backbone`` for a cascade ``layout``:
    ``'cbnetv2'`` (every backbone: fusion into each stage's input, sources
    = stages 1..n, router on the backbone outputs) or ``'dynamicdet'``
    (DynamicDet's YOLO layout, declared by :class:`EELAN`: fusion after
    each down-sampling layer, the router on every level from stride 2).

    Raises:
        TypeError: If the backbone declares no stages and its exact class
            has no adapter.
        ValueError: If the backbone does not declare ``layout``.
    """
    if layout not in LAYOUTS:
        raise ValueError(f'unknown cascade layout {layout!r}; valid layouts: '
                         f'{list(LAYOUTS)}')
    if callable(getattr(backbone, 'stage_specs', None)):
        specs = backbone.stage_specs(layout)
        return checked(
            backbone,
            BackboneStages(*[list(s) if s is not None else None
                             for s in specs]))
    if layout != 'cbnetv2':
        raise ValueError(
            f"the '{layout}' cascade layout is declared by EELAN backbones "
            f'(DynamicDet\'s YOLO cascade) only, not by '
            f"{type(backbone).__name__}; use layout='cbnetv2'")
    adapter = _adapter(backbone)
    if adapter is not None:
        stages, out_indices = adapter(backbone)
    else:
        registered = _registered_classes()
        parents = [
            c.__name__ for c in type(backbone).__mro__[1:] if c in registered
        ]
        hint = (f' It subclasses {parents[0]}, but a subclass may run a '
                'different forward, so it needs an adapter of its own.'
                if parents else '')
        raise TypeError(
            f'{type(backbone).__name__} declares no stages, so the dynamic '
            'cascade cannot attach its router and composite connection to '
            f'it.{hint} Supported backbones: {supported_backbones()}, and '
            "every mmdet_dynamic backbone (they define stage_specs()). Add "
            'one with mmdet_dynamic.models.layers.register_backbone_stages '
            '(see the README, "Adding a backbone to the cascade").')
    return checked(backbone, BackboneStages(list(stages), list(out_indices)))


def checked(backbone: nn.Module, stages: BackboneStages) -> BackboneStages:
    """``stages`` after checking that every declared module name exists in
    ``backbone``.

    Raises:
        ValueError: Naming the first name that does not.
    """
    names = dict(backbone.named_modules())
    for k, stage in enumerate(stages._with_defaults()):
        for name in (stage.module, stage.fusion_module):
            if not isinstance(name, str) or name not in names:
                raise ValueError(
                    f'stage {k} of {type(backbone).__name__} is declared at '
                    f'{name!r}, which is not a module name of the backbone '
                    '(declare stages by the names named_modules() gives, '
                    "e.g. 'layer2')")
    return stages


def forward_stages(
    backbone: nn.Module,
    stages: BackboneStages,
    inputs: Tensor,
    fuse: Optional[Callable[[int, Tensor], Tensor]] = None
) -> Tuple[Tuple[Tensor, ...], List[Tensor]]:
    """Run ``backbone(inputs)`` (its own forward, hooks included) and
    collect every stage output.

    Args:
        backbone (nn.Module): The backbone.
        stages (BackboneStages): Its declared stages.
        inputs (Tensor): (N, 3, H, W) images.
        fuse (callable, optional): ``fuse(k, x)`` returns what is added to
            the input ``x`` of the fusion point of each fused stage ``k``
            (``stages.fused``), a tensor shaped like ``x``.

    Returns:
        tuple: The backbone's own outputs (what its neck takes) and the list
        of every stage output, (N, channels_k, H / stride_k, W / stride_k).
    """
    declared = stages._with_defaults()
    fused = set(stages.fused)
    feats: List[Optional[Tensor]] = [None] * len(declared)

    def capture(k: int):

        def hook(module, args, output):
            if feats[k] is not None:
                raise RuntimeError(
                    f'stage {k} of {type(backbone).__name__} '
                    f'({type(module).__name__}) ran twice in one forward: '
                    'its stage declaration does not match its forward')
            feats[k] = output

        return hook

    def add_fused(k: int):

        def hook(module, args):
            return (args[0] + fuse(k, args[0]), ) + tuple(args[1:])

        return hook

    handles = []
    try:
        for k, stage in enumerate(declared):  # the live modules, by name
            if fuse is not None and k in fused:
                handles.append(
                    backbone.get_submodule(
                        stage.fusion_module).register_forward_pre_hook(
                            add_fused(k)))
            handles.append(
                backbone.get_submodule(stage.module).register_forward_hook(
                    capture(k)))
        outs = backbone(inputs)
    finally:
        for handle in handles:
            handle.remove()
    missing = [k for k, f in enumerate(feats) if f is None]
    if missing:
        raise RuntimeError(
            f'stages {missing} of {type(backbone).__name__} did not run in '
            'its forward: its stage declaration does not match its forward')
    return tuple(outs), feats


# ----------------------------------------------------------- mmdet adapters
def _res_layer_stages(backbone: ResNet, stem: str, stem_stride: int,
                      widths: Sequence[int]):
    """The stem (its last module's name), then ``res_layers`` with the
    given output widths."""
    stages = [BackboneStage(stem, backbone.stem_channels, stem_stride)]
    stride = stem_stride
    for i, name in enumerate(backbone.res_layers):
        stride *= backbone.strides[i]
        stages.append(BackboneStage(name, widths[i], stride))
    return stages, [i + 1 for i in backbone.out_indices]


@register_backbone_stages(ResNet, ResNetV1d, ResNeXt, Res2Net, ResNeSt)
def _resnet(backbone: ResNet):
    """ResNet family: stem (conv or deep stem) + max-pool at stride 4, then
    ``res_layers``; they all run ResNet's forward."""
    widths = [
        backbone.block.expansion * backbone.base_channels * 2**i
        for i in range(len(backbone.res_layers))
    ]
    return _res_layer_stages(backbone, 'maxpool', 4, widths)


@register_backbone_stages(RegNet)
def _regnet(backbone: RegNet):
    """RegNet: conv1 + norm1 + relu at stride 2 (no max-pool), then
    ``res_layers`` of ``stage_widths`` channels."""
    return _res_layer_stages(backbone, 'relu', 2, backbone.stage_widths)


@register_backbone_stages(CSPDarknet, CSPNeXt)
def _csp_stages(backbone: nn.Module):
    """CSPDarknet (YOLOX) and CSPNeXt (RTMDet): a stem at stride 2 (a Focus
    or a stack of convs), then stages ending in a CSPLayer, strides 4..32
    (``layers`` names them in forward order)."""
    stem = backbone.stem
    last = stem.conv if hasattr(stem, 'conv') else stem[-1].conv
    stages = [BackboneStage('stem', last.out_channels, 2)]
    for k, name in enumerate(backbone.layers[1:], start=1):
        stage = getattr(backbone, name)
        stages.append(
            BackboneStage(name, stage[-1].final_conv.out_channels,
                          2**(k + 1)))
    return stages, list(backbone.out_indices)


@register_backbone_stages(EfficientNet)
def _efficientnet(backbone: EfficientNet):
    """EfficientNet: ``layers[0]`` the stem conv, then one layer per block
    group. A layer's output width is its last conv's (the projection
    conv), its stride the product of its convs' strides."""
    stages, stride = [], 1
    for i, layer in enumerate(backbone.layers):
        convs = [m for m in layer.modules() if isinstance(m, nn.Conv2d)]
        for conv in convs:
            stride *= conv.stride[0]
        stages.append(
            BackboneStage(f'layers.{i}', convs[-1].out_channels, stride))
    return stages, list(backbone.out_indices)
