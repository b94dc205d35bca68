"""Runs: prepared problems through the loop into Results, and the public :func:`stylize`.

:func:`stylize` is the one way in from files or images and options (every level of a coarse-to-fine
pyramid); :func:`run_batch` runs prepared problems (:mod:`eigenstyle.problem`), N variants as one batch.
The loop itself is :mod:`eigenstyle.loop`; what a run shows or writes on the way (progress, intermediate
images, the API's callback) are its observers (observers.py, progress.py); every result is made by
:func:`eigenstyle.results.result_of`. A recipe run again: printing.reproduce.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Optional, Sequence, Union

import torch
from PIL import Image

from . import files, images
from . import swatch as swatches
from .errors import EigenstyleError
from .loop import Observer, Outcome, evaluate, initial_image, optimise
from .observers import Callback, Intermediates
from .options import Options
from .plan import batchable
from .problem import ImageInput, Problem, prepare, resolve_seeds, vary
from .progress import Progress, SwatchProgress, level_progress
from .pyramid import Pyramid
from .results import Result, result_of, results_of
from .stopping import Stopped, asking
from .targets import Targets, to_tensor


def run_batch(
    problems: Sequence[Problem],
    *,
    progress: Union[bool, Progress] = False,
    observers: Sequence[Observer] = (),
    outputs: Optional[Sequence[str]] = None,
    x0: Optional[torch.Tensor] = None,
) -> list[Result]:
    """Optimise N variants of one prepared problem (seeds resolved) as one batch: one pass through
    the network for all, per-image Gram targets, per-image L-BFGS state. Returns N Results (written
    to ``outputs`` when given). ``x0`` overrides the start image; ``progress``: show it (or this display).
    Swatches still due are made first, as their own step (``observers`` watching "swatch" see it)."""
    try:
        problems = _reached(problems, progress, observers)
    except Stopped as stop:  # an observer stopped the swatch (the studio's cancel): nothing to run
        return _written(_not_run(problems, stop.reason), outputs)  # every result returned is written
    first, n = problems[0], len(problems)
    if not all(batchable(p.opts, first.opts) for p in problems):
        raise EigenstyleError("a batch needs runs that differ only in their Gram targets")
    batched = (
        first
        if n == 1
        else dataclasses.replace(
            first,
            targets=Targets(
                first.targets.content,
                {k: torch.cat([p.targets.style[k] for p in problems]) for k in first.targets.style},
            ),
        )
    )
    started = time.perf_counter()
    watching = [progress if isinstance(progress, Progress) else Progress(first.opts)] if progress else []
    if outputs and first.opts.save_every:
        watching.append(Intermediates(problems, outputs, started))
    start = initial_image(batched, first.opts.seed, batch=n) if x0 is None else x0
    made = results_of(problems, optimise(batched, start, watching + list(observers)), time.perf_counter() - started)
    return _written(made, outputs)


def _written(made: list, outputs: Optional[Sequence[str]]) -> list[Result]:
    """``made`` written to ``outputs``, whole: a stop while writing waits until the batch is written, then
    comes as files.StoppedWhileWriting carrying the results (the caller keeps them: variants, sweep)."""
    try:
        with files.stops_held():
            for r, path in zip(made, outputs or []):
                r.save(path)
    except files.StoppedWhileWriting as stop:
        stop.results = made
        raise
    return made


def _reached(problems: Sequence[Problem], progress, observers: Sequence[Observer]) -> list[Problem]:
    """``problems`` with their swatches made (swatch.reach), with a progress bar of their own where the
    run shows one. An observer's stop during the synthesis raises stopping.Stopped."""
    if not any(swatches.missing(p) for p in problems):
        return list(problems)
    shown = [SwatchProgress(problems[0].opts, rounds=swatches.rounds(problems))] if progress else []
    return swatches.reach(problems, shown + list(observers))


def _not_run(problems: Sequence[Problem], reason: str) -> list[Result]:
    """Runs stopped before their first iteration (during their swatch): each its start image, interrupted,
    its recipe saying so (``stopped_in_swatch``: the size whose swatch was being made)."""
    x, n = initial_image(problems[0], problems[0].opts.seed, batch=len(problems)), len(problems)
    return [
        result_of(
            p,
            x[i : i + 1],
            interrupted=True,
            extra={
                **({"batch": {"size": n, "index": i}} if n > 1 else {}),
                "stopped": reason,
                "stopped_in_swatch": p.opts.size,
            },
        )
        for i, p in enumerate(problems)
    ]


def _stopped_in_swatch(
    problem: Optional[Problem], stop: BaseException, before: Optional[tuple], output: Optional[str], size: int
) -> Result:
    """A run stopped before the scale of ``size`` ran: while it was prepared (``problem`` None: Ctrl-C or an
    observer's stop, the arithmetic being timed, or the scale before's image being written) or its swatch
    made (Ctrl-C, or an observer's :class:`~eigenstyle.stopping.Stopped`). It keeps what the scale ``before``
    made ((problem, outcome): a coarser scale's image), written as a stopped coarse scale; with nothing made
    yet, the stop goes on up (the CLI: "interrupted before the run started; nothing written"), but a stop in
    the first swatch gets the start image, interrupted. Its recipe says where: ``stopped_in_swatch`` or
    ``stopped_preparing``, that scale's size."""
    reason = stop.reason if isinstance(stop, Stopped) else None
    if before is None:
        if reason is None:
            raise KeyboardInterrupt
        if problem is None:  # stopped while the first scale was prepared: nothing made, nothing to write
            raise stop
        result = _not_run([problem], reason)[0]
        if output is not None:
            result.save(output)
        return result
    kept, out = before
    out = dataclasses.replace(out, interrupted=reason is None, stopped=reason)
    where = "stopped_preparing" if problem is None else "stopped_in_swatch"
    return _stopped_at_coarse_scale(kept, out, output, {where: size})


def _swatch_watchers(opts: Options, progress, observers: Sequence[Observer]) -> list:
    """Who watches a swatch made on its own (a render's reference swatch): its progress bar where the run
    shows one, and the run's observers (the studio's previews and Cancel)."""
    return ([SwatchProgress(opts)] if progress else []) + list(observers)


def stylize(
    content: ImageInput,
    style: Union[ImageInput, Sequence[ImageInput]],
    options: Optional[Options] = None,
    *,
    callback: Optional[Callable] = None,
    progress: bool = False,
    output: Optional[str] = None,
    save_style: Optional[str] = None,
    observers: Sequence[Observer] = (),
    terms: Sequence = (),
    **overrides,
) -> Result:
    """Stylise ``content`` with one or more style images; returns a :class:`Result`.

    Options come from ``options`` (an :class:`Options`) and/or keyword overrides
    (``size=256, iterations=200, mode="variant", ...``). ``callback(info)`` is
    called after every iteration; returning ``False`` stops the run. With
    ``output`` the final image (and every ``save_every``-th one, as
    ``stem_ITER.ext``, and each coarser scale's last as ``stem_SIZEpx.ext``) is written
    atomically; with ``save_style`` the (randomised)
    Gram targets go to a .safetensors style file for reuse with ``style_file=``.
    ``observers`` watch every scale's loop (a step's ``problem.opts.size`` says which scale). ``terms``: objective
    terms of your own (objective.Term), added to the options' at every scale (docs/extending.md).
    """
    opts = resolve_seeds(Options.from_mapping(overrides, options))
    if output is not None:
        images.check_writable(output, opts.bit_depth)
    if isinstance(style, (str, os.PathLike, Image.Image)):
        style = [style]
    x0, before, pyramid = None, None, Pyramid.of(opts)  # before: the last level's (problem, outcome)
    scales = [pyramid.options(opts, k) for k in range(len(pyramid) - 1)]  # the coarser levels' runs
    reference = None  # a favourite's swatch, made once for every scale of its render
    if any(swatches.needs_reference(o) for o in scales + [opts]):
        try:
            reference = swatches.reference(content, style, opts, _swatch_watchers(opts, progress, observers))
        except Stopped as stop:
            if stop.phase == "preparing":  # before its swatch: nothing made
                raise
            first = (scales + [opts])[0]
            return _stopped_in_swatch(prepare(content, style, first), stop, None, output, first.size)
    for k, coarse in enumerate(scales):
        size, p = coarse.size, None
        try:  # preparing it (the arithmetic timed, the first time), then its swatch
            with asking(observers):
                p = anchored(_given(prepare(content, style, coarse, terms), reference), x0)
            p = _reached([p], progress, observers)[0]
        except (Stopped, KeyboardInterrupt) as stop:
            return _stopped_in_swatch(p, stop, before, output, size)
        start = initial_image(p, opts.seed) if x0 is None else upscale(x0, p)
        started = time.perf_counter()
        out = optimise(p, start, ([level_progress(pyramid, k, p)] if progress else []) + list(observers))
        if out.interrupted or out.error or out.stopped is not None:
            return _stopped_at_coarse_scale(p, out, output)
        before = (p, out)
        if output is not None and opts.save_every:  # each finished scale: hours of a render kept, resumable
            stem, ext = os.path.splitext(output)
            done = result_of(p, out.x, done=out.done, losses=out.losses, elapsed=time.perf_counter() - started)
            try:
                dataclasses.replace(done, raw_images=None, raw_floats=None, swatch=None).save(f"{stem}_{size}px{ext}")
            except KeyboardInterrupt as stop:  # written whole (files.stops_held); the stop keeps this scale
                return _stopped_in_swatch(None, stop, before, output, (scales + [opts])[k + 1].size)
        x0 = out.x
    problem = None
    try:  # prepared, and its swatch made, here (not in run_batch): a stop then keeps the scale before's image
        with asking(observers):
            problem = anchored(_given(prepare(content, style, opts, terms), reference), x0)
        problem = _reached([problem], progress, observers)[0]
    except (Stopped, KeyboardInterrupt) as stop:
        return _stopped_in_swatch(problem, stop, before, output, opts.size)
    if save_style:
        from .stylefile import save_style as write_style

        write_style(save_style, problem)
    return run_batch(
        [problem],
        progress=level_progress(pyramid, len(pyramid) - 1, problem) if progress else False,
        observers=([] if callback is None else [Callback(callback)]) + list(observers),
        outputs=[output] if output is not None else None,
        x0=None if x0 is None else upscale(x0, problem),
    )[0]


def _given(problem: Problem, reference) -> Problem:
    """``problem`` with the favourite's swatch (``reference``: made at its size, for every scale) where there is one
    (with regions, each region's: ``reference`` by region name)."""
    wanted = problem.opts.mode != "none" or problem.regions
    return swatches.given(problem, reference) if reference is not None and wanted else problem


def _stopped_at_coarse_scale(
    problem: Problem, out: Outcome, output: Optional[str], more: Optional[dict] = None
) -> Result:
    """A multi-scale run stopped early keeps what its coarse scale made, as its own result (``more``: what
    its recipe adds)."""
    losses = None if out.error else {k: v.tolist() for k, v in evaluate(problem, out.x).items()}
    extra = {"stopped_at_coarse_scale": problem.opts.size, **(more or {})}
    if out.stopped:  # an observer's reason (the studio's cancel), as results_of records it
        extra["stopped"] = out.stopped
    result = result_of(
        problem,
        out.x,
        done=out.done,
        losses=losses,
        interrupted=out.interrupted or out.stopped is not None,
        error=out.error,
        extra=extra,
    )
    if output is not None:
        result.save(output)
    return result


def anchored(problem: Problem, before: Optional[torch.Tensor]) -> Problem:
    """``problem`` with the coarser image it keeps (``--anchor-weight``): the scale before's result, or for
    the first scale the ``--init`` image at its own size (a render's favourite), where smaller than this one."""
    o = problem.opts
    if not o.anchor_weight:
        return problem
    if before is None:
        init = o.init
        if init in ("random", "image"):
            return problem
        im = images.load_rgb(init, "init image")
        if im.width >= problem.content.width or im.height >= problem.content.height:
            return problem  # not a coarser scale: nothing to keep
        before = to_tensor(im, problem.pre, problem.device)
    return dataclasses.replace(problem, anchor=before.detach())


def upscale(x: torch.Tensor, problem: Problem) -> torch.Tensor:
    """A coarser scale's result as the next scale's start (bilinear, network units)."""
    import torch.nn.functional as F

    return F.interpolate(x, size=tuple(problem.content_tensor.shape[2:]), mode="bilinear", align_corners=False)


def save_style_of(
    content: ImageInput, styles: Sequence[ImageInput], opts: Options, path: str, swatch: Optional[Image.Image] = None
) -> str:
    """Write the style file of a run like ``opts`` (a finished result's recipe) without running it: its
    Gram targets, from ``swatch`` (the run's own picture, no second synthesis) where given, else from its
    swatch made now."""
    from .stylefile import save_style

    problem = vary(prepare(content, styles, opts.replace(mode="none")), opts)
    if swatch is not None and problem.opts.mode != "none":
        problem = swatches.given(problem, swatch)
    return save_style(path, swatches.reach([problem])[0])
