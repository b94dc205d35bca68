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
import signal
import tempfile
import threading
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


class StoppedWhileWriting(KeyboardInterrupt):
    """Ctrl-C or SIGTERM that came while :func:`stops_held` wrote ``paths``: they were written whole first."""

    def __init__(self, paths: list):
        super().__init__()
        self.paths = paths
        self.results = None  # the results written, where the writer had them (engine's batches)


_held: list = []  # the outermost stops_held's (signals seen, paths written)


@contextlib.contextmanager
def stops_held() -> Iterator[list]:
    """Ctrl-C and SIGTERM wait while the block writes a set of files (an image and its companions, a
    batch's images): they are written whole, then the stop comes as :class:`StoppedWhileWriting` naming
    them. The block adds each path it writes to the list it is given. Only the main thread can hold
    signals; elsewhere (a worker) and inside an outer hold the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    if _held:
        yield _held[0][1]
        return
    seen, paths = [], []
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    previous = {s: h for s, h in previous.items() if h is not signal.SIG_IGN and h is not None}
    for s in previous:
        signal.signal(s, lambda signum, frame: seen.append(signum))
    _held.append((seen, paths))
    try:
        yield paths
    finally:
        _held.pop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    for signum in seen[:1]:  # now as it would have come: its own handler (KeyboardInterrupt), or the default
        handler = previous[signum]
        if not callable(handler):
            signal.raise_signal(signum)
            continue
        try:
            handler(signum, None)
        except KeyboardInterrupt:
            raise StoppedWhileWriting(paths) from None


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


class Carried:
    """An input file travelling by content (to another machine's worker): its bytes, with the path and
    hash it had where it was read, so a recipe made anywhere names the artist's own file.

    ``local()`` is a copy of the bytes on the machine that runs (written once, named by the hash, in
    the temporary folder), for the readers that want a path. Example::

        >>> c = Carried.read(__file__)
        >>> c.sha256 == sha256_of_file(__file__) and open(c.local(), "rb").read() == c.data
        True
    """

    def __init__(self, path: str, data: bytes):
        self.path, self.data = os.path.abspath(path), data
        self.sha256 = hashlib.sha256(data).hexdigest()

    @classmethod
    def read(cls, path) -> "Carried":
        with open(path, "rb") as f:
            return cls(os.fspath(path), f.read())

    def local(self) -> str:
        folder = os.path.join(tempfile.gettempdir(), "eigenstyle-inputs")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, self.sha256 + os.path.splitext(self.path)[1].lower())
        if not os.path.isfile(path):
            with atomic_path(path, fsync=False) as tmp, open(tmp, "wb") as f:
                f.write(self.data)
        return path

    def __repr__(self) -> str:
        return f"Carried({self.path!r}, {len(self.data)} bytes)"
