# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Export a trained detector to ONNX, keeping a dynamic detector's routing.

    python tools/deployment/export_onnx.py CONFIG CHECKPOINT --out-dir DIR \
        [--end2end]

With --end2end, one graph DIR/end2end.onnx: image, valid_hw (and a
cascade's threshold) -> padded detections (dets, labels, num_dets; masks;
a cascade's route and phi), routing, post-processing and NMS inside; it
runs without Python (see tools/deployment/ort_minimal.py). Otherwise
a DynamicCascadeDetector gives DIR/router.onnx (image -> B1 features and
router score), DIR/easy.onnx (B1 features -> detector 1's outputs) and
DIR/hard.onnx (image + B1 features -> detector 2's outputs); a plain mmdet
detector gives DIR/detector.onnx. RepConv and YOLOv7's implicit layers are
fused first. Run the graphs with tools/deployment/onnx_infer.py or
mmdet_dynamic.deployment.DynamicONNXRunner.
"""
import argparse
import sys


def main(argv=None):
    try:  # needs the [deploy] extra
        from mmdet_dynamic.deployment.onnx_export import (DEFAULT_OPSET,
                                                          export_onnx)
    except ImportError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument(
        '--input-shape',
        type=int,
        nargs=2,
        metavar=('H', 'W'),
        help='fixed input height and width (default: dynamic height and '
        'width; the batch axis is always dynamic)')
    parser.add_argument('--opset', type=int, default=DEFAULT_OPSET)
    parser.add_argument(
        '--allow-partial',
        action='store_true',
        help='accept a checkpoint that does not fit the config (only the '
        'tensors that fit are loaded); without it a mismatch stops here')
    parser.add_argument(
        '--end2end',
        action='store_true',
        help='one graph, end2end.onnx, from image to detections with the '
        'routing and NMS inside')
    args = parser.parse_args(argv)
    try:
        files = export_onnx(
            args.config,
            args.checkpoint,
            args.out_dir,
            input_shape=args.input_shape,
            opset=args.opset,
            allow_partial=args.allow_partial,
            end2end=args.end2end)
    except (FileNotFoundError, ImportError, KeyError, ValueError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print('wrote ' + ', '.join(files))
    return 0


if __name__ == '__main__':
    sys.exit(main())
