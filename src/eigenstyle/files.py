"""Writing a file atomically, and hashing one: the one way every module does each.

A file is written under a temporary name in its own folder and renamed into
place, so a reader (the studio's browser, a later run) never sees half a file,
and a failed or interrupted write (disk full, ``ulimit -f``, Ctrl-C) leaves
any previous file at the path untouched and no temporary file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str, suffix: str = "", *, prefix: str = ".eigenstyle-", fsync: bool = True) -> Iterator[str]:
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block ends.

    On success the file is flushed to disk (``fsync``: off for disposable files),
    given the mode ``open()`` would give (mkstemp makes 0600 files) and renamed
    into place. On any exception, KeyboardInterrupt included, the temporary file
    is removed and the exception propagates: callers word their own errors.
    """
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=prefix, suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        if fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.chmod(tmp, default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def default_file_mode() -> int:
    """0666 less the process umask, as open() would give."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def sha256_of_file(path: str) -> str:
    """The hex SHA-256 of a file's bytes, read in 1 MiB chunks (weights files are large)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
