"""A run's progress display: tqdm's bar on a terminal, a few plain lines anywhere else,
and the loss lines every ``--print-every`` iterations; :class:`Progress` shows both as the loop's observer.

On a terminal tqdm redraws one line with carriage returns. In a log file or a CI
console every redraw stays, thousands of frames in one line, so there progress is
a plain line every 10 % of the run: at most about ten lines per run whatever its
length. Not every ``--print-every`` iterations: that is the loss lines' own step
(on stdout), and it is 0 in the studio and the benchmarks. A progress line is left
out where the loop has just printed a loss line for the same iteration.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Optional

from .loop import Observer, Step
from .memory import peak_memory_mb

BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}"
TILE_LINE_EVERY = 60.0  # seconds: off a terminal, a slow tiled iteration says where it is this often


def progress_bar(total: int, enabled: bool, stream=None, label: str = ""):
    """What the loop reports its progress to (``update``, ``set_postfix_str``, ``write``, ``close``)."""
    stream = sys.stderr if stream is None else stream
    if enabled and not _is_terminal(stream):
        return PlainProgress(total, stream, label)
    from tqdm import tqdm

    return tqdm(
        total=total,
        disable=not enabled,
        unit="it",
        file=stream,
        dynamic_ncols=True,
        bar_format=BAR_FORMAT,
        desc=label or None,
    )


class Progress(Observer):
    """The display of a run: its bar (tqdm or plain lines), with the losses where the loop read
    them, and a loss line on stdout every ``print_every`` iterations (which asks for the values).
    A scale of a coarse-to-fine run has a ``label`` and the ETA of the whole run: ``later`` is the
    work of the scales after it, in iterations of this one."""

    def __init__(self, opts, stream=None, label: str = "", later: Optional[float] = None):
        self.bar = progress_bar(opts.iterations, True, stream, label)
        self.every, self.later, self.label = opts.print_every, later, f"{label} " if label else ""

    def wants(self, iteration: int) -> bool:
        return bool(self.every) and iteration % self.every == 0

    def seen(self, step: Step) -> None:
        self.bar.update(1)
        if step.values is None:
            return
        it, shown = step.iteration, losses_text(step.values)
        if self.later is not None:
            left = (step.iterations - it + self.later) * step.elapsed / it
            shown += f", all scales done in ~{duration(left)}"
        self.bar.set_postfix_str(shown, refresh=False)
        if self.wants(it):
            self.bar.write(
                f"{self.label}iteration {it}/{step.iterations}  {shown}  {step.elapsed / it:.3f} s/iter, "
                f"peak memory {peak_memory_mb(step.problem.device):.0f} MB"
            )

    def close(self) -> None:
        self.bar.close()

    def tile(self, done: int, total: int) -> None:
        self.bar.tile(done, total) if isinstance(self.bar, PlainProgress) else self.bar.set_description_str(
            f"{self.label}tile {done}/{total}".strip(), refresh=True
        )


class SwatchProgress(Progress):
    """The swatch's synthesis on the progress display: a bar of its own, labelled, before the run's."""

    phases = ("swatch",)

    def __init__(self, opts, stream=None, rounds: int = 1):
        label = "swatch" if rounds == 1 else f"{rounds} swatches"  # a run with regions: one per randomised region
        super().__init__(opts.replace(iterations=rounds * opts.swatch_iterations, print_every=0), stream, label=label)


def level_progress(pyramid, k: int, problem) -> Progress:
    """The display of level ``k`` (0-based) of a coarse-to-fine run (pyramid.Pyramid): its bar labelled with
    its place and size, with the ETA of the whole run."""
    if len(pyramid) == 1:
        return Progress(problem.opts)
    h, w = problem.content_tensor.shape[2:]
    label = f"scale {k + 1}/{len(pyramid)} ({w}x{h} px)"
    return Progress(problem.opts, label=label, later=pyramid.later(k))


def duration(seconds: float) -> str:
    """A time to wait, as a person says it: 45 s, 12 min, 2 h 05 min."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def losses_text(values: dict) -> str:
    """The loss line: the total and each term by name (content and style always, the others where not 0)."""
    total = values["total"]
    if len(total) == 1:
        shown = [f"{k} {v[0]:.4g}" for k, v in values.items() if k != "total" and (v[0] or k in ("content", "style"))]
        return f"loss {total[0]:.4g} ({', '.join(shown)})"
    return f"mean loss {sum(total) / len(total):.4g} over {len(total)} images"


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class PlainProgress:
    """The part of tqdm's interface the loop uses, as plain lines for logs."""

    def __init__(self, total: int, stream, label: str = ""):
        self.total, self.stream, self.label = total, stream, f"{label}: " if label else ""
        self.every = max(1, math.ceil(total / 10))
        self.n, self.postfix, self.start = 0, "", time.perf_counter()
        self.last_line = self.start
        self._due = None  # (iteration, elapsed s) of a line to print: the loop sets the losses after update()

    def update(self, n: int = 1) -> None:
        self._print_due()
        self.n += n
        if self.n % self.every == 0 or self.n == self.total:
            self._due = (self.n, time.perf_counter() - self.start)

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def write(self, s: str, file=None, end: str = "\n") -> None:
        """As tqdm.write (stdout unless told): a loss line, which also says where the run is."""
        self._due = None
        print(s, file=sys.stdout if file is None else file, end=end, flush=True)

    def close(self) -> None:
        self._print_due()

    def tile(self, done: int, total: int) -> None:
        """Within a slow tiled iteration, a line when the last one is a minute old (print sizes)."""
        now = time.perf_counter()
        if now - self.last_line >= TILE_LINE_EVERY:
            self.last_line = now
            print(
                f"{self.label}iteration {self.n + 1}/{self.total}: tile pass {done}/{total}  {now - self.start:.1f} s",
                file=self.stream,
                flush=True,
            )

    def _print_due(self) -> None:
        if self._due is None:
            return
        n, elapsed = self._due
        self._due, self.last_line = None, time.perf_counter()
        losses = f"  {self.postfix}" if self.postfix else ""
        print(
            f"{self.label}iteration {n}/{self.total} ({100 * n // max(1, self.total)}%){losses}  {elapsed:.1f} s",
            file=self.stream,
            flush=True,
        )
