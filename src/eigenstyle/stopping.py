"""An observer's stop (the studio's Cancel) between the loop's steps.

The loop asks its observers after every step (loop.Observer.seen). While a run is prepared (its
arithmetic timed, its features and Grams computed) or its swatch set up there is no step, so the run's
observers are put in reach (:func:`asking`) and asked (``Observer.stopping``) at checkpoints
(:func:`checkpoint`) by the code that takes time there: each preparation, each timed pass of the arithmetic.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterable, Iterator


class Stopped(Exception):
    """An observer ended the run: in its swatch's synthesis (``phase`` "swatch"), or at a checkpoint
    ("preparing": nothing of that scale was made yet). ``reason`` is the observer's."""

    def __init__(self, reason: str, phase: str = "swatch"):
        super().__init__(reason)
        self.reason, self.phase = reason, phase


_ASKED: ContextVar[tuple] = ContextVar("eigenstyle_asked", default=())


@contextmanager
def asking(observers: Iterable) -> Iterator[None]:
    """Within the block, :func:`checkpoint` asks ``observers`` too (per thread and task: a studio worker's
    observers are its own)."""
    token = _ASKED.set(_ASKED.get() + tuple(observers))
    try:
        yield
    finally:
        _ASKED.reset(token)


def checkpoint() -> None:
    """Raise :class:`Stopped` if an observer in reach asks to stop (``stopping()`` gives a reason)."""
    for o in _ASKED.get():
        reason = getattr(o, "stopping", lambda: None)()
        if reason is not None:
            raise Stopped(reason, "preparing")
