"""Planning many runs of one content/style pair: which share a batch, when to prepare again.

The variants, layers and sweep commands and the studio's jobs all batch here, so the rules are one:
consecutive runs that differ only in their Gram targets share a batch (one pass through the
network: one executor Work), and the network, content features and style Grams are prepared again
only when a run changes an option that :func:`problem.prepare` reads (``problem.PREPARED_FROM``).
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence

from PIL import Image

from . import swatch as swatches
from .options import Options, names
from .problem import PREPARED_FROM, ImageInput, Problem, prepare, vary


def batchable(a: Options, b: Options) -> bool:
    """Runs that differ only in their Gram targets (the options declared for "batch") can share one batch."""
    per_image = dict.fromkeys(names("batch"))
    return a.replace(**per_image) == b.replace(**per_image) and (a is b or not a.mask)  # regions: a run alone


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
        caller has that picture (a refine's parent's file), else made again at that size
        (swatch.reference). Other randomised styles' swatches are made by the run (swatch.reach)."""
        plain = self.plain_for(batch[0])
        out = []
        for o in batch:
            p = vary(plain, o)
            if swatches.needs_reference(o):
                p = swatches.given(p, swatch or swatches.reference(self.content, self.styles, o))
            out.append(p)
        return out
