"""Planning many runs of one content/style pair: which share a batch, when to prepare again.

The variants, layers and sweep commands and the studio's jobs all batch here, so the rules are one:
consecutive runs that differ only in their Gram targets share a batch (one pass through the
network: one executor Work), and the network, content features and style Grams are prepared again
only when a run changes an option that :func:`problem.prepare` reads (``problem.PREPARED_FROM``).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from PIL import Image

from .options import Options
from .problem import PREPARED_FROM, ImageInput, Problem, needs_reference_swatch, prepare, vary
from .swatch import reach


def batchable(a: Options, b: Options) -> bool:
    """Runs that differ only in their Gram targets can share one batch."""
    return a.replace(variant_seed=None, genome=None) == b.replace(variant_seed=None, genome=None)


def preparation_key(opts: Options) -> tuple:
    """What a preparation depends on: runs with the same key can share one."""
    return tuple(getattr(opts, name) for name in PREPARED_FROM)


def batches(runs: Sequence, size: int, options: Callable = lambda run: run) -> list[list]:
    """Consecutive runs that can share a batch, at most ``size`` each; ``options(run)`` is a run's Options."""
    out = []
    for run in runs:
        if out and len(out[-1]) < size and batchable(options(out[-1][0]), options(run)):
            out[-1].append(run)
        else:
            out.append([run])
    return out


def reference_swatch(content: ImageInput, styles: Sequence[ImageInput], opts: Options) -> Image.Image:
    """The swatch of ``opts``' randomised style as it was made at ``reference_size`` (a favourite's size):
    the same picture the favourite optimised against, whatever size it is now rendered at."""
    at = opts.replace(size=opts.reference_size, reference_size=None, scales=None, tile=None, init="random")
    return reach([prepare(content, styles, at)])[0].swatch


class Preparation:
    """The plain (unrandomised) problem of a content/style pair, prepared again only when a
    run's preparation key changes; each run's randomisation and swatch come from vary()."""

    def __init__(self, content: ImageInput, styles: Sequence[ImageInput]):
        self.content, self.styles = content, styles
        self.key, self.plain = None, None

    def plain_for(self, opts: Options) -> Problem:
        key = preparation_key(opts)
        if key != self.key:
            self.plain, self.key = prepare(self.content, self.styles, opts.replace(mode="none")), key
        return self.plain

    def problems(self, batch: Sequence[Options], swatch: Optional[Image.Image] = None) -> list[Problem]:
        """Each run's own problem on the shared preparation. A style found at another size (a refined
        tile's, ``reference_size``) optimises against its swatch as made there: ``swatch`` where the
        caller has that picture (a refine's parent's file), else made again at that size."""
        plain = self.plain_for(batch[0])
        return [
            vary(
                plain,
                o,
                (swatch or reference_swatch(self.content, self.styles, o)) if needs_reference_swatch(o) else None,
            )
            for o in batch
        ]
