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

from .loop import Observer, Step
from .memory import peak_memory_mb

BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}"


def progress_bar(total: int, enabled: bool, stream=None):
    """What the loop reports its progress to (``update``, ``set_postfix_str``, ``write``, ``close``)."""
    stream = sys.stderr if stream is None else stream
    if enabled and not _is_terminal(stream):
        return PlainProgress(total, stream)
    from tqdm import tqdm

    return tqdm(total=total, disable=not enabled, unit="it", file=stream, dynamic_ncols=True, bar_format=BAR_FORMAT)


class Progress(Observer):
    """The display of a run: its bar (tqdm or plain lines), with the losses where the loop read
    them, and a loss line on stdout every ``print_every`` iterations (which asks for the values)."""

    def __init__(self, opts, stream=None):
        self.bar = progress_bar(opts.iterations, True, stream)
        self.every = opts.print_every

    def wants(self, iteration: int) -> bool:
        return bool(self.every) and iteration % self.every == 0

    def seen(self, step: Step) -> None:
        self.bar.update(1)
        if step.values is None:
            return
        it, shown = step.iteration, losses_text(step.values)
        self.bar.set_postfix_str(shown, refresh=False)
        if self.wants(it):
            self.bar.write(
                f"iteration {it}/{step.iterations}  {shown}  {step.elapsed / it:.3f} s/iter, "
                f"peak memory {peak_memory_mb(step.problem.device):.0f} MB"
            )

    def close(self) -> None:
        self.bar.close()


def losses_text(values: dict) -> str:
    total, c, s = values["total"], values["content"], values["style"]
    if len(total) == 1:
        return f"loss {total[0]:.4g} (content {c[0]:.4g}, style {s[0]:.4g}, tv {values['tv'][0]:.3g})"
    return f"mean loss {sum(total) / len(total):.4g} over {len(total)} images"


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


class PlainProgress:
    """The part of tqdm's interface the loop uses, as plain lines for logs."""

    def __init__(self, total: int, stream):
        self.total, self.stream = total, stream
        self.every = max(1, math.ceil(total / 10))
        self.n, self.postfix, self.start = 0, "", time.perf_counter()
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

    def _print_due(self) -> None:
        if self._due is None:
            return
        n, elapsed = self._due
        self._due = None
        losses = f"  {self.postfix}" if self.postfix else ""
        print(
            f"iteration {n}/{self.total} ({100 * n // max(1, self.total)}%){losses}  {elapsed:.1f} s",
            file=self.stream,
            flush=True,
        )
