# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Files written whole or not at all, with the user's permissions."""
import os
import stat

import pytest

from mmdet_dynamic.utils import (OutputDirError, check_writable_dir,
                                 write_atomically, write_files_atomically)


def _text(content):
    def write(path):
        with open(path, 'w') as f:
            f.write(content)
    return write


@pytest.mark.parametrize('umask', [0o022, 0o002])
def test_files_get_the_permissions_open_gives(tmp_path, umask):
    """A team shares outputs: the mode is 0o666 less the umask (it was
    0o600 whatever the umask)."""
    old = os.umask(umask)
    try:
        path = tmp_path / 'out.json'
        write_atomically(str(path), _text('{}'))
        with open(tmp_path / 'plain', 'w'):
            pass
    finally:
        os.umask(old)
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o666 & ~umask
    assert mode == stat.S_IMODE((tmp_path / 'plain').stat().st_mode)


def test_several_files_all_or_none(tmp_path):
    def fail(path):
        raise RuntimeError('plot failed')

    (tmp_path / 'a.csv').write_text('old')
    with pytest.raises(RuntimeError, match='plot failed'):
        write_files_atomically({
            str(tmp_path / 'a.csv'): _text('new'),
            str(tmp_path / 'b.json'): _text('{}'),
            str(tmp_path / 'c.png'): fail
        })
    assert sorted(os.listdir(tmp_path)) == ['a.csv']  # no temporary left
    assert (tmp_path / 'a.csv').read_text() == 'old'
    write_files_atomically({
        str(tmp_path / 'a.csv'): _text('new'),
        str(tmp_path / 'sub' / 'b.json'): _text('{}')
    })
    assert (tmp_path / 'a.csv').read_text() == 'new'
    assert (tmp_path / 'sub' / 'b.json').read_text() == '{}'


def test_check_writable_dir_creates_nothing(tmp_path):
    check_writable_dir(str(tmp_path / 'new' / 'deeper'))
    assert not (tmp_path / 'new').exists()
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    with pytest.raises(OutputDirError, match='is a file'):
        check_writable_dir(str(blocker))
    with pytest.raises(OutputDirError, match='cannot be written'):
        check_writable_dir(str(blocker / 'below'))
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / 'locked'
        locked.mkdir(mode=0o500)
        with pytest.raises(OutputDirError, match='cannot be written'):
            check_writable_dir(str(locked / 'out'))
