# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Convert a VOC-style folder plus split lists into COCO json.

Layout expected (the raccoon dataset's)::

    ROOT/
      annotations/<name>.xml      VOC xml, one per image
      images/<name>.jpg           the images
      data/train_labels.csv       split lists: a CSV with a ``filename``
      data/test_labels.csv        column, or a text file with one image
                                  name or id per line (VOC ImageSets);
                                  several lists joined by ``+`` make one
                                  split (``all=train.txt+test.txt``)

The folder names are options (BCCD's ``Annotations``/``JPEGImages`` layout
works with ``ann_dir``/``img_dir``).

Boxes come from the VOC xml, taken as pixel-edge coordinates ``(x1, y1, x2,
y2)`` exactly as mmdet's ``XMLDataset`` reads them, and written as COCO
``[x1, y1, x2 - x1, y2 - y1]``. Objects marked ``difficult`` are written with
``iscrowd=1`` so that both mmdet's training and COCO evaluation ignore them.
Every file and field is checked before anything is written. A box that is
empty (zero width or height) or outside its image stops the conversion with
the file named, unless ``drop_invalid`` is set: then such boxes are left out
and each is reported.
"""
import csv
import os.path as osp
import xml.etree.ElementTree as ET
from typing import Callable, Dict, List, Optional, Sequence

from .coco_json import (AnnotationError, coco_categories,
                        decoded_image_size, require_file, require_finite,
                        write_coco_json)


def read_split_lists(split_files: str, root: str = '') -> List[str]:
    """Image names of a split given by one list or several joined by ``+``
    (``train.txt+test.txt``), in first-seen order, without duplicates.

    Args:
        split_files (str): List paths, ``+``-separated, relative to
            ``root``.
        root (str): Folder the paths are relative to.
    """
    stems: List[str] = []
    for split_file in split_files.split('+'):
        stems.extend(read_split_list(osp.join(root, split_file)))
    return list(dict.fromkeys(stems))


def read_split_list(split_file: str) -> List[str]:
    """Image names of one split, in first-seen order, without duplicates.

    Args:
        split_file (str): A ``.csv`` with a ``filename`` column, or a text
            file with one image name (or id without extension) per line.

    Returns:
        list[str]: Image stems (file names without extension).
    """
    require_file(split_file, 'split list')
    names: List[str] = []
    if split_file.endswith('.csv'):
        with open(split_file, newline='') as f:
            reader = csv.DictReader(f)
            if reader.fieldnames is None or 'filename' not in \
                    reader.fieldnames:
                raise AnnotationError(
                    f'{split_file}: no "filename" column in the CSV header '
                    f'(found {reader.fieldnames})')
            for row in reader:
                names.append(row['filename'])
    else:
        with open(split_file) as f:
            names = [line.strip() for line in f if line.strip()]
    stems = [osp.splitext(n)[0] for n in names]
    if not stems:
        raise AnnotationError(f'{split_file}: the split list is empty')
    return list(dict.fromkeys(stems))


def _field(node: ET.Element, path: str, xml_file: str) -> str:
    found = node.find(path)
    if found is None or found.text is None or not found.text.strip():
        raise AnnotationError(f'{xml_file}: missing field <{path}>')
    return found.text.strip()


def _number(node: ET.Element, path: str, xml_file: str) -> float:
    text = _field(node, path, xml_file)
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(
            f'{xml_file}: field <{path}> is not a number: {text!r}') from None
    require_finite([value], f'{xml_file}: field <{path}>')
    return value


def parse_voc_xml(xml_file: str, drop_invalid: bool = False) -> Dict:
    """Parse one VOC xml file.

    Args:
        xml_file (str): The file.
        drop_invalid (bool): Leave out boxes that are empty or outside the
            image (listed in ``dropped``) instead of raising.

    Returns:
        dict: ``filename``, ``width``, ``height``, ``objects``, a list of
        dicts with ``name``, ``bbox`` (x1, y1, x2, y2) and ``difficult``,
        and ``dropped``: a message for each box left out.

    Raises:
        AnnotationError: Naming the file and the field that is missing,
            not a number, or (without ``drop_invalid``) out of the image.
    """
    require_file(xml_file, 'VOC annotation')
    try:
        root = ET.parse(xml_file).getroot()
    except ET.ParseError as e:
        raise AnnotationError(f'{xml_file}: not valid XML ({e})') from None
    width = _number(root, 'size/width', xml_file)
    height = _number(root, 'size/height', xml_file)
    if width <= 0 or height <= 0:
        raise AnnotationError(
            f'{xml_file}: field <size> must be positive, got '
            f'{width}x{height}')
    objects, dropped = [], []
    for i, obj in enumerate(root.findall('object')):
        name = _field(obj, 'name', xml_file)
        x1, y1, x2, y2 = (
            _number(obj, f'bndbox/{k}', xml_file)
            for k in ('xmin', 'ymin', 'xmax', 'ymax'))
        if not (0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height):
            message = (f'{xml_file}: field <object>[{i}]/<bndbox> '
                       f'({x1:g}, {y1:g}, {x2:g}, {y2:g}) of a {name} is '
                       f'empty or outside the {width:g}x{height:g} image')
            if not drop_invalid:
                raise AnnotationError(
                    message + '; fix the box, or pass --drop-invalid '
                    '(drop_invalid=True) to leave such boxes out')
            dropped.append(message)
            continue
        difficult = obj.find('difficult')
        objects.append(
            dict(
                name=name,
                bbox=(x1, y1, x2, y2),
                difficult=difficult is not None
                and (difficult.text or '0').strip() == '1'))
    return dict(
        filename=_field(root, 'filename', xml_file),
        width=int(width),
        height=int(height),
        objects=objects,
        dropped=dropped)


def voc_to_coco(root: str,
                split_files: Dict[str, str],
                out_dir: str,
                classes: Optional[Sequence[str]] = None,
                ann_dir: str = 'annotations',
                img_dir: str = 'images',
                drop_invalid: bool = False,
                report: Optional[Callable[[str], None]] = None
                ) -> Dict[str, str]:
    """Convert a VOC-style folder into one COCO json per split.

    Args:
        root (str): Dataset root.
        split_files (dict[str, str]): Split name -> split list path, e.g.
            ``{'train': 'data/train_labels.csv'}``, or several paths joined
            by ``+``; relative paths are taken from ``root``.
        out_dir (str): Where ``<split>.json`` files are written.
        classes (Sequence[str], optional): Class names in category-id order.
            Defaults to the sorted names found in the xml files.
        ann_dir (str): Folder of the xml files under ``root``.
        img_dir (str): Folder of the images under ``root``.
        drop_invalid (bool): Leave out boxes that are empty or outside
            their image instead of stopping; each one is passed to
            ``report`` (once, even if the image is in several splits).
        report (callable, optional): Receives a message per dropped box.
            Defaults to printing it.

    Returns:
        dict[str, str]: Split name -> written json path.

    Raises:
        FileNotFoundError: A split list, xml file or image is missing.
        AnnotationError: A field is missing or malformed, a coordinate is
            not finite, an image is empty, does not decode, or its size
            differs from the annotation (file and field named). Nothing is
            written in either case.
    """
    parsed: Dict[str, List[Dict]] = {}
    dropped: Dict[str, None] = {}
    for split, split_file in split_files.items():
        stems = read_split_lists(split_file, root)
        records = []
        for stem in stems:
            xml_file = osp.join(root, ann_dir, f'{stem}.xml')
            record = parse_voc_xml(xml_file, drop_invalid)
            dropped.update(dict.fromkeys(record['dropped']))
            img_path = require_file(
                osp.join(root, img_dir, record['filename']),
                f'image named by {xml_file}')
            size = decoded_image_size(img_path, xml_file)
            if size != (record['width'], record['height']):
                raise AnnotationError(
                    f'{xml_file}: field <size> says {record["width"]}x'
                    f'{record["height"]}, but {img_path} decodes to '
                    f'{size[0]}x{size[1]}; fix the annotation or the image')
            records.append(record)
        parsed[split] = records

    found = sorted({o['name'] for recs in parsed.values()
                    for r in recs for o in r['objects']})
    class_names = list(classes) if classes else found
    unknown = sorted(set(found) - set(class_names))
    if unknown:
        raise AnnotationError(
            f'objects of classes {unknown} are not in classes={class_names}')
    cat_id = {name: i for i, name in enumerate(class_names, start=1)}

    cocos = {}
    for split, records in parsed.items():
        images, annotations = [], []
        for img_id, rec in enumerate(records, start=1):
            images.append(
                dict(
                    id=img_id,
                    file_name=rec['filename'],
                    width=rec['width'],
                    height=rec['height']))
            for obj in rec['objects']:
                x1, y1, x2, y2 = obj['bbox']
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=img_id,
                        category_id=cat_id[obj['name']],
                        bbox=[x1, y1, x2 - x1, y2 - y1],
                        area=(x2 - x1) * (y2 - y1),
                        iscrowd=int(obj['difficult'])))
        cocos[split] = dict(
            images=images,
            annotations=annotations,
            categories=coco_categories(class_names))

    for message in dropped:
        (report or print)(f'dropped: {message}')
    written = {}
    for split, coco in cocos.items():
        out_file = osp.join(out_dir, f'{split}.json')
        write_coco_json(coco, out_file)
        written[split] = out_file
    return written
