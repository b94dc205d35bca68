"""Outputs: a run's image as the artist gets it, and its recipe, as a :class:`Result`.

Every result is made by :func:`result_of` (also one never optimised: a stopped render's coarse
scale, a cancelled studio tile): the network's image turned into pictures (original colours, then
level adjustment, keeping the raw picture beside it), in 8 bits and, for 16-bit outputs, in float;
the recipe that reproduces it; the swatch of a randomised style. :meth:`Result.save` writes them
atomically, the recipe embedded in each file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from PIL import Image

from . import files, images, recipe
from .levels import stretch, stretch_float
from .loop import Outcome
from .memory import peak_memory_mb
from .problem import Problem
from .targets import to_floats, to_pil


@dataclass
class Result:
    images: list
    recipe: dict
    interrupted: bool = False
    error: Optional[str] = None
    raw_images: Optional[list] = None  # before level adjustment, when levels were applied
    swatch: Optional[Image.Image] = None  # a picture of the randomised style (see swatch.py)
    # With bit_depth 16: the same pictures as float32 HxWx3 arrays in [0, 1], never rounded to 8 bits
    # (``images`` stay the 8-bit pictures, equal to an 8-bit run's).
    floats: Optional[list] = None
    raw_floats: Optional[list] = None

    @property
    def image(self) -> Image.Image:
        return self.images[0]

    @property
    def bit_depth(self) -> int:
        return (self.recipe.get("options") or {}).get("bit_depth", 8)

    def save(self, path: str, index: int = 0) -> str:
        """Write atomically, with the recipe embedded (PNG text chunk, JPEG comment or TIFF
        description); with bit_depth 16, PNG and TIFF from the float image. With levels applied,
        the raw image goes beside it as NAME.raw.EXT; a randomised style's swatch as
        NAME.swatch.png (always 8-bit: a style image for any tool, with the recipe). The image is written
        last and commits the set: a failed write removes the companions it made; Ctrl-C and SIGTERM wait
        until the set is written (files.stops_held), then end the run."""
        depth = self.bit_depth
        images.check_format(path, depth)  # before any file: a JPEG at 16 bits writes nothing

        def picture(eight, floats):
            return floats[index] if depth == 16 and floats is not None else eight[index]

        text = recipe.dumps(self.recipe)
        stem, ext = os.path.splitext(path)
        companions = []  # (picture, path, recipe, depth): each written before the image, which commits them
        if self.raw_images is not None:
            companions.append((picture(self.raw_images, self.raw_floats), f"{stem}.raw{ext}", text, depth))
        if self.swatch is not None:
            companions.append(
                (self.swatch, images.swatch_path(path), recipe.dumps({**self.recipe, "picture": "swatch"}), 8)
            )
        with files.stops_held() as written:  # Ctrl-C and SIGTERM wait: the set is written whole
            new = []  # companions that were not there before: removed if the image is not written
            try:
                for im, where, data, bits in companions:
                    existed = os.path.exists(where)
                    images.save_atomic(im, where, data, bits)
                    new += [] if existed else [where]
                images.save_atomic(picture(self.images, self.floats), path, text, depth)
            except BaseException:
                for where in new:
                    with contextlib.suppress(OSError):
                        os.unlink(where)
                raise
            written.append(path)
        return path


def finish_images(problem: Problem, x: torch.Tensor) -> tuple[list, Optional[list]]:
    """Images to write: (final, raw). Raw is None unless levels were applied."""
    ims = to_pil(problem.visible(x), problem.pre)
    if problem.opts.original_colors:
        ims = [images.original_colors(problem.content, im) for im in ims]
    clip = problem.opts.levels_clip()
    if clip is None:
        return ims, None
    return [stretch(im, clip) for im in ims], ims


def finish_floats(problem: Problem, x: torch.Tensor) -> tuple[Optional[list], Optional[list]]:
    """:func:`finish_images` in float (HxWx3 in [0, 1]) for 16-bit outputs; (None, None) at 8 bits."""
    if problem.opts.bit_depth != 16:
        return None, None
    floats = to_floats(problem.visible(x), problem.pre)
    if problem.opts.original_colors:
        floats = [images.original_colors_float(problem.content, a) for a in floats]
    clip = problem.opts.levels_clip()
    if clip is None:
        return floats, None
    return [stretch_float(a, clip) for a in floats], floats


def result_of(
    problem: Problem,
    x: torch.Tensor,
    *,
    done: int = 0,
    losses: Optional[dict] = None,
    interrupted: bool = False,
    error: Optional[str] = None,
    elapsed: float = 0.0,
    extra: Optional[dict] = None,
) -> Result:
    """An image (``x``: [1, 3, H, W], network units) of ``problem`` as a Result: its pictures and
    recipe (``extra``: fields the recipe adds). Every result is made here, also one never optimised."""
    final, raw = finish_images(problem, x)
    floats, raw_floats = finish_floats(problem, x)
    data = recipe.build(problem, done, losses, interrupted, elapsed, peak_memory_mb(problem.device), extra=extra)
    return Result(final, data, interrupted, error, raw, problem.swatch, floats, raw_floats)


def results_of(problems: Sequence[Problem], out: Outcome, elapsed: float) -> list[Result]:
    """One Result per image of a batch's outcome; an observer's reason for stopping marks them interrupted."""
    n, interrupted = len(problems), out.interrupted or out.stopped is not None
    made = []
    for i, p in enumerate(problems):
        extra = {"batch": {"size": n, "index": i}} if n > 1 else {}
        if out.stopped:
            extra["stopped"] = out.stopped
        if out.converged:
            extra["converged_at"] = out.converged
        if out.restarts and out.restarts[i]:
            extra["restarted_at"] = out.restarts[i]  # diverged there, and went on from its last sane image
        mine = {k: [v[i]] for k, v in out.losses.items()} if out.losses else None
        made.append(
            result_of(
                p,
                out.x[i : i + 1],
                done=out.done,
                losses=mine,
                interrupted=interrupted,
                error=out.error,
                elapsed=elapsed,
                extra=extra,
            )
        )
    return made
