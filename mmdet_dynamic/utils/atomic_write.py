# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Write a file so that it appears complete or not at all."""
import os
import os.path as osp
import tempfile
from typing import Callable


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary file in the destination
    folder, then rename it to ``path``; on any error the temporary file is
    removed and ``path`` is left as it was. Parent folders are created.

    Args:
        path (str): Destination file.
        write (callable): Writes the whole content to the path it is given
            (e.g. ``lambda p: torch.save(obj, p)``).
    """
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
