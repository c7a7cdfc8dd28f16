# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""RouterTrainingHook: joint -> router phase in one run, Delta, resume."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmdet_dynamic.engine.hooks import RouterTrainingHook
from mmdet_dynamic.models.detectors import DynamicCascadeDetector
from mmdet_dynamic.utils import check_router_hook
from ...train_utils import tiny_config

# trains through mmengine's runner: left out of make test-fast
pytestmark = pytest.mark.slow

CONFIG = 'dynamicdet/dy-faster-rcnn_r18_fpn_joint-router_raccoon.py'
STANDALONE = 'dynamicdet/dy-faster-rcnn_r18_fpn_router-40i_raccoon.py'


class _Probe(Hook):
    """Records the phase of every iteration, the state at the first router
    iteration, and Delta / loss differences after each iteration."""

    def __init__(self):
        self.phases, self.deltas, self.diffs, self.opt_state = [], [], [], []
        self.at_switch = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        model = runner.model
        self.phases.append(model.phase)
        self.opt_state.append(len(runner.optim_wrapper.optimizer.state))
        if model.phase == 'router' and self.at_switch is None:
            self.at_switch = {
                k: v.detach().clone()
                for k, v in model.state_dict().items()
            }

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = runner.model
        self.deltas.append(float(model.delta))
        if model.phase == 'router':
            self.diffs.append(model.last_loss_diffs.tolist())


def _runner(raccoon_coco, work_dir, iters=4, switch_iter=2, hook=None,
            checkpoint_interval=None, **cfg_updates):
    cfg = tiny_config(CONFIG, raccoon_coco, str(work_dir), num_images=4,
                      iters=iters)
    hook = dict(type='RouterTrainingHook', switch_iter=switch_iter,
                **(hook or {}))
    cfg.custom_hooks = [hook]
    if checkpoint_interval:
        cfg.default_hooks.checkpoint = dict(
            type='CheckpointHook', interval=checkpoint_interval,
            by_epoch=False)
    cfg.merge_from_dict(cfg_updates)
    runner = Runner.from_cfg(cfg)
    probe = _Probe()
    runner.register_hook(probe, priority='LOW')
    return runner, probe


def _router_hook(runner):
    return next(h for h in runner.hooks if isinstance(h, RouterTrainingHook))


@pytest.fixture(scope='module')
def trained(raccoon_coco, tmp_path_factory):
    """2 joint + 2 router iterations, a checkpoint at iteration 3; every
    ``loss_differences`` output of the run is recorded."""
    work_dir = tmp_path_factory.mktemp('router_hook')
    runner, probe = _runner(raccoon_coco, work_dir, checkpoint_interval=3)
    produced = []
    original = DynamicCascadeDetector.loss_differences

    def recorded(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        produced.extend(out.tolist())
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(DynamicCascadeDetector, 'loss_differences', recorded)
        runner.train()
    return dict(runner=runner, probe=probe, work_dir=work_dir,
                produced=produced)


def test_phase_switches_at_the_configured_iteration(trained):
    assert trained['probe'].phases == ['joint', 'joint', 'router', 'router']
    runner = trained['runner']
    optimizer = runner.optim_wrapper.optimizer
    assert isinstance(optimizer, torch.optim.AdamW)
    router_params = set(map(id, runner.model.router.parameters()))
    assert {id(p) for g in optimizer.param_groups for p in g['params']
            } == router_params
    assert optimizer.param_groups[0]['lr'] == 1e-5  # the paper's default


def test_only_router_weights_change_in_router_phase(trained):
    model = trained['runner'].model
    at_switch = trained['probe'].at_switch
    changed = {
        k
        for k, v in model.state_dict().items()
        if not torch.equal(at_switch[k], v)
    }
    assert changed and all(k.startswith('router.') for k in changed)
    assert not any(p.requires_grad for p in model.detector1.parameters())
    assert not model.detector1.training and not model.composite.training


def test_delta_is_the_median_of_the_models_differences(trained):
    runner = trained['runner']
    produced = trained['produced']
    assert len(produced) == 4  # one pass, every training image once
    expected = float(np.median(produced))
    hook = _router_hook(runner)
    # one source of truth: the hook reads Delta from the model
    assert hook.delta(runner) == float(runner.model.delta)
    assert float(runner.model.delta) == pytest.approx(expected, abs=1e-6)
    # used by every router iteration
    assert trained['probe'].deltas[2:] == pytest.approx([expected] * 2)


def test_resume_mid_router_phase_restores_delta_and_frozen_set(
        trained, raccoon_coco, tmp_path, monkeypatch):
    ckpt = str(trained['work_dir'] / 'iter_3.pth')
    saved = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert saved['router_training']['phase'] == 'router'

    def no_second_pass(self, runner):
        raise AssertionError('Delta recomputed after resume')

    monkeypatch.setattr(RouterTrainingHook, 'dataset_differences',
                        no_second_pass)
    runner, probe = _runner(
        raccoon_coco, tmp_path, resume=True, load_from=ckpt)
    runner.train()
    hook = _router_hook(runner)
    assert probe.phases == ['router']  # iteration 3 only
    assert 'delta' not in saved['router_training']  # it is in the weights
    assert float(runner.model.delta) == float(saved['state_dict']['delta'])
    assert hook.delta(runner) == float(runner.model.delta)
    assert isinstance(runner.optim_wrapper.optimizer, torch.optim.AdamW)
    # the router AdamW state of the checkpoint was loaded
    assert probe.opt_state == [len(list(runner.model.router.parameters()))]
    assert not any(p.requires_grad
                   for p in runner.model.detector2.parameters())


def test_standalone_router_config_from_joint_checkpoint(
        raccoon_coco, tmp_path):
    # a joint-phase checkpoint: joint training only, saved at iteration 1
    joint_dir = tmp_path / 'joint'
    cfg = tiny_config(CONFIG, raccoon_coco, str(joint_dir), num_images=4,
                      iters=1)
    cfg.custom_hooks = []
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook', interval=1, by_epoch=False)
    Runner.from_cfg(cfg).train()
    joint_ckpt = str(joint_dir / 'iter_1.pth')
    # router phase from iteration 0, weights from load_from, and also with
    # --resume (the joint SGD state must not be loaded into the router)
    for resume in (False, True):
        cfg = tiny_config(STANDALONE, raccoon_coco,
                          str(tmp_path / f'router_{resume}'), num_images=4,
                          iters=2)
        cfg.update(load_from=joint_ckpt, resume=resume)
        runner = Runner.from_cfg(cfg)
        probe = _Probe()
        runner.register_hook(probe, priority='LOW')
        runner.train()
        # load_from starts at iteration 0, resume at the checkpoint's 1
        assert probe.phases == ['router'] * (1 if resume else 2)
        assert isinstance(runner.optim_wrapper.optimizer, torch.optim.AdamW)
        assert runner.optim_wrapper.optimizer.param_groups[0]['lr'] == 1e-4


def test_running_median_mode(raccoon_coco, tmp_path):
    runner, probe = _runner(
        raccoon_coco,
        tmp_path,
        iters=3,
        switch_iter=1,
        hook=dict(delta_mode='running'))
    runner.train()
    seen = []
    for diffs, delta in zip(probe.diffs, probe.deltas[1:]):
        seen += diffs
        assert delta == pytest.approx(float(np.median(seen)), abs=1e-6)
    assert len(seen) == 8


def test_running_history_is_bounded(raccoon_coco, tmp_path):
    runner, probe = _runner(
        raccoon_coco, tmp_path, iters=3, switch_iter=1,
        hook=dict(delta_mode='running', history_size=5))
    runner.train()
    hook = _router_hook(runner)
    seen = [d for diffs in probe.diffs for d in diffs]
    assert len(seen) == 8 and list(hook.history) == seen[-5:]
    assert probe.deltas[-1] == pytest.approx(float(np.median(seen[-5:])),
                                             abs=1e-6)


def test_router_phase_gets_its_own_schedulers(raccoon_coco, tmp_path):
    """The joint MultiStepLR is dropped at the switch; the hook's
    param_scheduler acts on the router optimizer."""
    runner, probe = _runner(
        raccoon_coco, tmp_path, iters=4, switch_iter=2,
        hook=dict(param_scheduler=[
            dict(type='ConstantLR', factor=0.5, by_epoch=False, begin=0,
                 end=100)
        ]))
    runner.train()
    schedulers = runner.param_schedulers
    assert [type(s).__name__ for s in schedulers] == ['ConstantLR']
    assert schedulers[0].optimizer is runner.optim_wrapper
    assert runner.optim_wrapper.optimizer.param_groups[0]['lr'] == \
        pytest.approx(0.5e-5)


@pytest.mark.parametrize('hook,iters,match', [
    (dict(switch_iter=4), 4, r'switch_iter=4 is at or beyond the end of '
     r'training \(max_iters=4\)'),
    (dict(switch_iter=9), 4, 'switch_iter=9'),
])
def test_switch_beyond_schedule_is_refused(hook, iters, match, raccoon_coco,
                                           tmp_path):
    cfg = tiny_config(CONFIG, raccoon_coco, str(tmp_path), num_images=4,
                      iters=iters)
    cfg.custom_hooks = [dict(type='RouterTrainingHook', **hook)]
    with pytest.raises(ValueError, match=match):
        Runner.from_cfg(cfg).train()
    assert not list(tmp_path.glob('*.pth'))


def test_router_phase_without_weights_is_refused(raccoon_coco, tmp_path):
    cfg = tiny_config(STANDALONE, raccoon_coco, str(tmp_path), num_images=4,
                      iters=2)
    with pytest.raises(ValueError, match='no detector weights were loaded.*'
                       'load_from'):
        Runner.from_cfg(cfg).train()


def test_hook_without_dynamic_detector_is_refused(raccoon_coco, tmp_path):
    cfg = tiny_config('faster_rcnn/faster-rcnn_r18_fpn_40i_raccoon.py',
                      raccoon_coco, str(tmp_path / 'run'))
    cfg.custom_hooks = [dict(type='RouterTrainingHook', switch_iter=1)]
    with pytest.raises(TypeError, match='DynamicCascadeDetector'):
        check_router_hook(cfg)  # what tools/train.py runs before the runner
    with pytest.raises(TypeError, match="model is FasterRCNN"):
        Runner.from_cfg(cfg).train()  # mmdet's own train.py: the hook


def test_check_router_hook_accepts_dynamic_config():
    check_router_hook(
        Config(
            dict(
                model=dict(type='DynamicCascadeDetector'),
                custom_hooks=[dict(type='RouterTrainingHook')])))


@pytest.mark.parametrize('kwargs, match', [
    (dict(), 'exactly one'),
    (dict(switch_iter=1, switch_epoch=1), 'exactly one'),
    (dict(switch_iter=-1), '>= 0'),
    (dict(switch_iter=1, delta_mode='mean'), 'delta_mode'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RouterTrainingHook(**kwargs)


def test_switch_epoch_with_epoch_based_loop(raccoon_coco, tmp_path):
    cfg = tiny_config(CONFIG, raccoon_coco, str(tmp_path), num_images=4)
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3,
                         val_interval=10)
    cfg.log_processor = dict(by_epoch=True)
    cfg.custom_hooks = [dict(type='RouterTrainingHook', switch_epoch=2)]
    runner = Runner.from_cfg(cfg)
    probe = _Probe()
    runner.register_hook(probe, priority='LOW')
    runner.train()
    # one iteration per epoch (4 images, batch 4): epochs 0, 1 joint, 2 router
    assert probe.phases == ['joint', 'joint', 'router']
    assert isinstance(runner.optim_wrapper.optimizer, torch.optim.AdamW)


def test_router_phase_logs_the_spread_of_phi(trained):
    """The log shows phi's 10th/90th percentiles and the logits' std over
    the recent router-phase images, so a saturating router is visible."""
    runner = trained['runner']
    hook = _router_hook(runner)
    logits = np.asarray(hook.recent_logits)
    assert len(logits) == 8  # 2 router iterations x 4 images
    phi = 1 / (1 + np.exp(-logits))
    hub = runner.message_hub
    assert hub.get_scalar('train/router_phi_p10').current() == \
        pytest.approx(float(np.percentile(phi, 10)))
    assert hub.get_scalar('train/router_phi_p90').current() == \
        pytest.approx(float(np.percentile(phi, 90)))
    assert hub.get_scalar('train/router_logit_std').current() == \
        pytest.approx(float(logits.std()))


def test_first_router_iteration_logs_the_router_lr(trained):
    """mmengine logs the lr before the switch; the hook logs the router
    optimizer's (it used to show the joint SGD's 2e-2)."""
    lrs = trained['runner'].message_hub.get_scalar('train/lr').data[0]
    # 2 joint iterations (the scheduler's warm-up lr), then the router's
    assert list(lrs[-2:]) == [1e-5, 1e-5]
    assert all(v != 1e-5 for v in lrs[:2])


def test_resume_after_moving_switch_past_the_checkpoint_is_explained(
        trained, raccoon_coco, tmp_path):
    """A router-phase checkpoint (iteration 3, switch at 2) resumed with
    switch_iter=4: a message about the schedule, not torch's optimizer
    error."""
    ckpt = str(trained['work_dir'] / 'iter_3.pth')
    runner, _ = _runner(raccoon_coco, tmp_path, iters=6, switch_iter=4,
                        resume=True, load_from=ckpt)
    with pytest.raises(ValueError, match=r'saved in the router phase \(at '
                       r'iteration 3\).*switch_iter=4.*at most 3'):
        runner.train()


def test_router_phase_on_held_out_images(raccoon_coco, tmp_path):
    """router_data='holdout': the joint phase trains on the 'fit' part of a
    HoldoutSplit, the router phase (its Delta pass included) on the other
    part only."""
    from mmdet_dynamic.datasets import HoldoutSplit
    cfg = tiny_config(CONFIG, raccoon_coco, str(tmp_path), num_images=6,
                      iters=3)
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset = dict(
        type='HoldoutSplit', holdout=0.5, part='fit',
        dataset=cfg.train_dataloader.dataset)
    cfg.custom_hooks = [
        dict(type='RouterTrainingHook', switch_iter=1, router_data='holdout')
    ]
    runner = Runner.from_cfg(cfg)
    seen = []

    class _Images(Hook):
        def before_train_iter(self, runner, batch_idx, data_batch=None):
            seen.append((runner.model.phase, {
                s.img_id for s in data_batch['data_samples']}))

    runner.register_hook(_Images(), priority='LOW')
    runner.train()
    fit = runner.cfg.train_dataloader.dataset
    split = HoldoutSplit(fit['dataset'], 0.5, 'fit')
    ids = [split.dataset.get_data_info(i)['img_id'] for i in range(6)]
    fit_ids = {ids[i] for i in split.indices}
    held_ids = set(ids) - fit_ids
    assert len(fit_ids) == len(held_ids) == 3
    assert [p for p, _ in seen] == ['joint', 'router', 'router']
    assert seen[0][1] <= fit_ids
    assert all(images <= held_ids for p, images in seen if p == 'router')
    hook = _router_hook(runner)
    assert set(hook.last_differences) == held_ids  # Delta on held-out only
    assert isinstance(runner.train_dataloader.dataset, HoldoutSplit)
    assert runner.train_dataloader.dataset.part == 'holdout'


def test_holdout_router_data_needs_a_holdout_split(raccoon_coco, tmp_path):
    runner, _ = _runner(raccoon_coco, tmp_path, iters=2, switch_iter=1,
                        hook=dict(router_data='holdout'))
    with pytest.raises(TypeError, match="dataset=dict\\(type='HoldoutSplit'"):
        runner.train()
    with pytest.raises(ValueError, match='router_data'):
        RouterTrainingHook(switch_iter=1, router_data='val')
