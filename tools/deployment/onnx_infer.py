# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Detect with exported ONNX graphs in onnxruntime, routing as PyTorch does.

    python tools/deployment/onnx_infer.py MODEL_DIR IMAGES... [--threshold T]
        [--batch-size N] [--out-file results.json]

IMAGES are files or folders (their .jpg/.jpeg/.png/.bmp files). Prints each
image's route, difficulty score and number of detections; --out-file writes
them all (boxes in original-image pixels) as JSON.
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.utils import ProgressBar

from mmdet_dynamic.utils.atomic_write import write_atomically

IMAGE_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def _images(paths):
    out = []
    for path in paths:
        if osp.isdir(path):
            out += sorted(
                osp.join(path, f) for f in os.listdir(path)
                if f.lower().endswith(IMAGE_EXTS))
        elif osp.isfile(path):
            out.append(path)
        else:
            raise FileNotFoundError(f'no such image or folder: {path}')
    if not out:
        raise FileNotFoundError(f'no images in {paths}')
    from mmdet_dynamic.datasets.coco_json import decoded_image_size
    for path in out:  # an empty or broken file, named before any work
        decoded_image_size(path, 'the command line')
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('model_dir')
    parser.add_argument('images', nargs='+')
    parser.add_argument(
        '--threshold',
        type=float,
        help='routing threshold in [0, 1] (default: the exported one)')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='detections printed/written above this score')
    parser.add_argument('--out-file', help='JSON file for the results')
    args = parser.parse_args(argv)
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    if not 0 <= args.score_thr <= 1:
        parser.error(f'--score-thr must be in [0, 1], got {args.score_thr}')
    from mmdet_dynamic.utils import check_writable_dir
    try:
        from mmdet_dynamic.deployment import DynamicONNXRunner
        if args.out_file:
            check_writable_dir(osp.dirname(osp.abspath(args.out_file)),
                               '--out-file\'s folder')
        images = _images(args.images)
        runner = DynamicONNXRunner(args.model_dir, threshold=args.threshold)
    except (FileNotFoundError, ImportError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    records = []
    bar = ProgressBar(len(images))
    for start in range(0, len(images), args.batch_size):
        batch = images[start:start + args.batch_size]
        for path, sample in zip(batch, runner(batch, args.batch_size)):
            inst = sample.pred_instances
            keep = inst.scores > args.score_thr
            records.append(
                dict(
                    image=path,
                    route=sample.metainfo.get('route'),
                    difficulty_score=sample.metainfo.get('difficulty_score'),
                    bboxes=inst.bboxes[keep].tolist(),
                    scores=inst.scores[keep].tolist(),
                    labels=inst.labels[keep].tolist()))
            bar.update()
    print()
    for r in records:
        route = f'{r["route"]:4s} phi={r["difficulty_score"]:.4f} ' \
            if r['route'] else ''
        print(f'{osp.basename(r["image"])}: {route}'
              f'{len(r["scores"])} detection(s) > {args.score_thr}')
    if args.out_file:
        def write(path):
            with open(path, 'w') as f:
                json.dump(dict(classes=runner.classes, results=records), f)
        write_atomically(args.out_file, write)
        print(f'wrote {args.out_file}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
