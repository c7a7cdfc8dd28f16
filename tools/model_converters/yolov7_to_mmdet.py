# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Convert an official YOLOv7 or DynamicDet checkpoint to mmdet_dynamic.

    python tools/model_converters/yolov7_to_mmdet.py yolov7_training.pt \\
        work_dirs/converted
    python tools/model_converters/yolov7_to_mmdet.py dy-yolov7-step2.pt \\
        work_dirs/converted

Writes OUT_DIR/<name>.pth and the matching config OUT_DIR/<name>.py. The
checkpoint is read without running its pickle: official module classes are
mapped to inert stand-ins and anything else is refused. Nothing is written
unless every tensor fits.
"""
import argparse
import sys

from mmdet_dynamic.apis.yolov7_convert import (ConversionError,
                                               UnsafeCheckpointError,
                                               convert_yolov7_checkpoint)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert official YOLOv7 (yolov7*.pt, *_training.pt) '
        'or DynamicDet (dy-yolov7*.pt) checkpoints')
    parser.add_argument('checkpoint', help='official checkpoint (.pt)')
    parser.add_argument('out_dir', help='folder for the .pth and .py')
    parser.add_argument(
        '--name', help='output file name (default: the input stem)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        ckpt, cfg = convert_yolov7_checkpoint(args.checkpoint, args.out_dir,
                                              args.name)
    except (UnsafeCheckpointError, ConversionError, ValueError,
            FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(f'wrote {ckpt}\nwrote {cfg}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
