"""The local executor: every Work in this process, one after the other, as eigenstyle has always run.

Consecutive Work on the same inputs shares one :class:`~eigenstyle.plan.Preparation` (the network,
the content's features and the style's Grams are computed once), and the engine writes each result
(and --save-every's intermediates) to its output as it finishes. Ctrl-C ends the running Work with
its current images (interrupted, written) and nothing after it runs.
"""

from __future__ import annotations

import os
from typing import Iterator, Sequence

from ..files import StoppedWhileWriting
from ..plan import Preparation
from ..stopping import Stopped
from .work import Executor, Handle, Watch, perform


def _identity(im) -> object:
    """What makes two inputs the same for a shared preparation: a file's path, or the object itself."""
    return os.path.abspath(os.fspath(im)) if isinstance(im, (str, os.PathLike)) else id(im)


class LocalExecutor(Executor):
    name = "local"

    def __init__(self, every: int = 5, preview_side: int = 0):
        self.every, self.preview_side = every, preview_side
        self._inputs, self._preparation = None, None

    def preparation(self, work) -> Preparation:
        key = (_identity(work.content), tuple(_identity(s) for s in work.styles))
        if key != self._inputs:
            self._inputs, self._preparation = key, Preparation(work.content, work.styles)
        return self._preparation

    def check(self, work) -> None:
        self.preparation(work).plain_for(work.options[0])  # prepared now, and kept for the first run

    def completed(self, handles: Sequence[Handle], progress: bool = False) -> Iterator[Handle]:
        for h in handles:
            if h.reason is None:  # one cancelled before it ran never runs
                watch = Watch(lambda tick, h=h: h.on_tick and h.on_tick(h, tick), h.stopped, self.every,
                              self.preview_side)  # fmt: skip
                try:
                    h.results = perform(h.work, self.preparation(h.work), [watch], progress, h.work.outputs)
                except Stopped as stop:  # cancelled while it was prepared: nothing made
                    h.reason = h.reason or stop.reason
                except StoppedWhileWriting as stop:  # its images were written whole: they count, then the stop
                    h.results = stop.results
                    yield h
                    raise
            yield h
