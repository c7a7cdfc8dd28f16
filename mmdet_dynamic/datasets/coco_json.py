# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Shared pieces of the COCO json converters: errors, image checks and
safe writing."""
import json
import math
import os.path as osp
from typing import Dict, List, Sequence, Tuple

from ..utils.atomic_write import write_atomically


class AnnotationError(ValueError):
    """A source annotation is missing or malformed.

    The message names the file and the field at fault.
    """


def require_file(path: str, what: str) -> str:
    """Return ``path`` if it is a file, else raise a clear error.

    Args:
        path (str): Path to check.
        what (str): What the file is, for the message (e.g. ``'image'``).

    Raises:
        FileNotFoundError: If ``path`` does not exist or is not a file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{what} not found: {path}')
    return path


def decoded_image_size(path: str, where: str) -> Tuple[int, int]:
    """(width, height) of an image decoded the way mmdet's
    ``LoadImageFromFile`` decodes it for training (mmcv, cv2 backend,
    colour, EXIF orientation applied).

    Raises:
        AnnotationError: If the file is empty or does not decode as an
            image, naming it.
    """
    import mmcv
    with open(path, 'rb') as f:
        data = f.read()
    if not data:
        raise AnnotationError(f'{path} (named by {where}): the image file '
                              'is empty (0 bytes)')
    try:
        img = mmcv.imfrombytes(data, flag='color', backend='cv2')
    except Exception as e:  # cv2 raises cv2.error on some corrupt files
        img, reason = None, f' ({e})'
    else:
        reason = ''
    if img is None:
        raise AnnotationError(
            f'{path} (named by {where}): the image does not decode'
            f'{reason}; re-export or remove it')
    height, width = img.shape[:2]
    return width, height


def require_finite(values: Sequence[float], where: str) -> None:
    """Coordinates must be finite numbers.

    Raises:
        AnnotationError: On NaN or inf, naming ``where``.
    """
    bad = [v for v in values if not math.isfinite(v)]
    if bad:
        raise AnnotationError(
            f'{where}: coordinates must be finite numbers, got {bad[0]}')


def coco_categories(class_names: List[str]) -> List[Dict]:
    """COCO ``categories`` entries, ids starting at 1 in the given order."""
    return [
        dict(id=i, name=name, supercategory='none')
        for i, name in enumerate(class_names, start=1)
    ]


def write_coco_json(coco: Dict, out_file: str) -> None:
    """Write a COCO dict atomically: the file appears complete or not at all.

    Args:
        coco (dict): Dict with ``images``, ``annotations``, ``categories``.
        out_file (str): Destination path; parent folders are created.
    """

    def write(path: str) -> None:
        with open(path, 'w') as f:
            json.dump(coco, f)

    write_atomically(out_file, write)
