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
SETTINGS = ("mode", "style_layers", "style_weight", "spread", "size", "iterations", "seed", "variant_seed",
            "fantasy", "strength", "levels", "content_weight", "tv_weight", "init", "target", "swatch_size",
            "swatch_iterations")
STARTS = ("random", "image")  # the studio's start images; a file path is never taken from a request
OTHER_FIELDS = ("content", "style", "count", "amount", "a", "b")


@dataclass
class Limits:
    """The studio's bounds on one request (a shared machine should not take a 10k-px, 1e6-iteration job)."""
    max_size: int = 1024
    max_iterations: int = 5000
    max_count: int = 16


def _number(name, value, kind):
    if isinstance(value, str):  # form fields arrive as text from some clients
        try:
            return kind(value)
        except ValueError:
            raise EigenstyleError(f"--{name.replace('_', '-')} must be a number, got {value!r}") from None
    return value


def _tuple(name, value, kind=str):
    if isinstance(value, str):
        value = [p.strip() for p in value.split(",") if p.strip()]
    if not isinstance(value, (list, tuple)):
        raise EigenstyleError(f"--{name.replace('_', '-')} must be a list, got {value!r}")
    return tuple(_number(name, v, kind) if kind is not str else str(v) for v in value)


def settings(body: dict, limits: Limits, base: Options | None = None) -> Options:
    """Validated options from a request body's settings over ``base``."""
    if not isinstance(body, dict):
        raise EigenstyleError("the request body must be a JSON object")
    unknown = set(body) - set(SETTINGS) - set(OTHER_FIELDS)
    if unknown:
        raise EigenstyleError(f"unknown field(s): {', '.join(sorted(unknown))}")
    values = {}
    for k in SETTINGS:
        v = body.get(k)
        if v is None or v == "":
            continue
        if k == "init" and v not in STARTS:
            raise EigenstyleError(f"--init must be random or image (the content) in the studio, got {v!r}")
        if k == "style_layers":
            v = _tuple(k, v)
        elif k == "spread":
            v = _tuple(k, v, float)
        elif k in ("size", "iterations", "seed", "variant_seed", "swatch_size", "swatch_iterations"):
            v = _number(k, v, int)
        elif k in ("style_weight", "strength", "content_weight", "tv_weight"):
            v = _number(k, v, float)
        values[k] = v
    opts = (base or Options()).replace(print_every=0, device="auto", **values).validate()
    for name, most in (("size", limits.max_size), ("swatch_size", limits.max_size),
                       ("iterations", limits.max_iterations), ("swatch_iterations", limits.max_iterations)):
        value = getattr(opts, name)
        if value is not None and value > most:  # swatch_size None: auto
            raise EigenstyleError(f"--{name.replace('_', '-')} must be at most {most} in the studio, got {value}")
    return opts


def _count(body: dict, limits: Limits, default: int = 4) -> int:
    n = _number("count", body.get("count", default), int)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= limits.max_count:
        raise EigenstyleError(f"--count must be an integer from 1 to {limits.max_count}, got {n!r}")
    return n


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
    return Job(new_id(), kind, content_id, style_id,
               [Run(new_id(), o, label, **lineage) for o, label in runs], params)


def generate(store: Store, body: dict, limits: Limits) -> Job:
    content_id, style_id = _pair(store, body)
    opts = settings(body, limits)
    count = _count(body, limits)
    if opts.mode == "none":  # plain runs differ only by their start image's seed
        from ..engine import resolve_seeds
        first = resolve_seeds(opts)
        runs = [(first.replace(seed=(first.seed + i) % 2**63), f"plain seed {(first.seed + i) % 2**63}")
                for i in range(count)]
    else:
        runs = explore.variant_options(opts, count)
    return _job("generate", content_id, style_id, runs, {"count": count})


def layers(store: Store, body: dict, limits: Limits) -> Job:
    content_id, style_id = _pair(store, body)
    opts = settings(body, limits)
    runs = explore.layer_options(opts, LAYER_COMPARISON, opts.style_weight)
    return _job("layers", content_id, style_id, runs, {"layers": list(LAYER_COMPARISON)})


def _finished(store: Store, result_id: str) -> dict:
    rec = store.get_result(result_id, recipe=True)
    if not rec["recipe"] or not rec["image_url"]:
        raise EigenstyleError(f"result {result_id[:8]} has no finished image ({rec['status']}); "
                              f"pick a finished tile")
    return rec


def _parent_options(rec: dict) -> Options:
    """A parent's recipe options, made fresh: default device, no coarse scales, and its start
    (noise or the content) unless it was warm-started from a file (a refined tile): then noise."""
    o = Options.from_dict(rec["recipe"]["options"])
    return o.replace(init=o.init if o.init in STARTS else "random", device="auto", print_every=0, save_every=0,
                     scales=None, scale_iterations=None)


def mutate(store: Store, result_id: str, body: dict, limits: Limits) -> Job:
    parent = _finished(store, result_id)
    genome = explore.genome_of(parent["recipe"])
    amount = _number("amount", body.get("amount", 0.2), float)
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise EigenstyleError(f"--amount must be a number, got {amount!r}")
    runs = explore.variant_options(_parent_options(parent), _count(body, limits), mutate=genome, amount=amount)
    return _job("mutate", parent["content_id"], parent["style_id"], runs, {"amount": amount},
                parent_id=parent["id"])


def between(store: Store, body: dict, limits: Limits) -> Job:
    a, b = (_finished(store, str(body.get(k) or "")) for k in ("a", "b"))
    if a["id"] == b["id"]:
        raise EigenstyleError("pick two different tiles for Between")
    if a["recipe"]["options"]["mode"] != b["recipe"]["options"]["mode"]:
        raise EigenstyleError("--between needs two variants of the same mode")
    genomes = (explore.genome_of(a["recipe"]), explore.genome_of(b["recipe"]))
    runs = explore.variant_options(_parent_options(a), _count(body, limits, 3), between=genomes)
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
    return _job("refine", parent["content_id"], parent["style_id"],
                [(opts, f"refined {opts.size} px, {opts.iterations} it")], {}, parent_id=parent["id"])
