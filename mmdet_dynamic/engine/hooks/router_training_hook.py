# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Switch a DynamicCascadeDetector from joint training to router training
inside one mmdet training run."""
import copy
from collections import deque
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.optim import build_optim_wrapper
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader

from mmdet_dynamic.registry import HOOKS

DELTA_MODES = ('dataset', 'running')
ROUTER_DATA = ('train', 'holdout')
STATE_KEY = 'router_training'


def unwrap_cascade(model, what: str = 'RouterTrainingHook'):
    """The :class:`DynamicCascadeDetector` inside ``model`` (DDP unwrapped).

    Raises:
        TypeError: If the model is not a DynamicCascadeDetector.
    """
    from mmdet_dynamic.models.detectors import DynamicCascadeDetector
    if is_model_wrapper(model):
        model = model.module
    if not isinstance(model, DynamicCascadeDetector):
        raise TypeError(
            f'{what} trains the router of a DynamicCascadeDetector, but the '
            f'model is {type(model).__name__}. Use a config whose model is '
            "dict(type='DynamicCascadeDetector', detector=...) (see "
            'configs/dynamicdet), or remove the hook from custom_hooks.')
    return model


def _gathered(local: List) -> List:
    """The lists ``local`` of every rank, joined rank by rank."""
    parts = all_gather_object(local) if get_world_size() > 1 else [local]
    return [v for part in parts for v in part]


def _forever(loader):
    """Batches of ``loader`` without end, a new sampler epoch each pass (as
    mmengine's iteration-based loop draws them)."""
    epoch = 0
    while True:
        if hasattr(loader.sampler, 'set_epoch'):
            loader.sampler.set_epoch(epoch)
        yield from loader
        epoch += 1


def median(values: Sequence[float]) -> float:
    """Median as numpy computes it (mean of the two middle values for an
    even count)."""
    if len(values) == 0:
        raise ValueError('median of no values: no training image produced '
                         'a loss difference')
    return float(np.median(np.asarray(values, dtype=np.float64)))


@HOOKS.register_module()
class RouterTrainingHook(Hook):
    """End joint training and train the router of a DynamicCascadeDetector
    (DynamicDet's phase 2) in the same ``tools/train.py`` run.

    At ``switch_iter`` (iteration-based loops) or ``switch_epoch``
    (epoch-based loops) the hook

    1. sets ``model.phase = 'router'``: every parameter of both detectors
       and of the composite connection stops requiring gradients and their
       BN layers stay in eval mode;
    2. replaces the runner's optimizer by ``optim_wrapper`` built over the
       router's parameters only (AdamW, lr 1e-5, weight decay 5e-3, the
       paper's recipe, by default);
    3. supplies Delta, written to the model's ``delta`` buffer:

       - ``delta_mode='dataset'`` (the paper's definition): the median of
         the per-image ``L1 - L2`` over the training set, from a no-grad
         pass when the phase starts (``delta_num_images`` limits the pass);
       - ``delta_mode='running'`` (the official code): the median of every
         difference seen so far in the router phase, updated after each
         iteration (0 before the first one).

       Under distributed training the differences are gathered from all
       ranks (images de-duplicated by ``img_id``), so every rank uses the
       same Delta.

       With ``router_data='holdout'`` the router phase (Delta included)
       runs on the held-out part of a
       :class:`~mmdet_dynamic.datasets.HoldoutSplit` training set, images
       the detectors did not train on, instead of the joint phase's
       images.

    4. replaces the runner's parameter schedulers by ``param_scheduler``
       built for the router optimizer (none by default: the paper's
       constant lr). The joint phase's schedulers acted on the discarded
       joint optimizer and are dropped.

    The phase and Delta live in the model (``model.phase`` and its
    ``delta`` buffer, saved with the weights); the hook reads and writes
    them there. Its own checkpoint entry holds the phase it saw and the
    running history (at most ``history_size`` differences, the newest):
    ``--resume`` in the middle of the router phase continues with the same
    Delta, frozen set, router optimizer and scheduler state. Resuming the
    router phase from a joint-phase checkpoint drops that checkpoint's
    optimizer state (it belongs to the joint optimizer) and says so.

    Before the first iteration the hook checks its schedule: a switch at
    or beyond the end of training, or a router phase that starts at once
    without any detector weights loaded (no ``load_from``/``--resume``), is
    an error.

    In the router phase it logs ``router_delta`` and the spread of the
    recent router scores (``router_phi_p10``, ``router_phi_p90``,
    ``router_logit_std``); the model logs ``router_score`` (mean phi) and
    ``router_hard_ratio`` (share of images above the test threshold).

    A standalone router-phase config starts from a joint-phase checkpoint
    with ``load_from`` and ``switch_iter=0`` (see configs/dynamicdet).

    Args:
        switch_iter (int, optional): Number of iterations of joint
            training; the router phase starts at this iteration. For
            ``IterBasedTrainLoop``.
        switch_epoch (int, optional): Number of epochs of joint training.
            For ``EpochBasedTrainLoop``. Give exactly one of the two.
        optim_wrapper (dict): Optimizer wrapper config for the router phase.
            Defaults to AdamW with lr 1e-5 and weight decay 5e-3.
        delta_mode (str): ``'dataset'`` or ``'running'``.
        delta_num_images (int, optional): Images in the Delta pass (the
            first ones of the training set, in order). Defaults to all.
        param_scheduler (list[dict], optional): Parameter schedulers of the
            router phase, built for the router optimizer at the switch (as
            ``param_scheduler`` in a config; ``begin``/``end`` count from
            the switch). Defaults to none (constant lr).
        history_size (int): Differences kept for ``delta_mode='running'``
            (a window of the newest ones). Defaults to 100000.
        spread_window (int): Router scores of the last this many training
            images whose spread is logged (``router_phi_p10``,
            ``router_phi_p90``, ``router_logit_std``), so that a saturating
            router (every phi near 0 or 1) shows in the log. Defaults to 200.
        router_data (str): The images of the router phase. ``'train'``
            (DynamicDet's): the training set the detectors trained on.
            ``'holdout'``: the held-out part of the training set, which must
            be a ``HoldoutSplit(part='fit')`` (the joint phase trains on the
            other part); the router then learns each image's L1 - L2 (or
            AP gain) as the detectors do on new images. Defaults to
            ``'train'``.
    """

    priority = 'NORMAL'

    def __init__(self,
                 switch_iter: Optional[int] = None,
                 switch_epoch: Optional[int] = None,
                 optim_wrapper: Dict = dict(
                     type='OptimWrapper',
                     optimizer=dict(type='AdamW', lr=1e-5,
                                    weight_decay=5e-3)),
                 delta_mode: str = 'dataset',
                 delta_num_images: Optional[int] = None,
                 param_scheduler: Optional[List[Dict]] = None,
                 history_size: int = 100000,
                 spread_window: int = 200,
                 router_data: str = 'train') -> None:
        if (switch_iter is None) == (switch_epoch is None):
            raise ValueError(
                'RouterTrainingHook needs exactly one of switch_iter '
                '(IterBasedTrainLoop) and switch_epoch (EpochBasedTrainLoop)'
                f', got switch_iter={switch_iter}, '
                f'switch_epoch={switch_epoch}')
        switch = switch_iter if switch_iter is not None else switch_epoch
        if not isinstance(switch, int) or switch < 0:
            raise ValueError('switch_iter/switch_epoch must be an integer '
                             f'>= 0, got {switch!r}')
        if delta_mode not in DELTA_MODES:
            raise ValueError(f'delta_mode must be one of {DELTA_MODES}, got '
                             f'{delta_mode!r}')
        if delta_num_images is not None and delta_num_images < 1:
            raise ValueError('delta_num_images must be >= 1 or None, got '
                             f'{delta_num_images}')
        if router_data not in ROUTER_DATA:
            raise ValueError(f'router_data must be one of {ROUTER_DATA}, got '
                             f'{router_data!r}')
        self.router_data = router_data
        if not isinstance(history_size, int) or history_size < 1:
            raise ValueError(
                f'history_size must be an integer >= 1, got {history_size!r}')
        self.switch_iter = switch_iter
        self.switch_epoch = switch_epoch
        self.optim_wrapper_cfg = copy.deepcopy(dict(optim_wrapper))
        self.optim_wrapper_cfg.setdefault('type', 'OptimWrapper')
        self.param_scheduler_cfg = copy.deepcopy(list(param_scheduler or []))
        self.delta_mode = delta_mode
        self.delta_num_images = delta_num_images
        self.history: deque = deque(maxlen=history_size)
        self.recent_logits: deque = deque(maxlen=max(1, int(spread_window)))
        self._router_wrapper = None
        self._loaded_state: Optional[Dict] = None
        self._loaded_weights = False
        # image -> L1 - L2 of the last Delta pass (what Delta is the median
        # of), the same on every rank
        self.last_differences: Dict = {}

    # --------------------------------------------------------------- helpers
    def _past_switch(self, runner) -> bool:
        if self.switch_iter is not None:
            return runner.iter >= self.switch_iter
        return runner.epoch >= self.switch_epoch

    def in_router_phase(self, runner) -> bool:
        """Whether the runner trains the router: the model is in the
        router phase and the runner's optimizer is the router's."""
        model = unwrap_cascade(runner.model)
        return model.phase == 'router' and \
            runner.optim_wrapper is self._router_wrapper

    @staticmethod
    def delta(runner) -> float:
        """Delta, as the model holds it."""
        return float(unwrap_cascade(runner.model).delta)

    @staticmethod
    def _set_delta(runner, delta: float) -> None:
        unwrap_cascade(runner.model).delta.fill_(float(delta))

    def _replace_param_schedulers(self, runner) -> None:
        """Schedulers of the router phase, built for the router optimizer;
        the joint ones (bound to the discarded optimizer) are dropped."""
        old = runner.param_schedulers
        if isinstance(old, dict):
            old = [s for group in old.values() for s in group]
        dropped = [type(s).__name__ for s in old or []]
        runner.param_schedulers = runner.build_param_scheduler(
            copy.deepcopy(self.param_scheduler_cfg))
        built = [type(s).__name__ for s in runner.param_schedulers]
        runner.logger.info(
            'RouterTrainingHook: parameter schedulers of the joint phase '
            f'{dropped} dropped; router phase schedulers: '
            f'{built or "none (constant lr)"}')

    def _enter_router_phase(self,
                            runner,
                            delta: Optional[float],
                            at_iter: Optional[int] = None) -> None:
        """Freeze the detectors, swap the optimizer and the schedulers and
        set Delta (computed by a pass over the training set when ``delta``
        is None)."""
        model = unwrap_cascade(runner.model)
        if self.router_data == 'holdout':
            self._use_holdout_images(runner)
        model.phase = 'router'
        self._drop_joint_logs(runner)
        self._router_wrapper = build_optim_wrapper(
            model.router, copy.deepcopy(self.optim_wrapper_cfg))
        runner.optim_wrapper = self._router_wrapper
        runner.optim_wrapper.initialize_count_status(
            model, runner.iter, runner.max_iters)
        self._replace_param_schedulers(runner)
        if delta is None:
            if self.delta_mode == 'dataset':
                diffs = self.dataset_differences(runner)
                delta = median(diffs)
                how = f'median of L1 - L2 over {len(diffs)} training images'
            else:
                delta = median(self.history) if self.history else 0.0
                how = (f'running median of {len(self.history)} differences '
                       'seen so far')
        else:
            how = 'restored from the checkpoint'
        self._set_delta(runner, delta)
        # mmengine's RuntimeInfoHook logged this iteration's lr from the
        # joint optimizer before the switch: log the router's instead
        for name, lr in runner.optim_wrapper.get_lr().items():
            runner.message_hub.update_scalar(f'train/{name}', lr[0])
        optimizer = runner.optim_wrapper.optimizer
        n_params = sum(p.numel() for g in optimizer.param_groups
                       for p in g['params'])
        runner.logger.info(
            'RouterTrainingHook: router phase from iteration '
            f'{runner.iter if at_iter is None else at_iter}; '
            'detectors frozen; '
            f'{type(optimizer).__name__} (lr {optimizer.param_groups[0]["lr"]}'
            f') over the router\'s {n_params} parameters; '
            f'Delta = {self.delta(runner):.6f} ({how})')

    @staticmethod
    def _use_holdout_images(runner) -> None:
        """Make the train loop draw from the held-out part of its
        ``HoldoutSplit`` training set (the same loader settings)."""
        from mmdet_dynamic.datasets import HoldoutSplit
        loop = runner.train_loop
        dataset = loop.dataloader.dataset
        if not isinstance(dataset, HoldoutSplit):
            raise TypeError(
                "RouterTrainingHook(router_data='holdout') trains the router "
                'on the held-out part of the training set, but '
                f'train_dataloader.dataset is a {type(dataset).__name__}. '
                "Wrap it: dataset=dict(type='HoldoutSplit', holdout=0.25, "
                "part='fit', dataset=<your dataset>).")
        if dataset.part == 'holdout':
            return  # already switched (resumed run)
        cfg = copy.deepcopy(dict(runner.cfg.train_dataloader))
        cfg['dataset'] = dataset.other_part()
        randomness = runner.cfg.get('randomness') or {}
        loader = runner.build_dataloader(
            cfg, seed=runner.seed,
            diff_rank_seed=randomness.get('diff_rank_seed', False))
        loop.dataloader = loader
        if hasattr(loop, 'dataloader_iterator'):  # IterBasedTrainLoop
            loop.dataloader_iterator = _forever(loader)
        runner.logger.info(
            'RouterTrainingHook: router phase on the held-out part of the '
            f'training set ({len(loader.dataset)} images; the detectors '
            f'trained on the other {len(dataset)})')

    def _loaded_router_state(self) -> bool:
        """Whether the loaded checkpoint was saved in the router phase."""
        return (self._loaded_state or {}).get('phase') == 'router'

    def _enter_from_loaded_state(self,
                                 runner,
                                 at_iter: Optional[int] = None) -> None:
        """Re-enter the router phase with the checkpoint's Delta and
        running history (no new Delta pass)."""
        self.history.clear()
        self.history.extend(self._loaded_state.get('history', []))
        self._enter_router_phase(runner, self._loaded_state['delta'], at_iter)

    @staticmethod
    def _drop_joint_logs(runner) -> None:
        """Forget the joint phase's loss logs (``d1.*``, ``d2.*``,
        ``grad_norm``) so the logger does not repeat their last values
        during the router phase."""
        scalars = runner.message_hub.log_scalars
        for key in list(scalars):
            name = key.split('/', 1)[-1]
            if key.startswith('train/') and (name.startswith(('d1.', 'd2.'))
                                             or name in ('loss', 'grad_norm')):
                scalars.pop(key)

    @torch.no_grad()
    def dataset_differences(self, runner) -> List[float]:
        """Per-image ``L1 - L2`` of the current model over the training set
        (or its first ``delta_num_images`` images), gathered from all ranks.

        Each image is scored alone (batch 1: its loss does not depend on
        batch-mates' padding). Under distributed training the images are
        dealt to the ranks in turn and the list is padded (with the last
        image, whose repeats are dropped from the result) so that every
        rank runs the same number of steps: a head whose loss calls a
        collective never leaves a rank waiting. With the model's
        gathered per-image losses (see
        :meth:`DynamicCascadeDetector._per_image_loss`) the differences,
        and Delta, are those of a single process.

        Returns:
            list[float]: One difference per training image (ordered by
            image id), the same list on every rank.
        """
        model = unwrap_cascade(runner.model)
        loader = runner.train_dataloader
        dataset = loader.dataset
        num = len(dataset) if self.delta_num_images is None else min(
            self.delta_num_images, len(dataset))
        if num == 0:
            raise ValueError('RouterTrainingHook: the training set is empty; '
                             'Delta needs at least one image')
        rank, world = get_rank(), get_world_size()
        steps = -(-num // world)  # every rank runs this many images
        padded = list(range(num)) + [num - 1] * (steps * world - num)
        indices = padded[rank::world]
        pass_loader = DataLoader(
            torch.utils.data.Subset(dataset, indices),
            batch_size=1,
            shuffle=False,
            num_workers=loader.num_workers,
            collate_fn=loader.collate_fn)
        was_training = model.training
        model.eval()
        local: List = []
        bar = ProgressBar(num) if rank == 0 else None
        for step, data in enumerate(pass_loader):
            data = model.data_preprocessor(data, True)
            diffs = model.loss_differences(data['inputs'],
                                           data['data_samples'])
            if step * world + rank < num:  # not padding
                sample = data['data_samples'][0]
                key = sample.metainfo.get('img_id',
                                          sample.metainfo.get('img_path'))
                local.append((key, float(diffs[0])))
            if bar is not None:  # the images of this step, on all ranks
                for _ in range(min(world, num - step * world)):
                    bar.update()
        if bar is not None:
            print()
        model.train(was_training)
        by_image = {}
        for key, diff in _gathered(local):
            by_image.setdefault(key, diff)
        self.last_differences = by_image
        return [by_image[k] for k in sorted(by_image, key=str)]

    # ------------------------------------------------------------------ hooks
    def before_run(self, runner) -> None:
        unwrap_cascade(runner.model)  # fail early with a clear message
        if is_model_wrapper(runner.model) and not getattr(
                runner.model, 'find_unused_parameters', True):
            raise ValueError(
                'RouterTrainingHook under DDP needs find_unused_parameters: '
                'the router gets no gradient in the joint phase and the '
                'detectors none in the router phase. Add '
                '`find_unused_parameters = True` to the config (the configs '
                'in configs/dynamicdet have it).')
        self._check_schedule(runner)

    def _check_schedule(self, runner) -> None:
        """A switch at or beyond the end of training leaves the router
        untrained: an error before anything runs."""
        if self.switch_iter is not None:
            name, switch, end = 'switch_iter', self.switch_iter, \
                runner.max_iters
            unit = 'max_iters'
        else:
            name, switch, end = 'switch_epoch', self.switch_epoch, \
                runner.max_epochs
            unit = 'max_epochs'
        if switch >= end:
            raise ValueError(
                f'RouterTrainingHook: {name}={switch} is at or beyond the end '
                f'of training ({unit}={end}), so the router would never be '
                f'trained. Set {name} below {end} (joint phase length), or '
                f'raise {unit} by the length of the router phase.')

    def after_load_checkpoint(self, runner, checkpoint: Dict) -> None:
        self._loaded_weights = True
        self._loaded_state = dict(checkpoint.get(STATE_KEY) or {})
        if self._loaded_state:
            # Delta is a model buffer: take it from the saved weights
            saved = checkpoint.get('state_dict', {}).get('delta')
            if saved is not None:
                self._loaded_state['delta'] = float(saved)
        if not getattr(runner, '_resume', False):
            return  # load_from: model weights only, no optimizer state
        meta = checkpoint.get('meta', {})
        resumes_in_router = (
            meta.get('iter', 0) >= self.switch_iter
            if self.switch_iter is not None else
            meta.get('epoch', 0) >= self.switch_epoch)
        if not resumes_in_router:
            if self._loaded_router_state():
                name = 'switch_iter' if self.switch_iter is not None \
                    else 'switch_epoch'
                unit = 'iteration' if self.switch_iter is not None \
                    else 'epoch'
                at = meta.get('iter' if unit == 'iteration' else 'epoch')
                raise ValueError(
                    f'RouterTrainingHook: the checkpoint was saved in the '
                    f'router phase (at {unit} {at}), but the config now '
                    f'starts the router phase later ({name}='
                    f'{getattr(self, name)}). Its optimizer state belongs '
                    f'to the router, not to the joint phase. Resume with '
                    f'the {name} it was trained with (at most {at}), or '
                    'start a new run from a joint-phase checkpoint with '
                    'load_from.')
            return
        if self._loaded_router_state():
            # the saved optimizer and scheduler states are the router's:
            # load them into the router ones, which have to exist before
            # runner.resume loads them
            self._enter_from_loaded_state(runner, meta.get('iter'))
        else:
            for key in ('optimizer', 'param_schedulers'):
                checkpoint.pop(key, None)
            runner.logger.info(
                'RouterTrainingHook: resuming the router phase from a '
                'joint-phase checkpoint; its optimizer and scheduler states '
                'belong to the joint phase and are not loaded')

    def before_train(self, runner) -> None:
        if self.in_router_phase(runner) or not self._past_switch(runner):
            return
        if not self._loaded_weights:
            raise ValueError(
                'RouterTrainingHook: the router phase starts at the first '
                'iteration, but no detector weights were loaded, so the '
                'router would learn to route between two random detectors. '
                'Set load_from to a joint-phase checkpoint (for example '
                '--cfg-options load_from=work_dirs/<joint run>/iter_N.pth) '
                'or resume a run with --resume, or give the joint phase '
                'iterations with switch_iter/switch_epoch > 0.')
        if self._loaded_router_state():
            self._enter_from_loaded_state(runner)
        else:
            self._enter_router_phase(runner, None)

    def before_train_epoch(self, runner) -> None:
        if self.switch_epoch is not None and not self.in_router_phase(
                runner) and self._past_switch(runner):
            self._enter_router_phase(runner, None)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        if self.switch_iter is not None and not self.in_router_phase(
                runner) and self._past_switch(runner):
            self._enter_router_phase(runner, None)
            if self.router_data == 'holdout' and data_batch is not None:
                # the loop drew this iteration's batch from the joint
                # phase's images before this hook ran: train the router on
                # a held-out batch instead (the loop passes this same dict
                # on to train_step)
                data_batch.clear()
                data_batch.update(next(runner.train_loop.dataloader_iterator))

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        if not self.in_router_phase(runner):
            return
        model = unwrap_cascade(runner.model)
        if self.delta_mode == 'running' and \
                model.last_loss_diffs is not None:
            self.history.extend(_gathered(model.last_loss_diffs.tolist()))
            self._set_delta(runner, median(self.history))
        runner.message_hub.update_scalar('train/router_delta',
                                         self.delta(runner))
        self._log_spread(runner, model)

    def _log_spread(self, runner, model) -> None:
        """The spread of the router's recent scores: phi's 10th and 90th
        percentiles and the logits' std over the last ``spread_window``
        images (gathered from all ranks)."""
        if model.last_router_logits is None:
            return
        self.recent_logits.extend(
            _gathered(model.last_router_logits.tolist()))
        logits = np.asarray(self.recent_logits, dtype=np.float64)
        phi = 1.0 / (1.0 + np.exp(-np.clip(logits, -700, 700)))
        hub = runner.message_hub
        hub.update_scalar('train/router_phi_p10',
                          float(np.percentile(phi, 10)))
        hub.update_scalar('train/router_phi_p90',
                          float(np.percentile(phi, 90)))
        hub.update_scalar('train/router_logit_std', float(logits.std()))

    def before_save_checkpoint(self, runner, checkpoint: Dict) -> None:
        checkpoint[STATE_KEY] = dict(
            phase=unwrap_cascade(runner.model).phase,
            delta_mode=self.delta_mode,
            history=list(self.history))
