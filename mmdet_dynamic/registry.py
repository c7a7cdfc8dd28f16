# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""mmdet_dynamic's registries: children of mmdet's, in scope
``mmdet_dynamic``.

As in OpenMMLab's downstream packages (mmyolo, mmrotate, ...), every module
of this package is registered here, not in mmdet's registries, so no name of
ours can collide with mmdet's or with one of mmdet's ``projects`` (its
EfficientDet registers ``BiFPN``, for instance). A lookup in a child
registry falls back to its parent, so a config in scope ``mmdet_dynamic``
reaches every mmdet (and mmengine) module as well::

    default_scope = 'mmdet_dynamic'    # this package's configs set it
    model = dict(type='DynamicCascadeDetector',
                 detector=dict(type='FasterRCNN', ...))

From a config in mmdet's scope, name the scope:
``dict(type='mmdet_dynamic.BiFPN', ...)``.
"""
from mmdet.registry import DATA_SAMPLERS as MMDET_DATA_SAMPLERS
from mmdet.registry import DATASETS as MMDET_DATASETS
from mmdet.registry import EVALUATOR as MMDET_EVALUATOR
from mmdet.registry import HOOKS as MMDET_HOOKS
from mmdet.registry import LOG_PROCESSORS as MMDET_LOG_PROCESSORS
from mmdet.registry import LOOPS as MMDET_LOOPS
from mmdet.registry import METRICS as MMDET_METRICS
from mmdet.registry import MODEL_WRAPPERS as MMDET_MODEL_WRAPPERS
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMDET_OPTIM_WRAPPER_CONSTRUCTORS
from mmdet.registry import OPTIM_WRAPPERS as MMDET_OPTIM_WRAPPERS
from mmdet.registry import OPTIMIZERS as MMDET_OPTIMIZERS
from mmdet.registry import PARAM_SCHEDULERS as MMDET_PARAM_SCHEDULERS
from mmdet.registry import RUNNER_CONSTRUCTORS as MMDET_RUNNER_CONSTRUCTORS
from mmdet.registry import RUNNERS as MMDET_RUNNERS
from mmdet.registry import TASK_UTILS as MMDET_TASK_UTILS
from mmdet.registry import TRANSFORMS as MMDET_TRANSFORMS
from mmdet.registry import VISBACKENDS as MMDET_VISBACKENDS
from mmdet.registry import VISUALIZERS as MMDET_VISUALIZERS
from mmdet.registry import \
    WEIGHT_INITIALIZERS as MMDET_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

SCOPE = 'mmdet_dynamic'


def _child(name: str, parent: Registry, *locations: str) -> Registry:
    return Registry(
        name, parent=parent, scope=SCOPE, locations=list(locations))


RUNNERS = _child('runner', MMDET_RUNNERS)
RUNNER_CONSTRUCTORS = _child('runner constructor', MMDET_RUNNER_CONSTRUCTORS)
LOOPS = _child('loop', MMDET_LOOPS)
HOOKS = _child('hook', MMDET_HOOKS, 'mmdet_dynamic.engine.hooks')
DATASETS = _child('dataset', MMDET_DATASETS, 'mmdet_dynamic.datasets')
DATA_SAMPLERS = _child('data sampler', MMDET_DATA_SAMPLERS)
TRANSFORMS = _child('transform', MMDET_TRANSFORMS)
MODELS = _child('model', MMDET_MODELS, 'mmdet_dynamic.models')
MODEL_WRAPPERS = _child('model_wrapper', MMDET_MODEL_WRAPPERS)
WEIGHT_INITIALIZERS = _child('weight initializer', MMDET_WEIGHT_INITIALIZERS)
OPTIMIZERS = _child('optimizer', MMDET_OPTIMIZERS)
OPTIM_WRAPPERS = _child('optim_wrapper', MMDET_OPTIM_WRAPPERS)
OPTIM_WRAPPER_CONSTRUCTORS = _child('optimizer wrapper constructor',
                                    MMDET_OPTIM_WRAPPER_CONSTRUCTORS)
PARAM_SCHEDULERS = _child('parameter scheduler', MMDET_PARAM_SCHEDULERS)
METRICS = _child('metric', MMDET_METRICS)
EVALUATOR = _child('evaluator', MMDET_EVALUATOR)
TASK_UTILS = _child('task util', MMDET_TASK_UTILS)
VISUALIZERS = _child('visualizer', MMDET_VISUALIZERS,
                     'mmdet_dynamic.visualization')
VISBACKENDS = _child('vis_backend', MMDET_VISBACKENDS)
LOG_PROCESSORS = _child('log_processor', MMDET_LOG_PROCESSORS)
