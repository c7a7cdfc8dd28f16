# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""VOC -> COCO conversion on the bundled raccoon data, and its errors."""
import csv
import json
import os
import os.path as osp
import shutil
import subprocess
import sys

import pytest

from mmdet_dynamic.datasets import (AnnotationError, parse_voc_xml,
                                    voc_to_coco)

from ..conftest import PROJECT_ROOT, RACCOON_ROOT


def _split_names(csv_file):
    with open(csv_file, newline='') as f:
        return {row['filename'] for row in csv.DictReader(f)}


def test_raccoon_split_and_boxes(raccoon_coco):
    train = json.load(open(raccoon_coco['train']))
    test = json.load(open(raccoon_coco['test']))
    train_names = _split_names(
        osp.join(RACCOON_ROOT, 'data', 'train_labels.csv'))
    test_names = _split_names(osp.join(RACCOON_ROOT, 'data',
                                       'test_labels.csv'))
    assert {im['file_name'] for im in train['images']} == train_names
    assert {im['file_name'] for im in test['images']} == test_names
    assert len(train['images']) == 160 and len(test['images']) == 40
    assert train['categories'] == [
        dict(id=1, name='raccoon', supercategory='none')
    ]
    # boxes equal the VOC xml boxes, as COCO [x, y, w, h]
    im = next(i for i in train['images'] if i['file_name'] == 'raccoon-1.jpg')
    anns = [a for a in train['annotations'] if a['image_id'] == im['id']]
    voc = parse_voc_xml(osp.join(RACCOON_ROOT, 'annotations',
                                 'raccoon-1.xml'))
    assert (im['width'], im['height']) == (voc['width'], voc['height'])
    assert [a['bbox'] for a in anns] == [[81, 88, 522 - 81, 408 - 88]]
    # and the CSV's row count of boxes matches the xml objects of the split
    with open(osp.join(RACCOON_ROOT, 'data', 'test_labels.csv')) as f:
        assert len(test['annotations']) == sum(1 for _ in f) - 1
    ids = [a['id'] for a in train['annotations']]
    assert len(set(ids)) == len(ids)


def test_loads_with_mmdet_coco_dataset(raccoon_coco):
    from mmdet.datasets import CocoDataset
    ds = CocoDataset(
        data_root=raccoon_coco['root'],
        ann_file=raccoon_coco['test'],
        data_prefix=dict(img='images/'),
        metainfo=dict(classes=('raccoon', )),
        pipeline=[],
        test_mode=True)
    assert len(ds) == 40
    info = ds[0]
    assert osp.isfile(info['img_path'])
    assert info['instances'][0]['bbox_label'] == 0


def _copy_raccoon(tmp_path, names=('raccoon-1', 'raccoon-2')):
    root = tmp_path / 'voc'
    (root / 'annotations').mkdir(parents=True)
    (root / 'images').mkdir()
    for n in names:
        shutil.copy(osp.join(RACCOON_ROOT, 'annotations', f'{n}.xml'),
                    root / 'annotations')
        shutil.copy(osp.join(RACCOON_ROOT, 'images', f'{n}.jpg'),
                    root / 'images')
    (root / 'train.txt').write_text('\n'.join(names) + '\n')
    return root


def test_malformed_xml_names_file_and_field(tmp_path):
    root = _copy_raccoon(tmp_path)
    xml = root / 'annotations' / 'raccoon-2.xml'
    xml.write_text(xml.read_text().replace('<xmax>', '<xmax>abc', 1))
    out = tmp_path / 'out'
    with pytest.raises(AnnotationError, match=r'raccoon-2\.xml.*bndbox/xmax'):
        voc_to_coco(str(root), {'train': 'train.txt'}, str(out))
    assert not out.exists() or not os.listdir(out)


def test_missing_files_are_named_and_nothing_written(tmp_path):
    root = _copy_raccoon(tmp_path)
    out = tmp_path / 'out'
    os.remove(root / 'images' / 'raccoon-2.jpg')
    with pytest.raises(FileNotFoundError, match=r'raccoon-2\.jpg'):
        voc_to_coco(str(root), {'train': 'train.txt'}, str(out))
    with pytest.raises(FileNotFoundError, match='split list.*nope.txt'):
        voc_to_coco(str(root), {'train': 'nope.txt'}, str(out))
    os.remove(root / 'annotations' / 'raccoon-1.xml')
    with pytest.raises(FileNotFoundError, match=r'raccoon-1\.xml'):
        voc_to_coco(str(root), {'train': 'train.txt'}, str(out))
    assert not out.exists()


def test_box_outside_image_is_rejected(tmp_path):
    root = _copy_raccoon(tmp_path, names=('raccoon-1', ))
    xml = root / 'annotations' / 'raccoon-1.xml'
    xml.write_text(xml.read_text().replace('<xmax>522', '<xmax>9999'))
    with pytest.raises(AnnotationError, match='outside'):
        voc_to_coco(str(root), {'train': 'train.txt'}, str(tmp_path / 'o'))


def test_cli_reports_error_and_exit_code(tmp_path):
    script = osp.join(PROJECT_ROOT, 'tools', 'dataset_converters',
                      'voc_to_coco.py')
    proc = subprocess.run([
        sys.executable, script, str(tmp_path), '--split', 'train=missing.csv',
        '--out-dir',
        str(tmp_path / 'out')
    ],
                          capture_output=True,
                          text=True)
    assert proc.returncode == 1
    assert 'missing.csv' in proc.stderr
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('content,match', [
    (b'', r'raccoon-2\.jpg.*empty \(0 bytes\)'),
    (b'\xff\xd8\xff\xe0 not a jpeg at all' * 8,
     r'raccoon-2\.jpg.*does not decode'),
])
def test_bad_image_content_is_named_and_nothing_written(tmp_path, content,
                                                        match):
    """A 0-byte or garbage JPEG stops the conversion (it used to convert
    and kill training at iteration 3 with a cv2 error naming no file)."""
    root = _copy_raccoon(tmp_path)
    (root / 'images' / 'raccoon-2.jpg').write_bytes(content)
    out = tmp_path / 'out'
    with pytest.raises(AnnotationError, match=match):
        voc_to_coco(str(root), {'train': 'train.txt'}, str(out))
    assert not out.exists()


def test_image_size_must_match_the_annotation(tmp_path):
    root = _copy_raccoon(tmp_path, names=('raccoon-1', ))
    xml = root / 'annotations' / 'raccoon-1.xml'
    text = xml.read_text()
    width = text.split('<width>')[1].split('</width>')[0]
    xml.write_text(text.replace(f'<width>{width}</width>',
                                f'<width>{int(width) + 10}</width>'))
    with pytest.raises(AnnotationError,
                       match=r'raccoon-1\.xml: field <size> says .* but '
                       r'.*raccoon-1\.jpg decodes to'):
        voc_to_coco(str(root), {'train': 'train.txt'}, str(tmp_path / 'o'))
    assert not (tmp_path / 'o').exists()


@pytest.mark.parametrize('value', ['nan', 'inf'])
def test_non_finite_coordinates_are_rejected(tmp_path, value):
    root = _copy_raccoon(tmp_path, names=('raccoon-1', ))
    xml = root / 'annotations' / 'raccoon-1.xml'
    xml.write_text(xml.read_text().replace('<xmax>522', f'<xmax>{value}'))
    with pytest.raises(AnnotationError,
                       match=r'raccoon-1\.xml: field <bndbox/xmax>.*finite'):
        voc_to_coco(str(root), {'train': 'train.txt'}, str(tmp_path / 'o'))
    assert not (tmp_path / 'o').exists()


def test_zero_size_box_stops_or_is_dropped_with_drop_invalid(tmp_path):
    """BCCD has two zero-size boxes: the converter stops naming the file
    and the box; ``drop_invalid`` leaves them out, converts the rest of the
    image and reports each one."""
    root = _copy_raccoon(tmp_path, names=('raccoon-1', ))
    xml = root / 'annotations' / 'raccoon-1.xml'
    text = xml.read_text()
    obj = text[text.index('<object>'):text.index('</object>') + 9]
    empty = obj.replace('<xmax>522', '<xmax>81')  # xmin is 81: zero width
    xml.write_text(text.replace(obj, obj + empty))
    with pytest.raises(AnnotationError,
                       match=r'raccoon-1\.xml.*object>\[1\].*empty.*'
                       r'--drop-invalid'):
        voc_to_coco(str(root), {'train': 'train.txt'}, str(tmp_path / 'a'))
    assert not (tmp_path / 'a').exists()
    reports = []
    voc_to_coco(str(root), {'train': 'train.txt'}, str(tmp_path / 'b'),
                drop_invalid=True, report=reports.append)
    with open(tmp_path / 'b' / 'train.json') as f:
        coco = json.load(f)
    assert len(coco['annotations']) == 1  # the valid box kept
    assert len(reports) == 1 and 'raccoon-1.xml' in reports[0]
