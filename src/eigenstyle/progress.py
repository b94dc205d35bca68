"""A run's progress display: tqdm's bar on a terminal, a few plain lines anywhere else.

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

BAR_FORMAT = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}"


def progress_bar(total: int, enabled: bool, stream=None):
    """What the loop reports its progress to (``update``, ``set_postfix_str``, ``write``, ``close``)."""
    stream = sys.stderr if stream is None else stream
    if enabled and not _is_terminal(stream):
        return PlainProgress(total, stream)
    from tqdm import tqdm
    return tqdm(total=total, disable=not enabled, unit="it", file=stream, dynamic_ncols=True, bar_format=BAR_FORMAT)


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
        print(f"iteration {n}/{self.total} ({100 * n // max(1, self.total)}%){losses}  {elapsed:.1f} s",
              file=self.stream, flush=True)
