"""Recipes: everything needed to make an output image again, embedded in it.

A recipe is JSON: all options (with the seed actually used), the inputs'
paths and SHA-256 hashes, the weights' identity, the eigenstyle/torch/Python
versions, the device, how many iterations ran and the losses reached.
:func:`read_recipe` reads one back (``printing.reproduce`` runs it again).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import platform

from . import images
from ._version import __version__
from .errors import EigenstyleError
from .files import sha256_of_file
from .options import Options

FORMAT = "eigenstyle-recipe"
VERSION = 1


def identity_of_file(path: str) -> dict:
    try:
        sha = sha256_of_file(path)
    except OSError as e:
        raise EigenstyleError(f"cannot read {path}: {e.strerror}") from None
    return {"path": os.path.abspath(path), "sha256": sha}


def identity_of_pixels(im) -> dict:
    """For in-memory images (API use): no path, a hash of the RGB pixels."""
    h = hashlib.sha256(f"{im.width}x{im.height}:".encode() + im.tobytes())
    return {"path": None, "sha256": "pixels:" + h.hexdigest()}


def build(
    problem,
    iterations_done: int,
    losses,
    interrupted: bool,
    elapsed: float,
    peak_memory_mb: float,
    extra: dict | None = None,
) -> dict:
    """The recipe of an image of ``problem``; ``peak_memory_mb``: the run's, as the caller measured it;
    ``extra``: what the caller adds (a batch's place, why a run stopped), given here so that a recipe is
    never edited after it is made."""
    import torch

    from . import objective
    from .vgg.speed import machine_key

    machine = {k: v for k, v in machine_key(problem.device).items() if k != "torch"}

    def first(k):
        v = (losses or {}).get(k)
        return v[0] if v is not None and len(v) == 1 else v

    return {
        "format": FORMAT,
        "version": VERSION,
        "eigenstyle": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(problem.device),
        "machine": machine,  # where it ran (a cluster's worker, another GPU): its processor and threads
        "precision": problem.net.precision,
        "conv": problem.net.conv,
        "arithmetic": problem.arithmetic,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "content": problem.inputs["content"],
        "styles": problem.inputs["styles"],
        "style_file": problem.inputs.get("style_file"),
        "init": problem.inputs.get("init"),
        "weights": problem.weights.identity(),
        "options": problem.opts.to_dict(),
        "size": list(problem.content.size),
        "iterations_done": iterations_done,
        "interrupted": interrupted,
        "losses": {k: first(k) for k in objective.names(problem)},  # total, then each term's
        **({"terms": [objective.described(t) for t in problem.terms]} if problem.terms else {}),
        "randomization": problem.report,
        **({"mask": problem.inputs["mask"], "regions": regions_report(problem)} if problem.regions else {}),
        "levels": problem.opts.levels_clip(),
        "elapsed_s": round(elapsed, 3),
        "peak_memory_mb": round(peak_memory_mb, 1),
        **({"swatch_restarted_at": problem.swatch_restarted_at} if problem.swatch_restarted_at else {}),
        **(extra or {}),
    }


def regions_report(problem) -> list:
    """Each region of a run (--mask): its name, its style as asked, and what its randomisation did."""
    from .regions import text_of

    return [
        {
            "name": r.spec.name,
            "style": text_of(problem.opts, r.spec.name),
            "mode": r.problem.opts.mode,
            **(
                {"genome": r.problem.opts.genome or {"seed": r.problem.opts.variant_seed}}
                if r.problem.opts.mode != "none"
                else {}
            ),
            "randomization": r.problem.report,
        }
        for r in problem.regions
    ]


def dumps(recipe: dict) -> str:
    return json.dumps(recipe, sort_keys=True, allow_nan=False, default=str)


def parse(text: str, source: str = "recipe") -> dict:
    """Validate a recipe's JSON text; raise EigenstyleError on anything off."""
    try:
        data = json.loads(text)
    except (ValueError, TypeError, RecursionError) as e:
        raise EigenstyleError(f"{source}: the embedded recipe is not valid JSON ({e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise EigenstyleError(f"{source}: not an eigenstyle recipe")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise EigenstyleError(f"{source}: recipe has no valid version")
    if version > VERSION:
        raise EigenstyleError(
            f"{source}: recipe version {version} was written by a newer eigenstyle "
            f"({data.get('eigenstyle')}); this is {__version__}: upgrade to reproduce it"
        )
    for key, kind in (("options", dict), ("content", dict), ("styles", list)):
        if not isinstance(data.get(key), kind):
            raise EigenstyleError(f"{source}: recipe is missing its {key!r}")
    for i, item in enumerate([data["content"]] + data["styles"]):
        if not isinstance(item, dict) or not all(
            isinstance(item.get(k), (str, type(None))) for k in ("path", "sha256")
        ):
            raise EigenstyleError(f"{source}: recipe input {i} is malformed (needs a path and a sha256)")
    try:
        options_of(data).validate()
    except EigenstyleError as e:
        raise EigenstyleError(f"{source}: recipe options: {e}") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise EigenstyleError(f"{source}: recipe options are malformed ({type(e).__name__}: {e})") from None
    return data


def options_of(data: dict) -> Options:
    """The options of a recipe, with the arithmetic that ran: a recipe from before the choice by timing
    (speed.py) says ``--conv auto`` where the top-level ``conv`` records what ran (Winograd on a CPU in
    fp32), so that it reproduces exactly."""
    opts = dict(data["options"])
    for key in ("precision", "conv"):
        if opts.get(key) == "auto" and isinstance(data.get(key), str):
            opts[key] = data[key]
    return Options.from_dict(opts)


def read_recipe(path: str) -> dict:
    """The recipe embedded in an image written by eigenstyle."""
    if not os.path.isfile(path):
        raise EigenstyleError(f"no such file: {path}")
    text = images.read_embedded_recipe(path)
    if text is None:
        raise EigenstyleError(f"{path} carries no eigenstyle recipe")
    return parse(text, path)
