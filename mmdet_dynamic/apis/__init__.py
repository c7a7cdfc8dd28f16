# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""High-level helpers of mmdet_dynamic: model conversion, variable-speed
inference (threshold for a target latency) and the speed/accuracy
trade-off of a DynamicCascadeDetector."""
from .dynamic_det_inferencer import DynamicDetInferencer
from .dynamic_tradeoff import (collect_route_records, plot_tradeoff,
                               tradeoff_table)
from .reparameterize import reparameterize_checkpoint
from .variable_speed import (expected_latency, hard_ratio_for_latency,
                             load_cascade, measure_route_latencies,
                             quantile_grid, threshold_for_hard_ratio)

__all__ = [
    'reparameterize_checkpoint', 'hard_ratio_for_latency',
    'threshold_for_hard_ratio', 'expected_latency', 'quantile_grid',
    'load_cascade', 'measure_route_latencies', 'collect_route_records',
    'tradeoff_table', 'plot_tradeoff', 'DynamicDetInferencer'
]
