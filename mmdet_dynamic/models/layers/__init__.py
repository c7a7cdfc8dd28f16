# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Shared building blocks of mmdet_dynamic's models."""
from .adaptive_router import AdaptiveRouter, logit_of, sigmoid_of
from .backbone_stages import (STAGE_ADAPTERS, BackboneStage, BackboneStages,
                              backbone_stages, forward_stages,
                              register_backbone_stages, supported_backbones)
from .bifpn_layer import BiFPNLayer
from .composite_connection import CompositeConnection
from .elan_block import ELANBlock
from .implicit import ImplicitA, ImplicitM
from .lcnet_blocks import CCM, DSM
from .neck_inputs import check_neck_inputs
from .rep_conv import RepConv, RepConvN, fuse_conv_bn, switch_to_deploy
from .rsam import RSAM
from .sppcspc import SPPCSPC
from .shufflenet_units import (ShuffleUnit, XceptionUnit,
                               channel_split)
from .weighted_fusion import WeightedFusion
from .yolov7_downsample import DownC, MPDownsample, ReOrg

__all__ = [
    'AdaptiveRouter', 'logit_of', 'sigmoid_of', 'BackboneStage',
    'STAGE_ADAPTERS',
    'BackboneStages', 'backbone_stages',
    'forward_stages', 'register_backbone_stages', 'supported_backbones',
    'CompositeConnection', 'BiFPNLayer', 'CCM', 'DSM',
    'ELANBlock', 'RSAM', 'WeightedFusion', 'RepConv', 'RepConvN', 'DownC',
    'MPDownsample', 'ReOrg', 'ShuffleUnit', 'XceptionUnit',
    'channel_split', 'check_neck_inputs', 'fuse_conv_bn',
    'switch_to_deploy', 'ImplicitA', 'ImplicitM', 'SPPCSPC'
]
