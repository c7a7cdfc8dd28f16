# Copyright (c) mmdet_dynamic contributors. All rights reserved.
# mmdet's default runtime, iteration-based (this package's schedules count
# iterations): log every 10, checkpoint every 1000 and the last one.
from mmengine.hooks import (CheckpointHook, DistSamplerSeedHook, IterTimerHook,
                            LoggerHook, ParamSchedulerHook)
from mmengine.runner import LogProcessor
from mmengine.visualization import LocalVisBackend

from mmdet.engine.hooks import DetVisualizationHook
from mmdet_dynamic.visualization import DynamicDetLocalVisualizer

default_scope = None
default_hooks = dict(
    timer=dict(type=IterTimerHook),
    logger=dict(type=LoggerHook, interval=10),
    param_scheduler=dict(type=ParamSchedulerHook),
    checkpoint=dict(
        type=CheckpointHook,
        by_epoch=False,
        interval=1000,
        save_last=True,
        max_keep_ckpts=3),
    sampler_seed=dict(type=DistSamplerSeedHook),
    visualization=dict(type=DetVisualizationHook))
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type=LocalVisBackend)]
# drawn results show each image's route and difficulty score
visualizer = dict(
    type=DynamicDetLocalVisualizer, vis_backends=vis_backends,
    name='visualizer')
log_processor = dict(type=LogProcessor, window_size=50, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
