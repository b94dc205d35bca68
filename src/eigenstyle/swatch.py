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
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import torch

from .errors import EigenstyleError
from .loop import initial_image, optimise
from .targets import Targets, network_for, to_pil, with_swatch
from .values import option_name


def swatch_seed(genome: dict) -> int:
    """The swatch's start-noise seed: from the genome's root (the first ancestor's seed), so that
    a child keeps its parent's noise and differs from it only as much as its Gram target does
    (a mutation of amount 0, or an in-between at t = 0, gives the parent's swatch again)."""
    while "seed" not in genome or "mutate" in genome:
        genome = genome["between"][0] if "between" in genome else genome["mutate"]
    digest = hashlib.sha256(json.dumps({"seed": int(genome["seed"])}).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class Stopped(Exception):
    """An observer ended the swatch's synthesis (the studio's cancel): there is no run to make."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def synthesize(problems, size: int, iterations: int, seeds, observers=()) -> tuple:
    """Texture synthesis against each problem's style targets, as one batch (every image as its single
    run: per-image targets, noise and L-BFGS state): an [N, 3, size, size] image in network units, and
    per image the iterations it diverged at and started afresh from (loop.optimise).
    ``observers`` that watch the "swatch" phase see its iterations."""
    first = problems[0]
    o = first.opts.replace(
        tile=None,  # a small square: run whole
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
        net=network_for(first),
        content_tensor=first.content_tensor.new_zeros(shape),
        targets=Targets({}, {k: torch.cat([q.targets.style[k] for q in problems]) for k in first.targets.style}),
        anchor=None,
        swatch_due=False,
    )
    x0 = torch.cat([initial_image(p, seed) for seed in seeds])
    out = optimise(p, x0, observers, phase="swatch")
    if out.interrupted:
        raise KeyboardInterrupt
    if out.stopped:
        raise Stopped(out.stopped)
    if out.error or not out.done:
        raise EigenstyleError(f"the swatch synthesis failed ({out.error}); try {option_name('target')} raw")
    return out.x, out.restarts or [[] for _ in seeds]


def reach(problems, observers=()) -> list:
    """The problems with their swatches made: those waiting for one (``swatch_due``: a randomised
    style) get it synthesised, as one batch per swatch size, and with a reachable target optimise
    against its Grams (a raw target keeps G', the swatch only shows the style). This is
    a step of its own, before the run and visible to ``observers`` watching the "swatch" phase (the
    CLI's progress, the studio's live previews), so preparing a problem never optimises anything.
    Ctrl-C raises KeyboardInterrupt; an observer's stop raises :class:`Stopped`."""
    problems = list(problems)
    due = [i for i, p in enumerate(problems) if p.swatch_due]
    groups: dict = {}
    for i in due:
        o = problems[i].opts
        groups.setdefault((o.swatch_side(), o.swatch_iterations, o.swatch_padding), []).append(i)  # one batch each
    for (side, iterations, _), rows in groups.items():
        chosen = [problems[i] for i in rows]
        seeds = [swatch_seed(p.opts.genome or {"seed": p.opts.variant_seed}) for p in chosen]
        x, restarts = synthesize(chosen, side, iterations, seeds, observers)
        for i, picture, restarted in zip(rows, to_pil(x, chosen[0].pre), restarts):
            picture = clean_colour(picture, problems[i].opts.swatch_chroma_blur)
            problems[i] = with_swatch(problems[i], problems[i].opts.target == "reachable", picture)
            if restarted:  # recorded in its recipe (swatch_restarted_at)
                problems[i] = dataclasses.replace(problems[i], swatch_restarted_at=restarted)
    return problems


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
