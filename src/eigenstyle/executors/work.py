"""What runs and how it reports, for every executor: :class:`Work` (a batch of runs, or one
coarse-to-fine run), :class:`Tick` (a run's progress, small enough to travel), :class:`Watch` (the
engine-side observer that makes Ticks and asks the caller's cancel), :func:`perform` (a Work run in
this process, on a worker or here), :class:`Handle` (a submitted Work) and :class:`Executor` (the
interface). The executors (:mod:`.local`, :mod:`.cluster`) build on this; the package only chooses one
(:func:`eigenstyle.executors.make`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional, Sequence

from PIL import Image

from ..errors import EigenstyleError
from ..loop import Observer, Step
from ..pyramid import Pyramid
from ..stopping import asking


@dataclass
class Work:
    """One unit an executor runs: ``options`` (seeds resolved) of runs that differ only in their Gram
    targets (one batch: ``plan.batches``), or one coarse-to-fine run (``scales``: its scales in turn).
    ``swatch``: a refined tile's parent's swatch picture. ``outputs``: where each result is written
    (None: the caller keeps the Results and writes them itself, as the studio does). ``task``: work of
    another kind instead of ``options``' runs (a morph's leg, morph.Leg): ``task.run(preparation, watch)``
    makes what it returns, ``task.work_iterations`` sizes its progress."""

    content: object  # ImageInput
    styles: Sequence
    options: Sequence
    swatch: Optional[Image.Image] = None
    outputs: Optional[Sequence[str]] = None
    task: Optional[object] = None

    @property
    def coarse_to_fine(self) -> bool:
        return self.task is None and len(self.options) == 1 and len(Pyramid.of(self.options[0])) > 1

    @property
    def iterations(self) -> int:
        """Iterations of the whole Work (every scale's), for one progress bar over many."""
        if self.task is not None:
            return self.task.work_iterations
        o = self.options[0]
        return Pyramid.of(o).iterations


@dataclass
class Tick:
    """A run's progress, small enough to travel: where it is, per-image losses and (when asked) the
    pictures at preview size, level-adjusted as the final images will be. ``phase``: "swatch" (the
    randomised style being made) or "run"; ``size``: the scale's --size."""

    phase: str
    iteration: int
    iterations: int
    elapsed: float
    size: int
    losses: list
    pictures: Optional[list] = None


class Watch(Observer):
    """The engine-side watcher of a Work: a Tick at iteration 1, every ``every``-th and the last, to
    ``emit``; ``stop()`` (a reason, or None) ends the run as interrupted. ``preview_side``: the
    pictures' longest side (0: no pictures)."""

    phases = ("swatch", "run")

    def __init__(self, emit: Callable, stop: Callable = lambda: None, every: int = 5, preview_side: int = 0):
        self.emit, self.stop, self.every, self.preview_side = emit, stop, max(1, every), preview_side

    def wants(self, iteration: int) -> bool:
        return iteration == 1 or iteration % self.every == 0 or self.stop() is not None

    def stopping(self) -> Optional[str]:
        return self.stop()

    def seen(self, step: Step):
        it = step.iteration
        if step.values is not None and (it == 1 or it % self.every == 0 or it == step.iterations):
            self.emit(
                Tick(
                    step.phase,
                    it,
                    step.iterations,
                    round(step.elapsed, 3),
                    step.problem.opts.size,
                    [_finite(v) for v in step.values["total"]],
                    _pictures(step, self.preview_side) if self.preview_side else None,
                )
            )
        return self.stop()


def _finite(v):
    v = float(v)
    return v if v == v and abs(v) != float("inf") else None


def _pictures(step: Step, side: int) -> list:
    """The step's images at ``side`` px at most, shrunk on their device (a print-size image is never
    copied whole), level-adjusted as the run's final images will be (a swatch is shown as it is)."""
    import torch.nn.functional as F

    from ..levels import stretch
    from ..targets import to_pil

    x = step.problem.visible(step.x)
    h, w = x.shape[2:]
    if max(h, w) > side:
        f = side / max(h, w)
        x = F.interpolate(
            x, size=(max(1, round(h * f)), max(1, round(w * f))), mode="bilinear", antialias=True, align_corners=False
        )
    ims = to_pil(x, step.problem.pre)
    clip = None if step.phase == "swatch" else step.problem.opts.levels_clip()
    return [stretch(im, clip) if clip is not None else im for im in ims]


def perform(work: Work, preparation, observers: Sequence[Observer] = (), progress=False, outputs=None) -> list:
    """Run ``work`` here on ``preparation`` (a :class:`~eigenstyle.plan.Preparation` of its inputs): a
    coarse-to-fine run through ``engine.stylize`` (every scale), a batch through ``engine.run_batch``.
    ``outputs``: written by the engine as it runs (with --save-every's intermediates)."""
    from .. import engine

    if work.task is not None:  # its own kind of work: it is told what it may report to and be stopped by
        return work.task.run(preparation, next((o for o in observers if isinstance(o, Watch)), None))
    if work.coarse_to_fine:
        output = outputs[0] if outputs else None
        return [engine.stylize(work.content, work.styles, work.options[0], progress=progress, output=output,
                               observers=observers)]  # fmt: skip
    with asking(observers):  # an observer's stop while they are prepared: stopping.Stopped, nothing made
        problems = preparation.problems(work.options, work.swatch)
    return engine.run_batch(problems, progress=progress, observers=observers, outputs=outputs)


@dataclass
class Handle:
    """A submitted Work: ``results`` once it has run (None if it never ran: cancelled before it
    started), ``error`` a one-line reason it failed."""

    work: Work
    on_tick: Optional[Callable] = None
    stop: Callable = lambda: None  # the caller's own cancel, asked as the Work runs (a reason, or None)
    results: Optional[list] = None
    error: Optional[str] = None
    reason: Optional[str] = None  # the caller's cancel
    state: dict = field(default_factory=dict)  # the executor's own

    def cancel(self, reason: str = "cancelled") -> None:
        self.reason = self.reason or reason

    def stopped(self) -> Optional[str]:
        """Why the Work must end now (a reason), or None."""
        return self.reason or self.stop()


class Executor:
    """Runs Work. ``submit`` queues it; ``completed`` yields handles as their Work finishes (results
    written to the Work's outputs); ``cancel_all`` ends what runs (its images kept, as interrupted)
    and drops what waits. ``progress``: show progress on the terminal."""

    name = "?"

    def check(self, work: Work) -> None:
        """Fail now, in one line, on inputs that cannot run (before any file is written)."""

    def submit(self, work: Work, on_tick: Optional[Callable] = None, stop: Callable = lambda: None) -> Handle:
        """Queue ``work``; ``on_tick(handle, tick)`` hears its progress, ``stop()`` may cancel it."""
        return Handle(work, on_tick, stop)

    def completed(self, handles: Sequence[Handle], progress: bool = False) -> Iterator[Handle]:
        raise NotImplementedError

    def run(self, work: Work, on_tick: Optional[Callable] = None, stop: Callable = lambda: None) -> list:
        """One Work to its end: its Results. ``stop()``: a reason to cancel it, asked as it runs."""
        handle = self.submit(work, on_tick, stop)
        for h in self.completed([handle]):
            if h.error:
                raise EigenstyleError(h.error)
        return handle.results or []

    def cancel_all(self, handles: Sequence[Handle], reason: str) -> None:
        for h in handles:
            h.cancel(reason)

    def close(self) -> None:
        pass

    # ticks are asked for every this many iterations, pictures at this size (the studio's previews)
    every: int = 5
    preview_side: int = 0
