# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""DetNAS evolutionary search over a trained supernet detector.

    python tools/search_subnet.py SUPERNET_CONFIG SUPERNET_CKPT \\
        --out-dir work_dirs/search [--max-value 300 --constraint flops \\
        --input-size 224] [--population 50 --topk 10 --mutations 20 \\
        --mutation-prob 0.1 --crossovers 20 --generations 20] \\
        [--val-ratio 0.2 --recal-images 200] [--resume]

Every candidate path satisfies the constraint: backbone FLOPs in millions
at INPUT_SIZE x INPUT_SIZE (``--flops-counter conv``, the default: the
multiply-adds of the backbone body's Conv2d layers, as the official DetNAS
search counts its 300M budget; ``mmengine``: mmengine's FlopAnalyzer, which
also counts BN and other ops), or params in millions;
before it is scored, BN statistics are recalibrated on training images; its
score is bbox mAP (mmdet's CocoMetric) on a held-out split of the training
set, never the test set. The state is saved after every generation
(``search_state.json``); ``--resume`` continues an interrupted search.
Writes ``search_result.json`` (best architecture, top-k with scores and
costs), ``subnet_init.pth`` (the best path's weights taken out of the
supernet checkpoint) and ``subnet_config.py`` (the supernet config with
``backbone.arch`` set, so only the chosen ops are built, starting from
``subnet_init.pth``) for retraining with tools/train.py.
"""
import argparse
import json
import os
import os.path as osp
import sys


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Evolutionary subnet search over a supernet detector.')
    p.add_argument('config', help='supernet detector config')
    p.add_argument('checkpoint', help='trained supernet checkpoint')
    p.add_argument('--out-dir', required=True, help='output folder')
    p.add_argument('--constraint', choices=['flops', 'params'],
                   default='flops', help='what --max-value limits')
    p.add_argument('--max-value', type=float, default=300.0,
                   help='limit in millions of FLOPs or params (default 300)')
    p.add_argument('--flops-counter', choices=['conv', 'mmengine'],
                   default='conv',
                   help='conv (default): multiply-adds of the Conv2d layers '
                   'of the backbone body, as the official DetNAS search '
                   'counts its 300M budget; mmengine: FlopAnalyzer, which '
                   'also counts BN and other ops')
    p.add_argument('--input-size', type=int, default=224,
                   help='square input side for FLOPs (default 224)')
    p.add_argument('--population', type=int, default=50)
    p.add_argument('--topk', type=int, default=10)
    p.add_argument('--mutations', type=int, default=20)
    p.add_argument('--mutation-prob', type=float, default=0.1)
    p.add_argument('--crossovers', type=int, default=20)
    p.add_argument('--generations', type=int, default=20)
    p.add_argument('--val-ratio', type=float, default=0.2,
                   help='share of training images held out for scoring')
    p.add_argument('--recal-images', type=int, default=200,
                   help='training images for BN recalibration')
    p.add_argument('--batch-size', type=int, default=4)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--resume', action='store_true',
                   help='continue from OUT_DIR/search_state.json')
    p.add_argument('--allow-partial', action='store_true',
                   help='accept a checkpoint that does not fit the config '
                   '(only the tensors that fit are loaded)')
    args = p.parse_args(argv)
    if not 0 < args.mutation_prob <= 1:
        p.error('--mutation-prob must be in (0, 1]')
    for name in ('population', 'topk', 'generations', 'recal_images'):
        if getattr(args, name) < 1:
            p.error(f'--{name.replace("_", "-")} must be >= 1')
    return args


def write_subnet(cfg_path, ckpt, search_space, arch, out_dir, records=None):
    """The best path's weights and a retraining config, and the JSON
    ``records`` (path -> content), all written together or none."""
    import torch

    from mmdet_dynamic.models.backbones.shufflenetv2_supernet import \
        extract_subnet_state_dict
    from mmdet_dynamic.utils import tool_command, write_files_atomically
    from mmdet_dynamic.utils.checkpoint_safety import read_checkpoint
    state = read_checkpoint(ckpt)
    state = state.get('state_dict', state)
    sub = extract_subnet_state_dict(state, search_space, arch,
                                    prefix='backbone.')
    init = osp.abspath(osp.join(out_dir, 'subnet_init.pth'))
    config = osp.join(out_dir, 'subnet_config.py')
    text = ('# Written by tools/search_subnet.py: the searched subnet, '
            f'retrained with\n#   {tool_command("train.py")} '
            f'{config}\n# Only the chosen ops are built; the weights '
            'start from the supernet\'s\n# (subnet_init.pth; set '
            'load_from=None to train from scratch).\n'
            f'_base_ = {osp.abspath(cfg_path)!r}\n'
            f'model = dict(backbone=dict(arch={arch!r}))\n'
            'model_wrapper_cfg = None  # a subnet has no unused '
            'parameters\n'
            f'load_from = {init!r}\n')

    def write_config(path):
        with open(path, 'w') as f:
            f.write(text)

    def json_writer(content):
        def write(path):
            with open(path, 'w') as f:
                json.dump(content, f, indent=1, allow_nan=False)
        return write

    write_files_atomically({
        init:
        lambda path: torch.save(dict(state_dict=sub, meta=dict(arch=arch)),
                                path),
        config:
        write_config,
        **{path: json_writer(c)
           for path, c in (records or {}).items()}
    })
    return config, init


def file_sha256(path: str) -> str:
    import hashlib
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def search_settings(args) -> dict:
    """What a resumed search must share with the saved one: the
    constraint, budget, input size, data split, seed, config and
    checkpoint (by content)."""
    names = ('constraint', 'max_value', 'input_size', 'flops_counter',
             'val_ratio', 'recal_images', 'seed')
    return dict(
        config=osp.abspath(args.config),
        config_sha256=file_sha256(args.config),
        checkpoint=osp.abspath(args.checkpoint),
        checkpoint_sha256=file_sha256(args.checkpoint),
        **{name: getattr(args, name) for name in names})


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmdet_dynamic  # noqa: F401
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmdet_dynamic.registry import MODELS
    from mmdet_dynamic.utils import (check_writable_dir,
                                     load_checkpoint_strictly, tool_command)
    from mmdet_dynamic.apis.subnet_search import (DetectionScorer,
                                                  EvolutionSearch, arch_cost,
                                                  block_cost_table,
                                                  split_train_set)
    from mmdet_dynamic.models.backbones import ShuffleNetV2Supernet
    try:
        check_writable_dir(args.out_dir)
        cfg = Config.fromfile(args.config)
        init_default_scope(cfg.get('default_scope', 'mmdet_dynamic'))
        backbone = cfg.model.get('backbone', {})
        if str(backbone.get('type', '')).split('.')[-1] != \
                'ShuffleNetV2Supernet' or backbone.get('arch'):
            raise TypeError(
                f'{args.config} has no ShuffleNetV2Supernet backbone in '
                'supernet mode (arch=None); search needs a supernet config '
                'such as configs/detnas/faster-rcnn_shufflenetv2-supernet-'
                'small_fpn_40i_raccoon.py')
        space = backbone.get('search_space', 'small')
        unit = 'MFLOPs' if args.constraint == 'flops' else 'M params'
        fixed, table = block_cost_table(space, args.constraint,
                                        args.input_size, args.flops_counter)
        smallest = fixed + table.min(axis=1).sum()
        if smallest > args.max_value:
            raise ValueError(
                f'no architecture of the {space!r} space satisfies '
                f'{args.constraint} <= {args.max_value:g} {unit}: the '
                f'cheapest one needs {smallest:.1f} {unit} (at '
                f'{args.input_size} px). Raise --max-value.')
        train_set, recal_idx, held_set, held_idx = split_train_set(
            cfg, args.val_ratio, args.recal_images, args.seed)
    except (FileNotFoundError, KeyError, TypeError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1

    model = MODELS.build(cfg.model)
    try:
        load_checkpoint_strictly(model, args.checkpoint, args.allow_partial)
        settings = search_settings(args)
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    assert isinstance(model.backbone, ShuffleNetV2Supernet)
    scorer = DetectionScorer(model, train_set, recal_idx, held_set, held_idx,
                             args.batch_size)
    os.makedirs(args.out_dir, exist_ok=True)
    print(f'{space} space, {model.backbone.num_blocks} blocks; '
          f'{args.constraint} <= {args.max_value:g} {unit} (cheapest '
          f'{smallest:.1f}, largest {fixed + table.max(axis=1).sum():.1f}); '
          f'BN recalibrated on {len(recal_idx)} training images, scored on '
          f'{len(held_idx)} held-out training images')
    search = EvolutionSearch(
        model.backbone.num_blocks,
        cost_fn=lambda a: arch_cost(a, fixed, table),
        max_cost=args.max_value,
        score_fn=scorer,
        population=args.population,
        topk=args.topk,
        mutations=args.mutations,
        mutation_prob=args.mutation_prob,
        crossovers=args.crossovers,
        generations=args.generations,
        seed=args.seed,
        state_file=osp.join(args.out_dir, 'search_state.json'),
        settings=settings)
    try:
        top = search.run(resume=args.resume)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    best = top[0]['arch']
    if top[0]['cost'] > args.max_value:  # never write an over-budget arch
        print(f'error: the best architecture {best} costs '
              f'{top[0]["cost"]:.1f} {unit}, over --max-value '
              f'{args.max_value:g}; nothing written', file=sys.stderr)
        return 1
    result = osp.join(args.out_dir, 'search_result.json')
    config, init = write_subnet(
        args.config, args.checkpoint, space, best, args.out_dir, {
            result:
            dict(
                best=best,
                constraint=args.constraint,
                max_value=args.max_value,
                input_size=args.input_size,
                scored=len(search.scored),
                topk=top)
        })
    print(f'\nbest architecture: {best} (bbox mAP {top[0]["score"]:.4f} on '
          f'the held-out split, {top[0]["cost"]:.1f} {unit})')
    for rank, row in enumerate(top, 1):
        print(f'{rank:3d}. {row["arch"]}  mAP {row["score"]:.4f}  '
              f'{row["cost"]:.1f} {unit}')
    print(f'wrote {result}, {config}, {init}\nretrain with:  '
          f'{tool_command("train.py")} {config}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
