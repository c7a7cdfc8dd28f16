# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""VIA polygons -> COCO on the real balloon data (read from ../shared)."""
import json
import os.path as osp
import shutil

import pytest

from mmdet_dynamic.datasets import AnnotationError, via_to_coco
from mmdet_dynamic.datasets.via_to_coco import polygon_area


def test_balloon_train_and_val(balloon_root, tmp_path):
    counts = {}
    for split in ('train', 'val'):
        out = tmp_path / f'{split}.json'
        counts[split] = via_to_coco(
            osp.join(balloon_root, split, 'via_region_data.json'),
            osp.join(balloon_root, split), str(out))
        coco = json.load(open(out))
        assert coco['categories'][0]['name'] == 'balloon'
        for ann in coco['annotations']:
            poly = ann['segmentation'][0]
            xs, ys = poly[0::2], poly[1::2]
            assert len(poly) % 2 == 0 and len(xs) >= 3
            assert ann['bbox'] == [
                min(xs), min(ys),
                max(xs) - min(xs),
                max(ys) - min(ys)
            ]
            assert 0 < ann['area'] <= ann['bbox'][2] * ann['bbox'][3]
        sizes = {im['width'] for im in coco['images']} | \
            {im['height'] for im in coco['images']}
        assert max(sizes) in (1024, 2048)
    # numbers from the dataset's README
    assert counts['train'] == dict(images=61, annotations=255)
    assert counts['val'] == dict(images=13, annotations=50)


def test_masks_load_with_mmdet(balloon_root, tmp_path):
    from mmdet.datasets import CocoDataset
    out = tmp_path / 'val.json'
    via_to_coco(
        osp.join(balloon_root, 'val', 'via_region_data.json'),
        osp.join(balloon_root, 'val'), str(out))
    ds = CocoDataset(
        data_root=osp.join(balloon_root, 'val'),
        ann_file=str(out),
        data_prefix=dict(img=''),
        metainfo=dict(classes=('balloon', )),
        pipeline=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True)
        ],
        test_mode=True)
    sample = ds[0]
    h, w = sample['img'].shape[:2]
    masks = sample['gt_masks'].to_ndarray()
    assert masks.shape[1:] == (h, w)
    assert masks.shape[0] == len(sample['gt_bboxes']) and masks.any()


def test_polygon_area():
    assert polygon_area([0, 4, 4, 0], [0, 0, 3, 3]) == 12.0


def _small_copy(balloon_root, tmp_path):
    via = json.load(
        open(osp.join(balloon_root, 'val', 'via_region_data.json')))
    key = next(iter(via))
    shutil.copy(
        osp.join(balloon_root, 'val', via[key]['filename']), tmp_path)
    return {key: via[key]}, key


@pytest.mark.parametrize('field,mutate,match', [
    ('regions', lambda e: e.pop('regions'), '"regions"'),
    ('all_points_y', lambda e: e['regions']['0']['shape_attributes'][
        'all_points_y'].pop(), 'all_points_x/y'),
    ('name', lambda e: e['regions']['0']['shape_attributes'].update(
        name='rect'), 'shape_attributes.name'),
    ('filename', lambda e: e.pop('filename'), '"filename"'),
])
def test_malformed_entry_names_file_and_field(balloon_root, tmp_path, field,
                                              mutate, match):
    via, key = _small_copy(balloon_root, tmp_path)
    mutate(via[key])
    src = tmp_path / 'via.json'
    src.write_text(json.dumps(via))
    out = tmp_path / 'out' / 'coco.json'
    with pytest.raises(AnnotationError) as err:
        via_to_coco(str(src), str(tmp_path), str(out))
    assert 'via.json' in str(err.value) and match in str(err.value)
    assert not out.exists()


def test_missing_image_and_json(balloon_root, tmp_path):
    via, key = _small_copy(balloon_root, tmp_path)
    src = tmp_path / 'via.json'
    src.write_text(json.dumps(via))
    out = tmp_path / 'coco.json'
    with pytest.raises(FileNotFoundError, match=via[key]['filename']):
        via_to_coco(str(src), str(tmp_path / 'elsewhere'), str(out))
    with pytest.raises(FileNotFoundError, match='nope.json'):
        via_to_coco(str(tmp_path / 'nope.json'), str(tmp_path), str(out))
    assert not out.exists()


def test_nan_point_and_bad_image_are_rejected(balloon_root, tmp_path):
    """A NaN point (json allows NaN) used to give NaN boxes; a garbage
    image used to convert. Both stop, naming the file; nothing written."""
    via, key = _small_copy(balloon_root, tmp_path)
    shape = via[key]['regions']['0']['shape_attributes']
    shape['all_points_x'][0] = float('nan')
    src = tmp_path / 'via.json'
    src.write_text(json.dumps(via))
    out = tmp_path / 'out' / 'coco.json'
    with pytest.raises(AnnotationError, match=r'via\.json.*region 0.*finite'):
        via_to_coco(str(src), str(tmp_path), str(out))
    assert not out.exists()
    via, key = _small_copy(balloon_root, tmp_path)
    (tmp_path / via[key]['filename']).write_bytes(b'garbage' * 20)
    src.write_text(json.dumps(via))
    with pytest.raises(AnnotationError,
                       match=via[key]['filename'] + '.*does not decode'):
        via_to_coco(str(src), str(tmp_path), str(out))
    assert not out.exists()
