# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Convert a VOC-style folder plus split lists into COCO json.

Example (the bundled raccoon data, what ``make data`` runs)::

    python tools/dataset_converters/voc_to_coco.py data/raccoon \
        --split train=data/train_labels.csv --split test=data/test_labels.csv \
        --out-dir data/raccoon/coco

The bundled BCCD data (VOC ImageSets, two zero-size boxes left out and
reported; ``all`` is every image, for the k-fold router benchmark)::

    python tools/dataset_converters/voc_to_coco.py data/bccd \
        --ann-dir Annotations --img-dir JPEGImages --drop-invalid \
        --split train=ImageSets/Main/train.txt \
        --split val=ImageSets/Main/val.txt \
        --split test=ImageSets/Main/test.txt \
        --split all=ImageSets/Main/trainval.txt+ImageSets/Main/test.txt \
        --out-dir data/bccd/coco
"""
import argparse
import sys

from mmdet_dynamic.datasets import voc_to_coco


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a VOC-style dataset (xml + images + split '
        'lists) into one COCO json per split')
    parser.add_argument('root', help='dataset root')
    parser.add_argument(
        '--split',
        action='append',
        required=True,
        metavar='NAME=FILE',
        help='a split and its list (.csv with a "filename" column, or one '
        'image name per line), relative to root; several lists joined by '
        '"+" make one split; repeatable')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument(
        '--classes', nargs='+', help='class names (default: as found)')
    parser.add_argument('--ann-dir', default='annotations')
    parser.add_argument('--img-dir', default='images')
    parser.add_argument(
        '--drop-invalid',
        action='store_true',
        help='leave out boxes that are empty (zero width or height) or '
        'outside their image, and print each one; without it such a box '
        'stops the conversion with its file named')
    args = parser.parse_args(argv)
    splits = {}
    for item in args.split:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            parser.error(f'--split expects NAME=FILE, got {item!r}')
        splits[name] = path
    args.split = splits
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        written = voc_to_coco(args.root, args.split, args.out_dir,
                              args.classes, args.ann_dir, args.img_dir,
                              drop_invalid=args.drop_invalid)
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    for split, path in written.items():
        print(f'{split}: {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
