# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Fuse RepConv/RepConvN layers of a trained checkpoint for deployment.

    python tools/model_converters/reparameterize.py CONFIG CHECKPOINT OUT_DIR

Writes ``OUT_DIR/<name>_deploy.pth`` (fused weights) and
``OUT_DIR/<name>_deploy.py`` (the config with ``deploy=True`` on every module
that takes it); test it with ``tools/test.py OUT_DIR/<name>_deploy.py
OUT_DIR/<name>_deploy.pth``.
"""
import argparse
import os.path as osp
import sys

from mmdet_dynamic.apis import reparameterize_checkpoint


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('out_dir')
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='accept a checkpoint that does not fit the config (only the '
        'tensors that fit are loaded); without it a mismatch stops here')
    args = parser.parse_args(argv)
    name = osp.splitext(osp.basename(args.config))[0]
    out_file = osp.join(args.out_dir, f'{name}_deploy.pth')
    out_config = osp.join(args.out_dir, f'{name}_deploy.py')
    try:
        fused, _ = reparameterize_checkpoint(
            args.config, args.checkpoint, out_file, out_config,
            allow_partial=args.allow_partial)
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'switched {fused} layers to their deploy form (RepConv fused, '
          f'implicit layers folded)\nweights: {out_file}\n'
          f'config:  {out_config}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
