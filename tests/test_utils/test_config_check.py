# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Bad configs stop early with a message that names the missing thing."""
import pytest
from mmengine.config import Config

from mmdet_dynamic.utils import check_data_paths


def _cfg(data_root, ann_file='a.json', wrapped=False):
    ds = dict(type='CocoDataset', data_root=data_root, ann_file=ann_file)
    if wrapped:
        ds = dict(type='RepeatDataset', times=2, dataset=ds)
    return Config(dict(train_dataloader=dict(dataset=ds)))


def test_missing_data_root_is_named(tmp_path):
    missing = str(tmp_path / 'no_such_root')
    with pytest.raises(FileNotFoundError) as err:
        check_data_paths(_cfg(missing))
    msg = str(err.value)
    assert 'train_dataloader.dataset.data_root' in msg and missing in msg
    assert '--cfg-options' in msg


def test_missing_ann_file_in_wrapper_is_named(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'train_dataloader\.dataset\.dataset\.ann_file'):
        check_data_paths(_cfg(str(tmp_path), 'x.json', wrapped=True))


def test_existing_paths_pass(tmp_path):
    (tmp_path / 'a.json').write_text('{}')
    check_data_paths(_cfg(str(tmp_path)))
    check_data_paths(Config(dict(model=dict(type='X'))))  # no dataloaders
