"""Reachable targets: a randomised style as a picture (its swatch), and the swatch's Grams as the target.

A randomised Gram G' is in general no Gram that a ReLU network can produce (its entries can be
negative, its layers disagree with each other), so the optimiser never reaches it: the residual
swamps the content term and the run ends as a spiky texture without the content (measured in
docs/quality.md). Synthesising the texture of G' alone first (content weight 0, a small square
image) finds the nearest texture the network *can* make; that texture is the swatch, a picture of
the new style, and its Grams are those of a real image, so they are reachable at any size (a larger
image can tile it). The run then optimises against them as against an ordinary style image.

The swatch's noise is seeded from the genome's root, so one variant has one swatch whatever ``--seed``.
It is synthesised with circular padding (``--swatch-padding``): one period of an endless texture, with
no frame, that tiles seamlessly, and whose Grams carry no border into the runs that use them.

This module is the swatch's one home: making it (:func:`reach`, a visible step before the run), turning it
into targets (:func:`given`), and the size it is made at for a render (:func:`reference`). A randomised
problem from :func:`problem.vary` has no swatch yet: its targets are complete once :func:`given` (a
picture made before) or :func:`reach` (one made now) has put it in. Style files only read and write
(stylefile.py): the caller makes the swatch first.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import torch

from . import regions
from .errors import EigenstyleError
from .loop import initial_image, optimise
from .problem import Problem, prepare
from .stopping import Stopped, asking
from .targets import Targets, image_grams, to_pil, to_tensor
from .values import option_name


def swatch_seed(genome: dict) -> int:
    """The swatch's start-noise seed: from the genome's root (the first ancestor's seed), so that
    a child keeps its parent's noise and differs from it only as much as its Gram target does
    (a mutation of amount 0, or an in-between at t = 0, gives the parent's swatch again)."""
    while "seed" not in genome or "mutate" in genome:
        genome = genome["between"][0] if "between" in genome else genome["mutate"]
    digest = hashlib.sha256(json.dumps({"seed": int(genome["seed"])}).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def synthesize(problems, size: int, iterations: int, seeds, observers=(), start=None) -> tuple:
    """Texture synthesis against each problem's style targets, as one batch (every image as its single
    run: per-image targets, noise and L-BFGS state): an [N, 3, size, size] image in network units, and
    per image the iterations it diverged at and started afresh from (loop.optimise).
    ``observers`` that watch the "swatch" phase see its iterations. ``start``: the images to start from
    instead of each seed's noise (a morph's frame starts from the frame before's swatch)."""
    first = problems[0]
    layers = swatch_targets(first.opts)
    factors = dict(zip(first.opts.style_layers, first.opts.style_layer_weights or ()))
    o = first.opts.replace(
        style_layers=layers,
        style_layer_weights=tuple(factors[name] for name in layers) if factors else None,
        tile=None,  # a small square: run whole
        margin=0,  # one period of an endless texture: no edge to keep away from
        content_layers=(),
        content_weight=0.0,
        chroma_tv_weight=0.0,  # the swatch's colour is cleaned after (clean_colour), as it always was
        stop_at=0.0,  # every swatch runs its iterations: one genome, one swatch, whatever the run asks
        iterations=iterations,
        init="random",
        save_every=0,
        print_every=0,
        scales=None,
    )
    shape = (1, 3, size, size)
    p = dataclasses.replace(
        first,
        opts=o,
        net=network_for(first).only(layers),
        content_tensor=first.content_tensor.new_zeros(shape),
        targets=Targets({}, {k: torch.cat([q.targets.style[k] for q in problems]) for k in layers}),
        anchor=None,
    )
    x0 = torch.cat([initial_image(p, seed) for seed in seeds]) if start is None else start
    out = optimise(p, x0, observers, phase="swatch")
    if out.interrupted:
        raise KeyboardInterrupt
    if out.stopped:
        raise Stopped(out.stopped)
    if out.error or not out.done:
        raise EigenstyleError(f"the swatch synthesis failed ({out.error}); try {option_name('target')} raw")
    return out.x, out.restarts or [[] for _ in seeds]


def swatch_targets(opts) -> tuple:
    """The style layers a swatch is synthesised against: those whose targets it gives the run (``swatch_layers``
    randomised: the randomised layers alone, so that their G' is not pulled back towards the painting's
    unrandomised Grams, which the run keeps anyway), or all."""
    return opts.random_layers_value() if opts.swatch_layers == "randomised" else tuple(opts.style_layers)


def _batch_key(o) -> tuple:
    """Swatches made as one batch agree on these."""
    return (o.swatch_side(), o.swatch_iterations, o.swatch_padding, swatch_targets(o))


def rounds(problems) -> int:
    """How many batches of swatches :func:`reach` synthesises, one after the other (a progress bar's length):
    one per batch key of the problems' own, and a run with regions makes its regions' in turn."""
    own = {_batch_key(p.opts) for p in problems if not p.regions and missing(p)}
    return len(own) + sum(
        len({_batch_key(r.problem.opts) for r in p.regions if missing(r.problem)}) for p in problems if p.regions
    )


def missing(problem: Problem) -> bool:
    """Whether ``problem`` is a randomised style whose swatch is still to be made (its targets are then
    G' alone: a reachable target is complete only with its swatch's Grams, :func:`given`), or one with regions
    (--mask) of which one is."""
    if problem.regions:
        return any(missing(r.problem) for r in problem.regions)
    return problem.opts.mode != "none" and problem.swatch is None


def reach(problems, observers=()) -> list:
    """The problems with their swatches made: those without one (:func:`missing`: a randomised style)
    get it synthesised, as one batch per swatch size, and with a reachable target optimise
    against its Grams (a raw target keeps G', the swatch only shows the style). This is
    a step of its own, before the run and visible to ``observers`` watching the "swatch" phase (the
    CLI's progress, the studio's live previews), so preparing a problem never optimises anything.
    Every run goes through it (engine.run_batch, each scale of engine.stylize); for the others it does nothing.
    Ctrl-C raises KeyboardInterrupt; an observer's stop raises :class:`Stopped`."""
    problems = list(problems)
    for i, p in enumerate(problems):
        if p.regions and missing(p):  # each randomised region its own swatch
            made = reach([r.problem for r in p.regions], observers)
            problems[i] = dataclasses.replace(
                p, regions=tuple(dataclasses.replace(r, problem=q) for r, q in zip(p.regions, made))
            )
    due = [i for i, p in enumerate(problems) if missing(p)]
    for i in due:
        if needs_reference(problems[i].opts):
            raise EigenstyleError(
                f"{option_name('reference_size')} needs the swatch made at that size (swatch.reference)"
            )
    groups: dict = {}
    for i in due:
        groups.setdefault(_batch_key(problems[i].opts), []).append(i)  # one batch each
    for (side, iterations, *_), rows in groups.items():
        chosen = [problems[i] for i in rows]
        seeds = [swatch_seed(p.opts.genome or {"seed": p.opts.variant_seed}) for p in chosen]
        x, restarts = synthesize(chosen, side, iterations, seeds, observers)
        for i, picture, restarted in zip(rows, to_pil(x, chosen[0].pre), restarts):
            problems[i] = given(problems[i], finish_swatch(picture, problems[i].opts))
            if restarted:  # recorded in its recipe (swatch_restarted_at)
                problems[i] = dataclasses.replace(problems[i], swatch_restarted_at=restarted)
    return problems


def network_for(problem: Problem):
    """The network a swatch is made and measured with: circular padding (``swatch_padding``), so the swatch
    is one period of an endless texture, with no frame; zeros for recipes from before it."""
    return problem.net.periodic() if problem.opts.swatch_padding == "circular" else problem.net


def at_scale(picture, opts):
    """The swatch as the run at ``opts.size`` sees it: made for ``reference_size`` (a favourite's), it is
    scaled by size / reference_size, as a style image scales with --size, so a render at print size
    keeps the favourite's strokes at the same size relative to the picture."""
    if not opts.reference_size or opts.reference_size == opts.size:
        return picture
    from .images import resize

    side = max(1, round(picture.width * opts.size / opts.reference_size))
    return resize(picture, (side, max(1, round(picture.height * opts.size / opts.reference_size))))


def given(problem: Problem, picture) -> Problem:
    """``problem`` (a randomised style, from vary) with its swatch ``picture`` (made by :func:`reach`, or
    before: it is deterministic, and its Grams are those of its 8-bit picture), and, for a reachable
    target, its style targets replaced by the swatch's Grams, measured as it was made (circular
    padding: the endless tiling's). Applying a swatch optimises nothing.

    The randomised layers take the swatch's Grams; the others keep the style image's own
    (``swatch_layers`` randomised: a 128 px swatch has none of the painting's big forms, which the
    deep layers carry) or take the swatch's too (``all``: the layers agree as a real image's do).
    The report records, per layer, how far the swatch got from G' (relative Frobenius error): large
    values mean a far-out G'."""
    if problem.regions:  # each region its own (``picture``: by region name, swatch.reference's)
        return dataclasses.replace(
            problem,
            regions=tuple(
                dataclasses.replace(r, problem=given(r.problem, picture[r.spec.name])) if r.spec.name in picture else r
                for r in problem.regions
            ),
        )
    o = problem.opts
    # the Grams of the 8-bit picture itself: the swatch PNG as a style image gives these
    picture_tensor = to_tensor(at_scale(picture.convert("RGB"), o), problem.pre, problem.device)
    net = network_for(problem)
    tile = None if net is not problem.net else o.tile  # a periodic swatch is measured whole (it is small)
    grams = image_grams(net, picture_tensor, o.active_style_layers(), tile)
    style, report = dict(problem.targets.style), {k: dict(v) for k, v in problem.report.items()}
    kept = set(o.style_layers) - set(swatch_targets(o))  # the layers the swatch was not made against
    for name in grams:  # a layer at factor 0 (--style-layer-weights) is not computed: it keeps its target
        g, target = grams[name].detach(), problem.targets.style[name]
        style[name] = target if name in kept else g.to(target.dtype)
        err = torch.linalg.matrix_norm(g[0].double() - target[0].double()) / torch.linalg.matrix_norm(
            target[0].double()
        )
        report.setdefault(name, {})["swatch_error"] = round(float(err), 4)
    targets = Targets(problem.targets.content, style) if o.target == "reachable" else problem.targets
    return dataclasses.replace(problem, targets=targets, report=report, swatch=picture)


def needs_reference(opts) -> bool:
    """Whether a run optimises against a swatch made at another size (a favourite's, rendered larger):
    a randomised style with reachable targets and a ``reference_size`` other than its size (with regions, one
    of its regions' styles)."""
    if opts.region:
        return any(needs_reference(regions.style_options(opts, s)) for s in regions.specs_of(opts))
    reachable = opts.mode != "none" and opts.target_value() == "reachable"
    return reachable and opts.reference_size is not None and opts.reference_size != opts.size


def reference(content, styles, opts, observers=()):
    """The swatch of ``opts``' randomised style as it was made at ``reference_size`` (a favourite's size):
    the same picture the favourite optimised against, whatever size it is now rendered at. ``observers``
    watching the "swatch" phase see it made (and may stop it: :class:`Stopped`). With regions: each region's
    that needs one, by name."""
    if opts.region:
        return {
            s.name: reference(content, styles, regions.style_options(opts, s), observers)
            for s in regions.specs_of(opts)
            if needs_reference(regions.style_options(opts, s))
        }
    at = opts.replace(size=opts.reference_size, reference_size=None, scales=None, tile=None, init="random")
    with asking(observers):
        problem = prepare(content, styles, at)
    return reach([problem], observers)[0].swatch


def finish_swatch(picture, opts):
    """A synthesised swatch as the run takes it: its colour speckle blurred (:func:`clean_colour`), then its
    palette turned by the genome's angle (:func:`turn_hue`, ``randomize.palette_turn``)."""
    from .randomize import palette_turn

    return turn_hue(clean_colour(picture, opts.swatch_chroma_blur), palette_turn(opts))


def turn_hue(picture, degrees: float):
    """``picture`` with its chroma turned by ``degrees`` round the colour wheel and its luminance untouched: the
    same strokes in another palette. In float64 on BT.601's Y, Cb, Cr (one rounding, at the end: Pillow's 8-bit
    YCbCr would add up to 3 levels of drift). 0: as it is.

    >>> from PIL import Image
    >>> turn_hue(Image.new("RGB", (2, 2), (200, 40, 40)), 120).getpixel((0, 0))[1] > 100  # red turns green
    True
    """
    if not degrees:
        return picture
    import numpy as np
    from PIL import Image

    rgb = np.asarray(picture.convert("RGB"), dtype=np.float64)
    y = rgb @ np.array([0.299, 0.587, 0.114])
    cb, cr = (rgb[..., 2] - y) / 1.772, (rgb[..., 0] - y) / 1.402
    th = np.deg2rad(degrees)
    cb, cr = np.cos(th) * cb - np.sin(th) * cr, np.sin(th) * cb + np.cos(th) * cr
    r, b = y + 1.402 * cr, y + 1.772 * cb
    g = (y - 0.299 * r - 0.114 * b) / 0.587
    return Image.fromarray(np.stack([r, g, b], -1).round().clip(0, 255).astype(np.uint8), "RGB")


def clean_colour(picture, sigma: float):
    """``picture`` with its chroma (Cb, Cr) blurred by a Gaussian of ``sigma`` px, wrapping round as the
    swatch does, its luminance untouched: coloured speckle goes, strokes stay. ``sigma`` 0: as it is."""
    if not sigma:
        return picture
    import numpy as np
    import torch.nn.functional as F
    from PIL import Image

    ycc = torch.from_numpy(np.asarray(picture.convert("YCbCr"), dtype=np.float64).copy()).permute(2, 0, 1)[None]
    r = max(1, int(3 * sigma + 0.5))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float64) / sigma) ** 2)
    k = (k / k.sum()).view(1, 1, 1, -1).repeat(2, 1, 1, 1)
    c = F.conv2d(F.pad(ycc[:, 1:], (r, r, 0, 0), mode="circular"), k, groups=2)
    c = F.conv2d(F.pad(c, (0, 0, r, r), mode="circular"), k.transpose(2, 3), groups=2)
    out = torch.cat([ycc[:, :1], c], 1)[0].permute(1, 2, 0).round().clamp(0, 255).to(torch.uint8).numpy()
    return Image.fromarray(out, "YCbCr").convert("RGB")
