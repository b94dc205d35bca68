"""Runs from a recipe: the same run again (:func:`reproduce`), or a favourite rendered at another size
for print (:func:`render`).

A favourite is found at 128-512 px; a print needs 2000-6000 px. :func:`render` runs the
favourite's recipe (content, style or style file, mode, genome, layers, weights) at the new size,
coarse to fine: the favourite itself is the coarsest scale, each scale at most doubles the last
and starts from it upscaled, and is held to it at its size (``anchor_weight``), so the picture the
artist chose is kept and every scale only adds detail. Its style targets are the favourite's at the
matching scale: the style image resized with ``--size`` as in any run, and a randomised style's
swatch made as the favourite's was (``reference_size``) and scaled with the picture. Memory stays
bounded: the network runs in tiles where the whole image would not fit, exactly (tiled.py), and the
L-BFGS history shrinks where it would dominate (memory.history_for). Schedule and anchor measured
in docs/render.md.
"""

from __future__ import annotations

import os
from typing import Optional

from . import recipe
from .engine import stylize
from .errors import EigenstyleError
from .options import LBFGS_HISTORY, Options
from .pyramid import for_render
from .results import Result
from .values import option_name

# Iterations at each coarser scale and at the final one: measured in docs/render.md. A scale started
# from the last one upscaled is most of the way there: the loss falls fastest in its first iterations,
# and the finest scale costs four times the one before it, so it gets the fewest.
SCALE_ITERATIONS = 100
FINAL_ITERATIONS = 50
# How firmly each scale keeps the one before it (the favourite, first): without it the finer scales
# repaint the favourite's colour patches toward the photograph; stronger, the optimiser answers the
# conflict with the content term with grain (measured in docs/render.md).
ANCHOR_WEIGHT = 1e4
SAVE_EVERY = 25  # the last scale's image half-way, and every scale's own (stem_SIZEpx.png)


def start_of(path: str, data: dict) -> str:
    """What a render starts from: the favourite's raw image when levels were applied (what its optimiser
    reached; the levels are applied again at the end), else the favourite itself."""
    stem, ext = os.path.splitext(path)
    raw = f"{stem}.raw{ext}"
    return raw if data.get("levels") is not None and os.path.isfile(raw) else path


def render_options(data: dict, start: str, size: int, **overrides) -> Options:
    """A favourite's recipe (``data``) as the options of its render at ``size``, from ``start``:
    the same style, the new size, the schedule, auto memory settings; ``overrides`` on top."""
    o = recipe.options_of(data)
    scales = for_render(o.size, size)
    plan = o.replace(
        size=size,
        reference_size=o.reference_size or o.size,  # a render of a render keeps the style's own size
        scales=scales or None,
        scale_iterations=SCALE_ITERATIONS if scales else None,
        iterations=FINAL_ITERATIONS,
        init=os.path.abspath(start),
        tile=None,  # chosen again for the new size (and max_memory: this machine's)
        margin=0,  # coarse to fine from the favourite, whose edges its margin (a tile's) has already painted
        max_memory=None,
        lbfgs_history=None if o.lbfgs_history in (None, LBFGS_HISTORY) else o.lbfgs_history,
        device="auto",
        anchor_weight=o.anchor_weight or ANCHOR_WEIGHT,  # a render of a render keeps its own
        save_every=SAVE_EVERY,  # each scale's image and a few of the last scale's: a long render is never lost
    )
    return Options.from_mapping(overrides, plan)


def render(
    favourite: str,
    size: int,
    output: Optional[str] = None,
    *,
    content: Optional[str] = None,
    styles=None,
    progress: bool = False,
    allow_changed_inputs: bool = False,
    **overrides,
) -> Result:
    """Render ``favourite`` (an image written by eigenstyle, recipe embedded) again at ``size``,
    coarse to fine from the favourite itself. Inputs that moved: ``content``/``styles``; option
    ``overrides`` (``iterations=``, ``max_memory=``, ``bit_depth=`` ...) go over the render's plan."""
    data = recipe.read_recipe(favourite)
    content, styles = recorded_inputs(data, favourite, content, styles, allow_changed_inputs)
    opts = render_options(data, start_of(favourite, data), size, **overrides)
    return stylize(content, styles, opts, progress=progress, output=output)


def reproduce(
    path: str,
    output: str | None = None,
    *,
    content: str | None = None,
    styles=None,
    progress: bool = False,
    allow_changed_inputs: bool = False,
    terms=(),
    **overrides,
) -> Result:
    """Run an image's recipe again (same options and seed).

    Inputs are found at their recorded paths unless ``content``/``styles`` point
    elsewhere; their hashes must match unless ``allow_changed_inputs``. A recipe made with objective
    terms of the caller's own needs them again (``terms``, the same names and weights).
    """
    data = recipe.read_recipe(path)
    content, styles = recorded_inputs(data, path, content, styles, allow_changed_inputs)
    recorded = [(t["name"], t["weight"]) for t in data.get("terms", [])]
    if recorded != [(t.name, t.weight) for t in terms]:
        names = ", ".join(f"{n} (weight {w:g})" for n, w in recorded) or "none"
        raise EigenstyleError(f"{path} was made with objective terms of its own: {names}; pass the same terms")
    return stylize(content, styles, recipe.options_of(data), progress=progress, output=output, terms=terms, **overrides)


def recorded_inputs(data: dict, path: str, content=None, styles=None, allow_changed_inputs: bool = False):
    """The content and style files of a recipe (``data``, read from ``path``), found where they were or
    where ``content``/``styles`` say, checked against their recorded hashes."""
    opts = recipe.options_of(data)
    content = content or data["content"].get("path")
    styles = list(styles or [s.get("path") for s in data["styles"]])
    if not content or not all(styles):
        raise EigenstyleError(
            f"{path}: the recipe was made from in-memory images; pass {option_name('content')} and "
            f"{option_name('style', 'styles')}"
        )
    if opts.style_file and not os.path.isfile(opts.style_file):
        raise EigenstyleError(f"style file of the recipe not found: {opts.style_file}")
    start = data.get("init")  # a warm start (a render's favourite): the same picture, or another run
    for given, recorded, what in (
        [(content, data["content"], "content")]
        + [(s, r, f"style {i + 1}") for i, (s, r) in enumerate(zip(styles, data["styles"]))]
        + ([(start["path"], start, "start")] if isinstance(start, dict) and start.get("path") else [])
        + [(m["path"], m, "mask") for m in data.get("mask") or []]
    ):
        if not os.path.isfile(given):
            where = "it was warm-started from it" if what == "start" else "pass its new place"
            raise EigenstyleError(f"{what} image of the recipe not found: {given} ({where})")
        if not allow_changed_inputs and recipe.identity_of_file(given)["sha256"] != recorded.get("sha256"):
            raise EigenstyleError(
                f"{what} image {given} differs from the one the recipe used "
                f"(sha256 mismatch); use {option_name('allow_changed_inputs')} to run anyway"
            )
    return content, styles
