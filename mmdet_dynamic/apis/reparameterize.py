# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Convert a trained checkpoint with RepConv layers to its deploy form."""
import copy
import inspect
from typing import Any, Tuple

import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from mmdet_dynamic.registry import MODELS
from ..models.layers.rep_conv import switch_to_deploy
from ..utils.atomic_write import write_files_atomically
from ..utils.strict_checkpoint import build_model_from_config


def _set_deploy(cfg: Any) -> int:
    """Set ``deploy=True`` on every sub-config whose type accepts it."""
    count = 0
    if isinstance(cfg, dict):
        cls = MODELS.get(cfg['type']) if isinstance(cfg.get('type'),
                                                    str) else None
        if cls is not None and 'deploy' in inspect.signature(
                cls.__init__).parameters:
            cfg['deploy'] = True
            count += 1
        for value in cfg.values():
            count += _set_deploy(value)
    elif isinstance(cfg, (list, tuple)):
        count += sum(_set_deploy(v) for v in cfg)
    return count


def reparameterize_checkpoint(config: str,
                              checkpoint: str,
                              out_file: str,
                              out_config: str,
                              allow_partial: bool = False
                              ) -> Tuple[int, Config]:
    """Fuse every RepConv of a trained model and save the deploy form.

    Args:
        config (str): Training config of the checkpoint.
        checkpoint (str): Trained checkpoint (local path).
        out_file (str): Where the fused weights are written.
        out_config (str): Where the deploy config (the training config with
            ``deploy=True`` on every module that takes it) is written.
        allow_partial (bool): Accept a checkpoint that does not fit the
            config (only the tensors that fit are loaded).

    Returns:
        tuple[int, Config]: Number of fused layers and the deploy config.

    Raises:
        CheckpointMismatchError: If the checkpoint does not fit the config
            (nothing is written).
    """
    model, cfg = build_model_from_config(config, checkpoint,
                                         allow_partial=allow_partial)
    fused = switch_to_deploy(model)
    if fused == 0:
        raise ValueError(f'{config}: the model has no layer with a deploy '
                         'form (RepConv/RepConvN, YOLOv7 head or neck) '
                         'to re-parameterise')
    deploy_cfg = copy.deepcopy(cfg)
    _set_deploy(deploy_cfg.model)
    deploy_cfg.load_from = out_file
    with torch.no_grad():  # the deploy config must take the fused weights
        deployed = MODELS.build(copy.deepcopy(deploy_cfg.model))
        deployed.load_state_dict(model.state_dict())  # strict check

    def write_config(path: str) -> None:
        with open(path, 'w') as f:
            f.write(deploy_cfg.pretty_text)

    write_files_atomically({  # both files or neither
        out_file:
        lambda path: save_checkpoint(
            dict(state_dict=model.state_dict(), meta=dict(deploy=True)),
            path),
        out_config:
        write_config
    })
    return fused, deploy_cfg
