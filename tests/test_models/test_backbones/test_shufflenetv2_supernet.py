# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""ShuffleNetV2 supernet / subnet: shapes, path sampling, weight
extraction, same path on every rank, bad architecture strings."""
import os

import pytest
import torch
import torch.multiprocessing as mp

from mmdet_dynamic.models.backbones import (ShuffleNetV2Supernet,
                                            extract_subnet_state_dict)
from mmdet_dynamic.models.backbones.shufflenetv2_supernet import CHOICES
from ...conftest import free_port, randomise_bn

S300M = ShuffleNetV2Supernet.DETNAS_300M


@pytest.mark.parametrize('space,blocks,widths', [
    ('small', 20, [64, 160, 320, 640]),
    ('large', 40, [96, 240, 480, 960]),
    ('3.8G', 40, [172, 432, 864, 1728]),
])
def test_search_spaces(space, blocks, widths):
    model = ShuffleNetV2Supernet(space).eval()
    assert model.num_blocks == blocks and model.out_channels == widths
    assert model.out_strides == [4, 8, 16, 32]
    assert all(len(b.choices) == 4 for b in model.blocks)
    if space == 'small':
        with torch.no_grad():
            outs = model(torch.rand(1, 3, 64, 64))
        assert [tuple(o.shape) for o in outs] == [
            (1, c, 64 // s, 64 // s) for c, s in zip(widths, [4, 8, 16, 32])
        ]


def test_training_samples_a_new_path_each_forward_eval_keeps_it():
    model = ShuffleNetV2Supernet('small', seed=3).train()
    x = torch.rand(2, 3, 64, 64)
    paths = []
    for _ in range(5):
        model(x)
        paths.append(model.path)
    assert len({tuple(p) for p in paths}) == 5
    assert all(0 <= c < 4 for p in paths for c in p)
    model.set_path(S300M)
    model.eval()
    with torch.no_grad():
        model(x)
    assert model.path == [int(c) for c in S300M.split(',')]


def test_uniform_sampling():
    model = ShuffleNetV2Supernet('small', seed=0)
    counts = torch.zeros(4)
    for _ in range(200):
        for c in model.sample_path():
            counts[c] += 1
    freq = counts / counts.sum()  # 4000 draws
    assert torch.all((freq - 0.25).abs() < 0.03)


def test_subnet_has_only_chosen_ops_and_matches_supernet_path():
    supernet = ShuffleNetV2Supernet('small', seed=1)
    randomise_bn(supernet)
    subnet = ShuffleNetV2Supernet('small', arch=S300M)
    assert all(len(b.choices) == 1 for b in subnet.blocks)
    assert [list(b.choices)[0] for b in subnet.blocks] == [
        CHOICES[int(c)] for c in S300M.split(',')
    ]
    state = extract_subnet_state_dict(supernet.state_dict(), 'small', S300M)
    assert set(state) == set(subnet.state_dict())  # no unused weights
    subnet.load_state_dict(state, strict=True)
    n_super = sum(p.numel() for p in supernet.parameters())
    n_sub = sum(p.numel() for p in subnet.parameters())
    assert n_sub < n_super / 2

    supernet.set_path(S300M)
    supernet.eval()
    subnet.eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(supernet(x), subnet(x)):
            torch.testing.assert_close(a, b)


def test_extract_from_detector_checkpoint_keeps_other_keys():
    supernet = ShuffleNetV2Supernet('small')
    state = {f'backbone.{k}': v for k, v in supernet.state_dict().items()}
    state['neck.conv.weight'] = torch.ones(1)
    out = extract_subnet_state_dict(state, 'small', S300M, 'backbone.')
    assert 'neck.conv.weight' in out
    assert not any('.choices.xception.' in k
                   for k in out if k.startswith('backbone.stage1.0.'))
    with pytest.raises(KeyError, match='prefix'):
        extract_subnet_state_dict(state, 'small', S300M, 'model.')


@pytest.mark.parametrize('arch,match', [
    ('2,1,2', '3 choices but this search space has 20 blocks'),
    ('2,1,2,0,2,1,1,2,3,3,1,3,0,0,3,1,3,1,3,4', r'unknown choices \[4\]'),
    ('a' * 20, 'choice indices 0-3'),
])
def test_bad_architecture_strings(arch, match):
    with pytest.raises(ValueError, match=match):
        ShuffleNetV2Supernet('small', arch=arch)
    with pytest.raises(ValueError, match=match):
        ShuffleNetV2Supernet('small').set_path(arch)


def test_unknown_search_space_and_subnet_path_change():
    with pytest.raises(ValueError, match="'small', 'large', '3.8G'"):
        ShuffleNetV2Supernet('medium')
    with pytest.raises(RuntimeError, match='fixed architecture'):
        ShuffleNetV2Supernet('small', arch=S300M).set_path(S300M)


def _rank_paths(rank, port, queue):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    # a different sampler seed per rank: only the broadcast keeps them equal
    model = ShuffleNetV2Supernet('small', seed=rank).train()
    paths = []
    for _ in range(3):
        model(torch.rand(2, 3, 64, 64))
        paths.append(model.path)
    queue.put((rank, paths))
    dist.destroy_process_group()


@pytest.mark.slow
def test_same_path_on_every_rank():
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    port = free_port()
    procs = [
        ctx.Process(target=_rank_paths, args=(r, port, queue))
        for r in range(2)
    ]
    for p in procs:
        p.start()
    results = dict(queue.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    assert results[0] == results[1]
    assert len({tuple(p) for p in results[0]}) == 3


def test_frozen_stages():
    model = ShuffleNetV2Supernet('small', frozen_stages=1).train()
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert not any(p.requires_grad for p in model.stage1.parameters())
    assert not any(m.training for m in model.stage1.modules())
    assert all(p.requires_grad for p in model.stage2.parameters())


@pytest.mark.slow
def test_validation_during_supernet_training_scores_the_eval_path(
        raccoon_coco, tmp_path):
    """A supernet run with validation: training forwards use sampled
    paths, every validation forward the fixed eval path (all 0 by default),
    not the last path sampled for training."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from ...train_utils import tiny_config
    config = ('detnas/faster-rcnn_shufflenetv2-supernet-small_fpn_40i_'
              'raccoon.py')
    cfg = tiny_config(config, raccoon_coco, str(tmp_path), num_images=2,
                      iters=2)
    full = Config.fromfile(
        os.path.join(os.path.dirname(__file__), '..', '..', '..', 'configs',
                     config))
    val = full.val_dataloader
    val.update(num_workers=0, persistent_workers=False)
    val.dataset.update(data_root=raccoon_coco['root'],
                       ann_file=raccoon_coco['test'], indices=2)
    cfg.val_dataloader = val
    cfg.val_cfg = dict(type='ValLoop')
    cfg.val_evaluator = dict(full.val_evaluator, ann_file=raccoon_coco['test'])
    cfg.train_cfg.val_interval = 2
    runner = Runner.from_cfg(cfg)
    backbone = runner.model.backbone
    seen = []
    backbone.register_forward_hook(
        lambda m, i, o: seen.append((m.training, tuple(m.path))))
    runner.train()
    train_paths = [p for training, p in seen if training]
    val_paths = [p for training, p in seen if not training]
    assert len(train_paths) == 2 and len(val_paths) == 2
    assert set(val_paths) == {(0, ) * backbone.num_blocks}
    assert train_paths[-1] != val_paths[0]
