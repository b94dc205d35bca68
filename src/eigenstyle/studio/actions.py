"""From a page's request to the runs of a job: generate, mutate, between, refine, render, layers.

Requests name only whitelisted settings; every value goes through
``Options.validate`` (so the page shows the same messages as the command line)
and the explore API builds the runs (``variant_options``, ``layer_options``,
``genome_of``): no second implementation of seeds, genomes or layer weights.
Nothing here takes a path from a request: images are named by id, ``init`` is
only random or image, and the one file the studio starts from (Refine's and
Render's ``init``) is a workspace file it chose itself.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass

from .. import explore, recipe, regions
from ..errors import EigenstyleError
from ..options import Options, names
from .jobs import Job, Run
from .store import CLIPS, Store, new_id

LAYER_COMPARISON = ("relu3_1", "relu3_2", "relu3_3", "relu3_4")
# the style layers the page offers as checkboxes: the five default ones, the comparison's, relu4_2
LAYER_CHOICES = ("relu1_1", "relu2_1", "relu3_1", "relu3_2", "relu3_3", "relu3_4", "relu4_1", "relu4_2", "relu5_1")
SETTINGS = names("studio")  # the settings the page sends (declared with the options: uses "studio")
STARTS = ("random", "image")  # the studio's start images; a file path is never taken from a request
OTHER_FIELDS = ("content", "style", "count", "amount", "a", "b", "mask", "regions")
# a region's style as the page names it: these, or {"tile": id} (a tile's style); never a path
REGION_STYLE = re.compile(r"^(none|plain|style|(variant|fantasy|random):\d{1,9})$")
CLIP_FIELDS = ("ids", "frames", "loop", "fps", "steps", "amount")
RENDER_FIELDS = ("size", "bit_depth", "iterations", "scale_iterations")
RENDER_SIZES = (2048, 3000, 4096, 6000)  # the page's choices (longest side), besides any other size


# The studio's departures from Options' defaults: a small, quick first look at variants (its feedback is
# measured by benchmarks/feedback.py, docs/benchmarks.md; its tiles by benchmarks/tiles.py) and a 64 px swatch
# (circular: one period of the texture, which tiles the 128 px picture 2x2). Its arithmetic is --precision
# auto's: bf16 where it wins (1.6x at these settings on AMX). A render made from a bf16 tile once stalled in
# a worker thread (issue 21); test_render renders one there against a deadline. It starts from the content:
# at 128 px and 100 iterations a run from noise (the command line's default, measured at 256 px) has no town
# in it yet (looked at; open in issue 21). Its tiles are painted with a 12 px margin (--margin), cut away: without
# it their edges came out 0.90-1.13x as bright as the photograph's (1.01-1.04x with it); the margin costs 1.4x
# the time of a pass, paid back by 62 iterations instead of 100 and a swatch of 70, which keep the tiles' edges
# and strokes (docs/quality.md, "The studio's tiles: their border"): four tiles in Chromium took 28.5-30.5 s at
# 68 and 100, at the 30 s bound, where the tiles alone take 24.4 s; 21.5 s at 62 and 70.
STUDIO = Options(mode="variant", size=128, iterations=62, swatch_size=64, swatch_iterations=70, init="image", margin=12)


@dataclass(frozen=True)
class Clip:
    """A Morph or Walk's defaults and bounds in the studio: a clip of the tiles at their size, 12 frames a
    leg (about a second each at 128 px on a 2-core CPU: docs/morph.md), played at 12 fps as the frames come.
    The hold on the frame before is 10x the command line's: a tile (62 iterations) is further from done than a
    still, and at 1e5 its clip's frames went on with that optimisation, a pop of 2-3 levels leaving each tile
    and arriving at the next (coefficient of variation 0.63, largest step 3.8x the median); at 1e6, 0.26 and
    1.9x, the in-between frames as finely painted as the tiles (docs/morph.md)."""

    frames: int = 12
    fps: float = 12.0
    loop: bool = True  # a Morph of tiles goes back to the first: a clip that plays round
    steps: int = 3  # a Walk's children
    amount: float = 0.2
    temporal_weight: float = 1e6
    max_frames: int = 48
    max_keys: int = 8


CLIP = Clip()


def defaults() -> dict:
    """The page's form defaults: Options' (over the studio's few departures) and a brood's."""
    brood = explore.Brood()
    values = {k: v for k, v in STUDIO.to_dict().items() if k in SETTINGS}
    return {**values, "init": values["init"] or "", "count": brood.count, "amount": brood.amount}


@dataclass
class Limits:
    """The studio's bounds on one request (a shared machine should not take a 10k-px, 1e6-iteration job)."""

    max_size: int = 1024
    max_iterations: int = 5000
    max_count: int = 16
    max_render: int = 8192  # Render large's own bound: print sizes, one run at a time


def settings(body: dict, limits: Limits, base: Options | None = None) -> Options:
    """Validated options from a request body's settings over ``base`` (default: the studio's, ``STUDIO``;
    the page sends its form, filled from :func:`defaults`)."""
    if not isinstance(body, dict):
        raise EigenstyleError("the request body must be a JSON object")
    unknown = set(body) - set(SETTINGS) - set(OTHER_FIELDS)
    if unknown:
        raise EigenstyleError(f"unknown field(s): {', '.join(sorted(unknown))}")
    values = {k: body[k] for k in SETTINGS if body.get(k) not in (None, "")}  # empty form fields: the default
    if values.get("init", "random") not in STARTS:
        raise EigenstyleError(f"init must be random or image (the content) in the studio, got {values['init']!r}")
    base = STUDIO if base is None else base
    opts = Options.from_mapping({**values, "print_every": 0, "device": "auto", "margin": 0}, base)
    # the base's margin in proportion to the size asked: the tiles' 12 px at 128 px is 3 px at 32 px, 24 at 256
    opts = opts.replace(margin=round(base.margin * opts.size / base.size)).validate()
    for name, most in (
        ("size", limits.max_size),
        ("swatch_size", limits.max_size),
        ("iterations", limits.max_iterations),
        ("swatch_iterations", limits.max_iterations),
    ):
        value = getattr(opts, name)
        if value is not None and value > most:  # swatch_size None: auto
            raise EigenstyleError(f"{name} must be at most {most} in the studio, got {value}")
    return opts


def _pair(store: Store, body: dict) -> tuple[str, str]:
    ids = []
    for what in ("content", "style"):
        ident = body.get(what)
        if not ident:
            raise EigenstyleError(f"choose a {what} image")
        try:
            ids.append(store.get_input(ident)["id"])
        except EigenstyleError:
            raise EigenstyleError(f"{what}: no such image (upload it again)") from None
    return ids[0], ids[1]


def _job(kind, content_id, style_id, runs, params, **lineage) -> Job:
    return Job(new_id(), kind, content_id, style_id, [Run(new_id(), o, label, **lineage) for o, label in runs], params)


def with_regions(store: Store, body: dict, opts: Options, content_id: str, style_id: str) -> Options:
    """``opts`` with the request's regions: ``mask``, an input (painted or uploaded: its flat colours name the
    regions), and ``regions``, each region's style by its colour's name ({"sky": "fantasy:7", "red": {"tile":
    id}}). The mask is read and checked now: a bad one is one line, not a failed job."""
    mask_id, asked = body.get("mask"), body.get("regions")
    if mask_id in (None, "") and not asked:
        return opts
    if not mask_id or not isinstance(asked, dict) or not asked:
        raise EigenstyleError("regions need a mask and a style for each of its regions")
    try:
        mask = store.get_input(str(mask_id))
    except EigenstyleError:
        raise EigenstyleError("mask: no such image (paint or upload it again)") from None
    specs = []
    for name, style in asked.items():
        if not isinstance(name, str) or not name.strip() or "=" in name or len(name) > 40:
            raise EigenstyleError(f"a region is named by its colour in the mask, got {name!r}")
        specs.append(f"{name}={_region_style(store, style, style_id)}")
    o = opts.replace(mask=(store.input_path(mask["id"]),), region=tuple(specs)).validate()
    content = store.get_input(content_id)
    regions.read(o, (content["width"], content["height"]))
    return o


def _region_style(store: Store, style, style_id: str) -> str:
    """A region's style from the page: a name (none, plain, style, variant:N...) or a tile's style (its mode and
    genome: the tile's own randomisation of the same style image)."""
    if isinstance(style, str) and REGION_STYLE.match(style.strip()):
        return style.strip()
    if not (isinstance(style, dict) and set(style) == {"tile"}):
        raise EigenstyleError(
            f"a region's style is none, plain, style, variant:N, fantasy:N, random:N or a tile, got {style!r}"
        )
    rec = _finished(store, str(style["tile"]))
    if rec["style_id"] != style_id:
        raise EigenstyleError(f"tile {rec['label']!r} has another style image: a region wears a style of this one")
    o = recipe.options_of(rec["recipe"])
    if o.region:
        raise EigenstyleError(f"tile {rec['label']!r} has regions of its own: drop a tile of one style")
    if o.mode == "none":
        return "plain"
    return json.dumps({"mode": o.mode, "genome": o.genome or {"seed": o.variant_seed}, "strength": o.strength})


def generate(store: Store, body: dict, limits: Limits) -> Job:
    content_id, style_id = _pair(store, body)
    opts = with_regions(store, body, settings(body, limits), content_id, style_id)
    count = explore.Brood.of(body.get("count", 4), max_count=limits.max_count).count
    if opts.mode == "none":  # plain runs differ only by their start image's seed
        from ..engine import resolve_seeds

        first = resolve_seeds(opts)
        what = f"regions {', '.join(t.split('=', 1)[0] for t in opts.region)}" if opts.region else "plain"
        runs = [
            (first.replace(seed=(first.seed + i) % 2**63), f"{what} seed {(first.seed + i) % 2**63}")
            for i in range(count)
        ]
    else:
        runs = explore.variant_options(opts, explore.Brood.of(count))
    return _job("generate", content_id, style_id, runs, {"count": count})


def layers(store: Store, body: dict, limits: Limits) -> Job:
    content_id, style_id = _pair(store, body)
    opts = settings(body, limits)
    runs = explore.layer_options(opts, LAYER_COMPARISON, opts.style_weight)
    return _job("layers", content_id, style_id, runs, {"layers": list(LAYER_COMPARISON)})


def _finished(store: Store, result_id: str) -> dict:
    rec = store.get_result(result_id, recipe=True)
    if rec["kind"] in CLIPS:
        raise EigenstyleError(f"result {result_id[:8]} is a clip; pick a still tile")
    if not rec["recipe"] or not rec["image_url"]:
        raise EigenstyleError(f"result {result_id[:8]} has no finished image ({rec['status']}); pick a finished tile")
    return rec


def _breedable(rec: dict, limits: Limits, what: str) -> None:
    """A print-size render is an end point: breeding from it would make several runs at its size."""
    if rec["size"] > limits.max_size:
        raise EigenstyleError(
            f"result {rec['id'][:8]} is a {rec['size']} px render; {what} takes tiles of at most "
            f"{limits.max_size} px (use the tile it was rendered from)"
        )


def warm_start(store: Store, rec: dict) -> str:
    """A warm start from a tile: its raw image when levels were applied (what the optimiser reached)."""
    raw = store.image_path(rec["id"], raw=True)
    return raw if os.path.exists(raw) else store.image_path(rec["id"])


def favourite(store: Store, rec: dict) -> tuple[dict, str]:
    """(recipe, start) of what a tile's render goes on from: the largest picture the studio has sharpened it to
    (what the page shows; a render from it skips the scales already made), else the tile itself. ``rec``
    with its recipe."""
    from ..printing import start_of

    path = store.sharp_path(rec["id"], rec["sharp_size"]) if rec.get("sharp_size") else None
    if path and os.path.isfile(path):
        data = recipe.read_recipe(path)
        return data, start_of(path, data)
    return rec["recipe"], warm_start(store, rec)


def _parent_options(rec: dict) -> Options:
    """A parent's recipe options, made fresh: default device, no coarse scales, and its start
    (noise or the content) unless it was warm-started from a file (a refined tile): then noise."""
    o = recipe.options_of(rec["recipe"])
    return o.replace(
        init=o.init if o.init in STARTS else None,
        device="auto",
        print_every=0,
        save_every=0,
        scales=None,
        scale_iterations=None,
    )


def mutate(store: Store, result_id: str, body: dict, limits: Limits) -> Job:
    """Children around a tile's variant; with ``region``, around that region's (the others stay as they are)."""
    parent = _finished(store, result_id)
    _breedable(parent, limits, "Mutate")
    o, name = _parent_options(parent), body.get("region")
    if name not in (None, ""):
        return _mutate_region(parent, o, str(name), body, limits)
    brood = explore.Brood.of(
        body.get("count", 4), parents=(parent["recipe"],), amount=body.get("amount", 0.2), max_count=limits.max_count
    )
    runs = explore.variant_options(o, brood)
    return _job(
        "mutate", parent["content_id"], parent["style_id"], runs, {"amount": brood.amount}, parent_id=parent["id"]
    )


def _mutate_region(parent: dict, o: Options, name: str, body: dict, limits: Limits) -> Job:
    specs = {spec.name: spec for spec in regions.specs_of(o)}
    if name not in specs:
        raise EigenstyleError(f"tile {parent['label']!r} has no region {name!r} ({', '.join(specs) or 'no regions'})")
    own = regions.style_options(o, specs[name])
    if own.mode == "none":
        raise EigenstyleError(f"region {name} wears a plain style: it has no variant to mutate")
    brood = explore.Brood.of(
        body.get("count", 4), parents=({"options": own.to_dict()},), amount=body.get("amount", 0.2),
        max_count=limits.max_count,
    )  # fmt: skip
    runs = []
    for child, label in explore.variant_options(own, brood):
        style = json.dumps({"mode": child.mode, "genome": child.genome, "strength": child.strength})
        region = tuple(f"{name}={style}" if s.name == name else regions.text_of(o, s.name) for s in specs.values())
        runs.append((o.replace(region=region).validate(), f"{name}: {label}"))
    return _job("mutate", parent["content_id"], parent["style_id"], runs, {"amount": brood.amount, "region": name},
                parent_id=parent["id"])  # fmt: skip


def between(store: Store, body: dict, limits: Limits) -> Job:
    a, b = (_finished(store, str(body.get(k) or "")) for k in ("a", "b"))
    if a["id"] == b["id"]:
        raise EigenstyleError("pick two different tiles for Between")
    for rec in (a, b):
        _breedable(rec, limits, "Between")
    brood = explore.Brood.of(body.get("count", 3), parents=(a["recipe"], b["recipe"]), max_count=limits.max_count)
    runs = explore.variant_options(_parent_options(a), brood)
    return _job("between", a["content_id"], a["style_id"], runs, {}, parent_id=a["id"], parent2_id=b["id"])


def refine(store: Store, result_id: str, body: dict, limits: Limits) -> Job:
    """The same recipe at a larger size / more iterations, warm-started from the tile (its raw
    image when levels were applied: that is what the optimiser reached). A randomised style keeps
    the tile's swatch, scaled (``reference_size``: the size the style was found at): synthesised
    again at the new size it would be another picture, another style."""
    parent = _finished(store, result_id)
    _breedable(parent, limits, "Refine")
    o = _parent_options(parent)
    size = body.get("size") or min(limits.max_size, 2 * o.size)
    iterations = body.get("iterations") or o.iterations
    reference = (o.reference_size or o.size) if o.mode != "none" or o.region else None
    opts = settings({"size": size, "iterations": iterations}, limits, o)
    opts = opts.replace(init=warm_start(store, parent), reference_size=reference)
    return _job(
        "refine",
        parent["content_id"],
        parent["style_id"],
        [(opts, f"refined {opts.size} px, {opts.iterations} it")],
        {},
        parent_id=parent["id"],
    )


def _render_size(value, parent: dict, limits: Limits) -> int:
    if value in (None, ""):
        raise EigenstyleError("choose a render size (the longest side in px)")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise EigenstyleError(f"size must be an integer (the longest side in px), got {value!r}")
    if value > limits.max_render:
        raise EigenstyleError(f"size must be at most {limits.max_render} for a render, got {value}")
    if value <= parent["size"]:
        raise EigenstyleError(f"size must be larger than the tile's {parent['size']} px for a render, got {value}")
    return value


def render(store: Store, result_id: str, body: dict, limits: Limits) -> Job:
    """Render large: a finished tile again at print size, one run through ``render.render_options``
    (coarse to fine from the tile, or from the largest picture it was sharpened to: ``favourite``; its
    style's swatch scaled; auto tiles and L-BFGS history). The
    runner runs it with ``engine.stylize``, every scale; ``iterations``/``scale_iterations``
    override the measured schedule."""
    from ..printing import render_options

    parent = _finished(store, result_id)
    unknown = set(body) - set(RENDER_FIELDS)
    if unknown:
        raise EigenstyleError(f"unknown field(s): {', '.join(sorted(unknown))}")
    size = _render_size(body.get("size"), parent, limits)
    overrides = {k: body[k] for k in RENDER_FIELDS[1:] if body.get(k) not in (None, "")}
    opts = render_options(*favourite(store, parent), size, print_every=0, **overrides)
    for name in ("iterations", "scale_iterations"):
        value = getattr(opts, name)
        if value is not None and value > limits.max_iterations:
            raise EigenstyleError(f"{name} must be at most {limits.max_iterations} in the studio, got {value}")
    depth = ", 16-bit" if opts.bit_depth == 16 else ""
    return _job(
        "render",
        parent["content_id"],
        parent["style_id"],
        [(opts, f"render {opts.size} px{depth}")],
        {"size": size, "scales": list(opts.scales or ())},
        parent_id=parent["id"],
    )


def _clip_settings(body: dict, allowed: tuple) -> dict:
    """A clip request's own fields (bounded), over the studio's defaults (``CLIP``)."""
    unknown = set(body) - set(allowed)
    if unknown:
        raise EigenstyleError(f"unknown field(s): {', '.join(sorted(unknown))}")
    out = {k: getattr(CLIP, k) for k in ("frames", "fps", "loop", "steps", "amount")}
    for name, kind, lo, hi in (("frames", int, 2, CLIP.max_frames), ("steps", int, 1, CLIP.max_keys),
                               ("fps", (int, float), 1, 60), ("amount", (int, float), 0.0, 1.0)):  # fmt: skip
        value = body.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, bool) or not isinstance(value, kind) or not lo <= value <= hi:
            raise EigenstyleError(f"{name} must be a number from {lo} to {hi}, got {value!r}")
        out[name] = value
    if body.get("loop") not in (None, ""):
        if not isinstance(body["loop"], bool):
            raise EigenstyleError("loop must be true or false")
        out["loop"] = body["loop"]
    return out


def _clip_job(kind: str, keys: list, settings: dict, label: str, recs: list, walk=None) -> Job:
    """One run whose result is a clip: its row's options are its first tile's, its iterations the frames."""
    from ..morph import Plan

    plan = Plan(
        keys,
        frames=settings["frames"],
        fps=settings["fps"],
        loop=settings["loop"],
        walk=walk,
        temporal_weight=CLIP.temporal_weight,
    )  # fmt: skip — checked now, not in the queue
    total = 1 + len(plan.legs) * plan.frames
    params = {"ids": [r["id"] for r in recs], "frames": plan.frames, "fps": plan.fps, "loop": plan.loop, "walk": walk,
              "temporal_weight": plan.temporal_weight}  # fmt: skip
    parents = {"parent_id": recs[0]["id"], "parent2_id": recs[1]["id"] if len(recs) > 1 else None}
    runs = [(keys[0].opts.replace(iterations=total), label)]
    return _job(kind, recs[0]["content_id"], recs[0]["style_id"], runs, params, **parents)


def _tiles(store: Store, ids, limits: Limits) -> tuple:
    """The tiles of a clip, finished stills of at most the studio's size, as morph keys (one content, style,
    size and mode: morph.keys_of says which differ)."""
    from ..morph import keys_of

    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise EigenstyleError("ids must be a list of result ids")
    if not 2 <= len(ids) <= CLIP.max_keys:
        raise EigenstyleError(f"a Morph goes through 2 to {CLIP.max_keys} tiles, got {len(ids)}")
    recs = [_finished(store, i) for i in ids]
    for rec in recs:
        _breedable(rec, limits, "Morph")
    paths = [store.image_path(r["id"]) for r in recs]
    try:
        return recs, keys_of(paths)
    except EigenstyleError as e:  # said with the tiles' labels: the page never sees the workspace's paths
        message = str(e)
        for path, rec in zip(paths, recs):
            message = message.replace(path, f"{rec['label']!r}")
        raise EigenstyleError(message) from None


def morph(store: Store, body: dict, limits: Limits) -> Job:
    """A clip through two or more tiles, in the order given (the page: two picked, or the starred ones)."""
    if not isinstance(body, dict):
        raise EigenstyleError("the request body must be a JSON object")
    settings = _clip_settings(body, ("ids", "frames", "fps", "loop"))
    recs, keys = _tiles(store, body.get("ids"), limits)
    label = f"morph of {len(recs)} tiles, {settings['frames']} frames a leg"
    return _clip_job("morph", keys, settings, label, recs)


def walk(store: Store, result_id: str, body: dict, limits: Limits) -> Job:
    """A walk from one variant tile through seeded children of it and back: a style that breathes."""
    from ..morph import keys_of, walk_keys

    settings = _clip_settings(body, ("frames", "fps", "steps", "amount", "seed"))
    seed = body.get("seed")
    if seed in (None, ""):
        seed = secrets.randbelow(2**31)  # each Walk another breath; the clip's recipe keeps the seed
    elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise EigenstyleError(f"seed must be an integer from 0 to {2**31 - 1}, got {seed!r}")
    rec = _finished(store, result_id)
    _breedable(rec, limits, "Walk")
    (key,) = keys_of([store.image_path(rec["id"])])
    keys = walk_keys(key, settings["steps"], settings["amount"], seed)
    walk = {"steps": settings["steps"], "amount": settings["amount"], "seed": seed}
    label = f"walk of {rec['label']}, {settings['steps']} children"
    return _clip_job("walk", keys, {**settings, "loop": False}, label, [rec], walk)
