"""From a page's request to the runs of a job: generate, mutate, between, refine, layers.

Requests name only whitelisted settings; every value goes through
``Options.validate`` (so the page shows the same messages as the command line)
and the explore API builds the runs (``variant_options``, ``layer_options``,
``genome_of``): no second implementation of seeds, genomes or layer weights.
Nothing here takes a path from a request: images are named by id, ``init`` is
only random or image, and the one file the studio starts from (Refine's
``init``) is a workspace file it chose itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .. import explore
from ..errors import EigenstyleError
from ..options import Options
from .jobs import Job, Run
from .store import Store, new_id

LAYER_COMPARISON = ("relu3_1", "relu3_2", "relu3_3", "relu3_4")
SETTINGS = (
    "mode",
    "style_layers",
    "style_weight",
    "spread",
    "size",
    "iterations",
    "seed",
    "variant_seed",
    "fantasy",
    "strength",
    "levels",
    "content_weight",
    "tv_weight",
    "init",
    "target",
    "swatch_size",
    "swatch_iterations",
)
STARTS = ("random", "image")  # the studio's start images; a file path is never taken from a request
OTHER_FIELDS = ("content", "style", "count", "amount", "a", "b")


# The studio's departures from Options' defaults: a small, quick first look at variants.
STUDIO = Options(mode="variant", size=128, iterations=100)


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


def settings(body: dict, limits: Limits, base: Options | None = None) -> Options:
    """Validated options from a request body's settings over ``base`` (default: Options' defaults;
    the page itself sends the studio's, from :func:`defaults`)."""
    if not isinstance(body, dict):
        raise EigenstyleError("the request body must be a JSON object")
    unknown = set(body) - set(SETTINGS) - set(OTHER_FIELDS)
    if unknown:
        raise EigenstyleError(f"unknown field(s): {', '.join(sorted(unknown))}")
    values = {k: body[k] for k in SETTINGS if body.get(k) not in (None, "")}  # empty form fields: the default
    if values.get("init", "random") not in STARTS:
        raise EigenstyleError(f"init must be random or image (the content) in the studio, got {values['init']!r}")
    opts = Options.from_mapping({**values, "print_every": 0, "device": "auto"}, base)
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


def generate(store: Store, body: dict, limits: Limits) -> Job:
    content_id, style_id = _pair(store, body)
    opts = settings(body, limits)
    count = explore.Brood.of(body.get("count", 4), max_count=limits.max_count).count
    if opts.mode == "none":  # plain runs differ only by their start image's seed
        from ..engine import resolve_seeds

        first = resolve_seeds(opts)
        runs = [
            (first.replace(seed=(first.seed + i) % 2**63), f"plain seed {(first.seed + i) % 2**63}")
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
    if not rec["recipe"] or not rec["image_url"]:
        raise EigenstyleError(f"result {result_id[:8]} has no finished image ({rec['status']}); pick a finished tile")
    return rec


def _parent_options(rec: dict) -> Options:
    """A parent's recipe options, made fresh: default device, no coarse scales, and its start
    (noise or the content) unless it was warm-started from a file (a refined tile): then noise."""
    o = Options.from_dict(rec["recipe"]["options"])
    return o.replace(
        init=o.init if o.init in STARTS else None,
        device="auto",
        print_every=0,
        save_every=0,
        scales=None,
        scale_iterations=None,
    )


def mutate(store: Store, result_id: str, body: dict, limits: Limits) -> Job:
    parent = _finished(store, result_id)
    brood = explore.Brood.of(
        body.get("count", 4), parents=(parent["recipe"],), amount=body.get("amount", 0.2), max_count=limits.max_count
    )
    runs = explore.variant_options(_parent_options(parent), brood)
    return _job(
        "mutate", parent["content_id"], parent["style_id"], runs, {"amount": brood.amount}, parent_id=parent["id"]
    )


def between(store: Store, body: dict, limits: Limits) -> Job:
    a, b = (_finished(store, str(body.get(k) or "")) for k in ("a", "b"))
    if a["id"] == b["id"]:
        raise EigenstyleError("pick two different tiles for Between")
    brood = explore.Brood.of(body.get("count", 3), parents=(a["recipe"], b["recipe"]), max_count=limits.max_count)
    runs = explore.variant_options(_parent_options(a), brood)
    return _job("between", a["content_id"], a["style_id"], runs, {}, parent_id=a["id"], parent2_id=b["id"])


def refine(store: Store, result_id: str, body: dict, limits: Limits) -> Job:
    """The same recipe at a larger size / more iterations, warm-started from the tile (its raw
    image when levels were applied: that is what the optimiser reached)."""
    parent = _finished(store, result_id)
    o = _parent_options(parent)
    size = body.get("size") or min(limits.max_size, 2 * o.size)
    iterations = body.get("iterations") or o.iterations
    raw = store.image_path(parent["id"], raw=True)
    start = raw if os.path.exists(raw) else store.image_path(parent["id"])
    opts = settings({"size": size, "iterations": iterations}, limits, o).replace(init=start)
    return _job(
        "refine",
        parent["content_id"],
        parent["style_id"],
        [(opts, f"refined {opts.size} px, {opts.iterations} it")],
        {},
        parent_id=parent["id"],
    )
