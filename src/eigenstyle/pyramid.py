"""Coarse to fine: a run as a pyramid of levels, one value that every part reads.

A run with ``--scales`` is a pyramid: each level a size and its iterations, the last the run's own
(``--size``, ``--iterations``). Each level starts from the one before, upscaled (and with
``--anchor-weight`` is held to it). :func:`engine.stylize` runs the levels in turn, a render chooses them
(:func:`for_render`), the progress display and the studio's events say where a run is in them and when
the whole will be done, and the executors send one as a single Work. Its recipe is the options' (scales,
scale iterations): :meth:`Pyramid.of` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

# An iteration's cost grows a little faster than its pixels (caches): measured on the 2 CPU cores of
# the render in docs/render.md, 512x384 px 1.08 s, 1024x768 px 5.28 s, 2048x1536 px 31.0 s an
# iteration, 4.9x and 28.7x for 4x and 16x the pixels: pixels**1.2 gives 5.3x and 27.9x.
COST_EXPONENT = 1.2


@dataclass(frozen=True)
class Level:
    """One level: its longest side and its iterations."""

    size: int
    iterations: int


@dataclass(frozen=True)
class Pyramid:
    """The levels of a run, coarse to fine; a run without ``--scales`` is a pyramid of one level.

    >>> from eigenstyle.options import Options
    >>> p = Pyramid.of(Options(size=2048, scales=(512, 1024), scale_iterations=100, iterations=50))
    >>> [(level.size, level.iterations) for level in p.levels]
    [(512, 100), (1024, 100), (2048, 50)]
    """

    levels: tuple

    @classmethod
    def of(cls, opts) -> "Pyramid":
        coarse = opts.scale_iterations or opts.iterations
        return cls(tuple(Level(s, coarse) for s in opts.scales or ()) + (Level(opts.size, opts.iterations),))

    def __len__(self) -> int:
        return len(self.levels)

    @property
    def sizes(self) -> list:
        return [level.size for level in self.levels]

    @property
    def iterations(self) -> int:
        """The iterations of all levels."""
        return sum(level.iterations for level in self.levels)

    def options(self, opts, k: int):
        """The options of level ``k`` of a run of ``opts``: the run's own for the last; a coarser level's are a
        run of their own (no scales of its own: its recipe, a stopped run's or a kept level's NAME_SIZEpx.png,
        reads back) that keeps no intermediate images."""
        if k == len(self.levels) - 1:
            return opts
        level = self.levels[k]
        return opts.replace(
            size=level.size, iterations=level.iterations, save_every=0, scales=None, scale_iterations=None
        )

    def index(self, size: int) -> int:
        """Which level (0-based) a step at ``size`` belongs to."""
        return self.sizes.index(size)

    def _cost(self) -> list:
        return [s ** (2 * COST_EXPONENT) for s in self.sizes]  # an iteration's, in arbitrary units

    def later(self, k: int) -> float:
        """The work of the levels after level ``k``, in iterations of level ``k`` (cost grows with pixels)."""
        cost = self._cost()
        return sum(level.iterations * c / cost[k] for level, c in zip(self.levels[k + 1 :], cost[k + 1 :]))

    def fraction(self, k: int, iteration: int) -> float:
        """The share of the whole run's work done at level ``k``'s ``iteration``."""
        cost = self._cost()
        work = [level.iterations * c for level, c in zip(self.levels, cost)]
        return min(1.0, (sum(work[:k]) + iteration * cost[k]) / sum(work))

    def left(self, k: int, iteration: int, elapsed: float) -> float:
        """Seconds until the whole run is done, from level ``k``'s ``iteration`` reached in ``elapsed`` s."""
        return (self.levels[k].iterations - iteration + self.later(k)) * elapsed / max(1, iteration)


def for_render(favourite: int, size: int) -> tuple:
    """The coarser sizes between a favourite's size and ``size`` (a render's ``--scales``): ``size`` halved,
    and halved again, while at least 1.5x the favourite (256 -> 4000: 500, 1000, 2000; 256 -> 2048: 512,
    1024). Every step is at most 2x, the first at most 3x; none within a factor of 3.

    >>> for_render(256, 4000), for_render(256, 700)
    ((500, 1000, 2000), ())
    """
    scales, s = [], size // 2
    while s >= 1.5 * favourite:
        scales.append(s)
        s //= 2
    return tuple(reversed(scales))
