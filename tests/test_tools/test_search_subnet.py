# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""tools/search_subnet.py: a tiny DetNAS search on the bundled data."""
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmdet_dynamic.registry import MODELS
from mmdet_dynamic.apis.subnet_search import (EvolutionSearch, arch_cost,
                                              block_cost_table)
from ..conftest import PROJECT_ROOT, tool_main
from ..train_utils import tiny_config

# trains and searches a supernet: left out of make test-fast
pytestmark = pytest.mark.slow

SUPERNET = osp.join(
    PROJECT_ROOT, 'configs', 'detnas',
    'faster-rcnn_shufflenetv2-supernet-small_fpn_40i_raccoon.py')
SIZE = 64  # FLOPs input size of the tiny search


def _main():
    return tool_main('search_subnet.py')


@pytest.fixture(scope='module')
def supernet(raccoon_coco, tmp_path_factory):
    """A supernet detector config on 12 raccoon training images at 128 px
    and an (untrained) checkpoint of it."""
    tmp = tmp_path_factory.mktemp('search')
    cfg = Config.fromfile(SUPERNET)
    ds = cfg.train_dataloader.dataset
    ds.update(data_root=raccoon_coco['root'], ann_file=raccoon_coco['train'],
              indices=12)
    for pipe in (ds.pipeline, cfg.val_dataloader.dataset.pipeline):
        for t in pipe:
            if t['type'] == 'Resize':
                t['scale'] = (128, 128)
    config = str(tmp / 'supernet.py')
    cfg.dump(config)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = str(tmp / 'supernet.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    fixed, table = block_cost_table('small', 'flops', SIZE)
    # a limit half-way between the cheapest and the dearest path
    limit = fixed + (table.min(axis=1).sum() + table.max(axis=1).sum()) / 2
    return dict(config=config, ckpt=ckpt, tmp=tmp, limit=limit,
                cost=lambda a: arch_cost(a, fixed, table))


def _search(supernet, out_dir, generations, resume=False):
    args = [
        supernet['config'], supernet['ckpt'], '--out-dir', str(out_dir),
        '--max-value', f"{supernet['limit']:.3f}", '--input-size',
        str(SIZE), '--population', '4', '--topk', '2', '--mutations', '2',
        '--crossovers', '1', '--generations', str(generations),
        '--val-ratio', '0.34', '--recal-images', '4'
    ]
    return _main()(args + (['--resume'] if resume else []))


@pytest.fixture(scope='module')
def searched(supernet):
    out = supernet['tmp'] / 'out'
    assert _search(supernet, out, generations=1) == 0
    first = json.loads((out / 'search_state.json').read_text())
    assert _search(supernet, out, generations=2, resume=True) == 0
    return dict(out=out, first=first,
                state=json.loads((out / 'search_state.json').read_text()),
                result=json.loads((out / 'search_result.json').read_text()))


def test_search_completes_within_the_constraint(searched, supernet):
    state, result = searched['state'], searched['result']
    assert state['generation'] == 2
    assert len(result['topk']) == 2
    assert result['best'] == result['topk'][0]['arch']
    assert result['topk'][0]['score'] >= result['topk'][1]['score']
    for arch, row in state['scored'].items():
        genes = [int(g) for g in arch.split(',')]
        assert len(genes) == 20
        assert row['cost'] == pytest.approx(supernet['cost'](genes))
        assert row['cost'] <= supernet['limit']


def test_resume_keeps_scores_and_continues(searched):
    first, state = searched['first'], searched['state']
    assert first['generation'] == 1 and len(first['scored']) == 4
    # every architecture of the first run is kept with its score, not
    # scored again, and the second generation added new ones
    for arch, row in first['scored'].items():
        assert state['scored'][arch] == row
    added = set(state['scored']) - set(first['scored'])
    assert added and all(state['scored'][a]['generation'] == 1
                         for a in added)


def test_subnet_config_builds_only_chosen_ops_and_trains(
        searched, raccoon_coco, tmp_path):
    config = str(searched['out'] / 'subnet_config.py')
    cfg = tiny_config(config, raccoon_coco, str(tmp_path))
    assert cfg.model.backbone.arch == searched['result']['best']
    runner = Runner.from_cfg(cfg)
    backbone = runner.model.backbone
    assert backbone.is_subnet
    assert all(len(block.choices) == 1 for block in backbone.blocks)
    assert ','.join(map(str, backbone.path)) == searched['result']['best']
    runner.train()  # loads subnet_init.pth (load_from), then one step
    assert runner.iter == 1


def test_impossible_constraint_stops_with_a_message(supernet, tmp_path,
                                                    capsys):
    out = tmp_path / 'out'
    rc = _main()([
        supernet['config'], supernet['ckpt'], '--out-dir',
        str(out), '--max-value', '0.001'
    ])
    assert rc == 1
    err = capsys.readouterr().err
    assert 'cheapest one needs' in err and 'Raise --max-value' in err
    assert not out.exists()


def test_evolution_never_rescores_and_respects_cost():
    calls = []

    def score(arch):
        calls.append(arch)
        return sum(arch)

    search = EvolutionSearch(
        6, cost_fn=lambda a: float(sum(a)), max_cost=9, score_fn=score,
        population=6, topk=3, mutations=3, crossovers=2, generations=4,
        num_choices=4)
    top = search.run(progress=False, log=lambda msg: None)
    assert len(calls) == len(set(calls)) == len(search.scored)
    assert all(sum(a) <= 9 for a in calls)
    assert [t['score'] for t in top] == sorted(
        (t['score'] for t in top), reverse=True)
    assert top[0]['score'] == 9  # the best reachable under the constraint


def test_resume_with_other_settings_is_refused(searched, supernet, capsys):
    """A changed budget (or checkpoint, seed, ...) is named, and nothing of
    the saved search is overwritten."""
    out = searched['out']
    before = (out / 'search_state.json').read_text()
    result_before = (out / 'search_result.json').read_text()
    args = [
        supernet['config'], supernet['ckpt'], '--out-dir', str(out),
        '--max-value', f"{supernet['limit'] - 5:.3f}", '--input-size',
        str(SIZE), '--population', '4', '--topk', '2', '--mutations', '2',
        '--crossovers', '1', '--generations', '3', '--val-ratio', '0.34',
        '--recal-images', '4', '--seed', '7', '--resume'
    ]
    assert _main()(args) == 1
    err = capsys.readouterr().err
    assert 'other settings' in err and 'max_value: saved' in err
    assert 'seed: saved 0, now 7' in err
    assert (out / 'search_state.json').read_text() == before
    assert (out / 'search_result.json').read_text() == result_before


def test_search_refuses_a_checkpoint_that_does_not_fit(supernet, tmp_path,
                                                       capsys):
    ckpt = tmp_path / 'other.pth'
    torch.save(dict(state_dict={'backbone.nothing': torch.zeros(1)}), ckpt)
    args = [
        supernet['config'], str(ckpt), '--out-dir', str(tmp_path / 'out'),
        '--max-value', f"{supernet['limit']:.3f}", '--input-size', str(SIZE)
    ]
    assert _main()(args) == 1
    err = capsys.readouterr().err
    assert 'does not fit' in err and 'unexpected key in source' in err
    assert 'backbone.nothing' in err and '--allow-partial' in err
    assert not (tmp_path / 'out').exists()


def test_official_flops_counter_gives_288m_for_the_300m_arch():
    """DetNAS counts its 300M budget as the Conv2d multiply-adds of the
    backbone body at 224 px: the searched 300M architecture is 288M there
    (296.9M on mmengine's counter, which adds BN and other ops)."""
    from mmdet_dynamic.models.backbones import (ShuffleNetV2Supernet,
                                                parse_arch)
    arch = parse_arch(ShuffleNetV2Supernet.DETNAS_300M, 20)
    fixed, table = block_cost_table('small', 'flops', 224)  # conv: default
    assert arch_cost(arch, fixed, table) == pytest.approx(288.08, abs=0.01)
    fixed, table = block_cost_table('small', 'flops', 224, 'mmengine')
    assert arch_cost(arch, fixed, table) == pytest.approx(296.91, abs=0.01)
    with pytest.raises(ValueError, match='counter must be one of'):
        block_cost_table('small', 'flops', 224, 'thop')
