# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Run an end-to-end graph (``export_onnx.py ... --end2end``) with numpy,
OpenCV and onnxruntime only: no torch, mmcv, mmengine, mmdet or
mmdet_dynamic. A template to port to C++, C#, Java or JavaScript, where the
same three steps apply:

1. preprocess as the graph's metadata says (``preprocess``: the test
   pipeline's ``Resize`` and the data preprocessor's mean, std, channel
   order and padding);
2. run the graph with the inputs its metadata lists (``image``,
   ``valid_hw`` unless the heads need no image size, and a cascade's
   routing ``threshold``), with the session settings in
   ``ort_session_config``;
3. keep each image's first ``num_dets`` detections, divide the boxes by
   the resize's scale factor and, where the metadata's ``clip_to_original``
   says so, clamp them to the original image (masks: paste each box's
   probabilities into the image and binarise them; not done here).

Usage:
    python tools/deployment/ort_minimal.py end2end.onnx a.jpg b.jpg \
        [--threshold 0.5] [--out dets.json]
"""
import argparse
import json

import cv2
import numpy as np
import onnxruntime as ort


def preprocess(path, spec):
    """BGR image file -> (1, 3, H, W) float32 input, its (h, w), the
    resize's (w, h) scale factor and the original (h, w), as mmdet's Resize
    + DetDataPreprocessor compute them."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise SystemExit(f'error: cannot read image {path}')
    h, w = img.shape[:2]
    resize = [t for t in spec['pipeline'] if t['type'].endswith('Resize')]
    other = [t['type'] for t in spec['pipeline'] if t['type'] not in (
        'LoadImageFromFile', 'Resize', 'LoadAnnotations', 'PackDetInputs')]
    if other or (resize and resize[0]['type'] != 'Resize'):
        raise SystemExit(f'error: this script knows Resize only; the test '
                         f'pipeline also has {other or resize[0]["type"]}')
    if resize:
        sw, sh = resize[0]['scale']
        if resize[0].get('keep_ratio'):  # mmcv.imrescale
            f = min(max(sw, sh) / max(h, w), min(sw, sh) / min(h, w))
            sw, sh = int(w * f + 0.5), int(h * f + 0.5)
        img = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_LINEAR)
    nh, nw = img.shape[:2]
    x = img.astype(np.float32)
    if spec['bgr_to_rgb']:
        x = x[..., ::-1]
    if spec['mean'] is not None:
        x = (x - np.float32(spec['mean'])) / np.float32(spec['std'])
    div = spec['pad_size_divisor']
    ph, pw = -(-nh // div) * div, -(-nw // div) * div
    padded = np.full((ph, pw, 3), spec['pad_value'], np.float32)
    padded[:nh, :nw] = x
    return (padded.transpose(2, 0, 1)[None].copy(), (nh, nw),
            np.array([nw / w, nh / h, nw / w, nh / h], np.float32), (h, w))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('model', help='end2end.onnx')
    parser.add_argument('images', nargs='+')
    parser.add_argument('--threshold', type=float, default=None,
                        help='routing threshold on phi (default: the '
                        'calibrated one in the metadata)')
    parser.add_argument('--out', help='write the detections as JSON')
    args = parser.parse_args(argv)
    options = ort.SessionOptions()
    probe = ort.InferenceSession(args.model)
    meta = json.loads(probe.get_modelmeta().custom_metadata_map[
        'mmdet_dynamic'])
    if meta.get('graph') != 'end2end':
        raise SystemExit(f'error: {args.model} is not an end-to-end graph; '
                         'export with tools/deployment/export_onnx.py '
                         '--end2end')
    # the session settings the graph needs; onnxruntime < 1.24 reads
    # the config entry as one name and needs its NCHWc transformer off too
    kwargs = {}
    if tuple(int(p) for p in ort.__version__.split('.')[:2]) < (1, 24):
        kwargs['disabled_optimizers'] = ['ReshapeFusion', 'NchwcTransformer']
    else:
        for key, value in meta.get('ort_session_config', {}).items():
            options.add_session_config_entry(key, value)
    sess = ort.InferenceSession(args.model, options, **kwargs)
    names = meta['outputs']
    results = []
    for path in args.images:
        image, (h, w), scale, (oh, ow) = preprocess(path, meta['preprocess'])
        feeds = dict(image=image, valid_hw=np.array([[h, w]], np.int64))
        if 'threshold' in meta['inputs']:
            t = meta['threshold'] if args.threshold is None \
                else args.threshold
            feeds['threshold'] = np.array(t, np.float32)
        feeds = {k: v for k, v in feeds.items() if k in meta['inputs']}
        out = dict(zip(names, sess.run(None, feeds)))
        n = int(out['num_dets'][0])
        boxes = out['dets'][0, :n, :4] / scale
        if meta.get('clip_to_original'):  # as the head does (YOLOv7)
            boxes = np.clip(boxes, 0, [ow, oh, ow, oh])
        result = dict(image=path,
                      boxes=boxes.tolist(),
                      scores=out['dets'][0, :n, 4].tolist(),
                      labels=out['labels'][0, :n].tolist())
        if 'route' in out:
            result.update(route='hard' if out['route'][0] else 'easy',
                          phi=float(out['phi'][0]))
        results.append(result)
        print(f'{path}: {n} detections' +
              (f', {result["route"]} route' if 'route' in result else ''))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(results, f)


if __name__ == '__main__':
    main()
