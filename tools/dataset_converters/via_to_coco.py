# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Convert a VIA 1.x polygon export (the balloon dataset) into COCO json.

Example (what ``make balloon`` runs; the images stay where they are)::

    python tools/dataset_converters/via_to_coco.py \
        ../shared/datasets/balloon/train/via_region_data.json \
        --img-dir ../shared/datasets/balloon/train \
        --out-file data/balloon/annotations/train.json
"""
import argparse
import sys

from mmdet_dynamic.datasets import via_to_coco


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert a VIA polygon json into COCO json with '
        'segmentation polygons')
    parser.add_argument('via_json', help='via_region_data.json')
    parser.add_argument(
        '--img-dir', help='image folder (default: the json\'s folder)')
    parser.add_argument('--out-file', required=True, help='COCO json path')
    parser.add_argument('--class-name', default='balloon')
    return parser.parse_args(argv)


def main(argv=None):
    import os.path as osp
    args = parse_args(argv)
    img_dir = args.img_dir or osp.dirname(osp.abspath(args.via_json))
    try:
        counts = via_to_coco(args.via_json, img_dir, args.out_file,
                             args.class_name)
    except (FileNotFoundError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'{args.out_file}: {counts["images"]} images, '
          f'{counts["annotations"]} polygons')
    return 0


if __name__ == '__main__':
    sys.exit(main())
