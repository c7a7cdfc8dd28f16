# Copyright (c) mmdet_dynamic contributors. All rights reserved.
"""Write files so that they appear complete or not at all."""
import os
import os.path as osp
import tempfile
from typing import Callable, Dict, List


def current_umask() -> int:
    """The process's file-creation mask, read without changing it where
    the system shows it (``/proc/self/status``), else set and restored."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class OutputDirError(ValueError):
    """An output folder that cannot be written (message says why)."""


def check_writable_dir(folder: str, what: str = '--out-dir') -> None:
    """Check, before any work, that files can be created in ``folder``
    (or in the folder that would be created there), without creating
    anything.

    Raises:
        OutputDirError: If ``folder`` is a file, or the nearest existing
            folder on its path is not writable.
    """
    path = osp.abspath(folder)
    if osp.exists(path) and not osp.isdir(path):
        raise OutputDirError(f'{what} {folder} is a file, not a folder')
    existing = path
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    writable = os.access(existing, os.W_OK | os.X_OK)
    if not osp.isdir(existing) or not writable:
        raise OutputDirError(
            f'{what} {folder} cannot be written ({existing} is not a '
            'writable folder); choose another output folder')


def write_files_atomically(writers: Dict[str, Callable[[str], None]]
                           ) -> List[str]:
    """Write several files all together or not at all.

    Each ``writer(tmp_path)`` writes one whole file to a temporary path in
    its destination folder; once every writer has succeeded, the files are
    given the permissions ``open()`` would give a new file (``0o666`` less
    the umask) and renamed into place. On any error every temporary file is
    removed and the destinations are left as they were. Parent folders are
    created.

    Args:
        writers (dict): Destination path -> function writing its content
            (e.g. ``lambda p: torch.save(obj, p)``).

    Returns:
        list[str]: The destination paths.
    """
    tmps: Dict[str, str] = {}
    mode = 0o666 & ~current_umask()
    try:
        for path, write in writers.items():
            folder = osp.dirname(osp.abspath(path))
            os.makedirs(folder, exist_ok=True)
            fd, tmp = tempfile.mkstemp(
                prefix=f'.{osp.basename(path)}.', suffix='.tmp', dir=folder)
            os.close(fd)
            tmps[path] = tmp
            write(tmp)
            os.chmod(tmp, mode)
        for path, tmp in tmps.items():
            os.replace(tmp, path)
    finally:
        for tmp in tmps.values():
            if osp.exists(tmp):
                os.remove(tmp)
    return list(writers)


def write_atomically(path: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary file in the destination
    folder, then rename it to ``path`` (with the permissions ``open()``
    gives a new file); on any error the temporary file is removed and
    ``path`` is left as it was. Parent folders are created.

    Args:
        path (str): Destination file.
        write (callable): Writes the whole content to the path it is given
            (e.g. ``lambda p: torch.save(obj, p)``).
    """
    write_files_atomically({path: write})
