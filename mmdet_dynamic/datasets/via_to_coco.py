# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Convert a VGG Image Annotator (VIA 1.x) polygon export into COCO json.

Input: a ``via_region_data.json`` (the balloon dataset's format), one json
object keyed by ``<filename><size>`` whose values hold ``filename`` and
``regions`` (a dict or list of ``{"shape_attributes": {"name": "polygon",
"all_points_x": [...], "all_points_y": [...]}}``), and the folder of the
images, each decoded as mmdet's loader decodes it (mmcv, cv2, EXIF rotation
applied) for its size: an empty or undecodable image stops the conversion.

Output: COCO json with one category, ``segmentation`` polygons
``[[x0, y0, x1, y1, ...]]``, the polygon's bounding box as ``bbox`` and the
polygon's area (shoelace formula) as ``area``. Every field is checked before
anything is written.
"""
import json
import os.path as osp
from typing import Any, Dict, List, Tuple

from .coco_json import (AnnotationError, coco_categories,
                        decoded_image_size, require_file, require_finite,
                        write_coco_json)


def polygon_area(xs: List[float], ys: List[float]) -> float:
    """Area of a simple polygon by the shoelace formula."""
    n = len(xs)
    twice = sum(xs[i] * ys[(i + 1) % n] - xs[(i + 1) % n] * ys[i]
                for i in range(n))
    return abs(twice) / 2.0


def _regions(entry: Dict[str, Any], where: str) -> List[Dict[str, Any]]:
    regions = entry.get('regions')
    if isinstance(regions, dict):
        return [regions[k] for k in sorted(regions, key=str)]
    if isinstance(regions, list):
        return regions
    raise AnnotationError(f'{where}: field "regions" is missing or not a '
                          f'dict/list (got {type(regions).__name__})')


def _polygon(region: Any, where: str) -> Tuple[List[float], List[float]]:
    shape = region.get('shape_attributes') \
        if isinstance(region, dict) else None
    if not isinstance(shape, dict):
        raise AnnotationError(f'{where}: field "shape_attributes" missing')
    if shape.get('name') != 'polygon':
        raise AnnotationError(
            f'{where}: field "shape_attributes.name" is '
            f'{shape.get("name")!r}; only "polygon" regions are supported')
    xs, ys = shape.get('all_points_x'), shape.get('all_points_y')
    if not isinstance(xs, list) or not isinstance(ys, list):
        raise AnnotationError(
            f'{where}: fields "shape_attributes.all_points_x/y" must be '
            'lists of numbers')
    if len(xs) != len(ys) or len(xs) < 3:
        raise AnnotationError(
            f'{where}: fields "shape_attributes.all_points_x/y" need the '
            f'same length >= 3, got {len(xs)} and {len(ys)}')
    if not all(isinstance(v, (int, float)) for v in xs + ys):
        raise AnnotationError(
            f'{where}: fields "shape_attributes.all_points_x/y" hold a '
            'value that is not a number')
    xs, ys = [float(x) for x in xs], [float(y) for y in ys]
    require_finite(xs + ys,
                   f'{where}: fields "shape_attributes.all_points_x/y"')
    return xs, ys


def via_to_coco(via_json: str,
                img_dir: str,
                out_file: str,
                class_name: str = 'balloon') -> Dict[str, int]:
    """Convert one VIA polygon export into one COCO json file.

    Args:
        via_json (str): Path of ``via_region_data.json``.
        img_dir (str): Folder of the images it names.
        out_file (str): COCO json to write.
        class_name (str): The single category's name.

    Returns:
        dict: ``images`` and ``annotations`` counts written.

    Raises:
        FileNotFoundError: The json or an image it names is missing.
        AnnotationError: A field is missing or malformed (file, entry and
            field named). Nothing is written in either case.
    """
    require_file(via_json, 'VIA annotation file')
    try:
        with open(via_json) as f:
            via = json.load(f)
    except json.JSONDecodeError as e:
        raise AnnotationError(f'{via_json}: not valid json ({e})') from None
    if not isinstance(via, dict):
        raise AnnotationError(
            f'{via_json}: expected a json object keyed by image, got '
            f'{type(via).__name__}')

    images, annotations = [], []
    for img_id, (key, entry) in enumerate(via.items(), start=1):
        where = f'{via_json} [{key!r}]'
        if not isinstance(entry, dict) or not isinstance(
                entry.get('filename'), str) or not entry['filename']:
            raise AnnotationError(f'{where}: field "filename" missing')
        img_path = require_file(
            osp.join(img_dir, entry['filename']), f'image named by {where}')
        width, height = decoded_image_size(img_path, where)
        images.append(
            dict(
                id=img_id,
                file_name=entry['filename'],
                width=width,
                height=height))
        for r, region in enumerate(_regions(entry, where)):
            xs, ys = _polygon(region, f'{where} region {r}')
            x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
            if x1 < 0 or y1 < 0 or x2 > width or y2 > height:
                raise AnnotationError(
                    f'{where} region {r}: field "shape_attributes" has '
                    f'points outside the {width}x{height} image')
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=img_id,
                    category_id=1,
                    segmentation=[[v for xy in zip(xs, ys) for v in xy]],
                    bbox=[x1, y1, x2 - x1, y2 - y1],
                    area=polygon_area(xs, ys),
                    iscrowd=0))
    if not images:
        raise AnnotationError(f'{via_json}: no images in the file')
    write_coco_json(
        dict(
            images=images,
            annotations=annotations,
            categories=coco_categories([class_name])), out_file)
    return dict(images=len(images), annotations=len(annotations))
