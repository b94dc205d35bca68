"""A sweep: every combination of a few axes (modes × variant seeds × style layers × style weights × layer
mixes) of one content/style pair, and one contact sheet per pair of axes that vary.

The axes come from flags or a small TOML/JSON file (flags win)::

    modes = ["variant", "fantasy"]
    seeds = "1-4"            # or [1, 2, 3, 4]
    layers = ["relu3_2", "relu3_3"]
    weights = [500, 1000]
    mixes = ["1:0", "0.5:0.5", "0:1"]   # with --style-layers relu3_2,relu3_3
    layer_weights = {relu3_2 = [1, 0.5], relu3_3 = [0, 0.5, 1]}   # or a weight axis per layer (their product)

A layer is a single style layer (as ``eigenstyle layers`` runs them; "all" keeps the run's own
layers); without weights each layer gets its balanced default. A mix is one factor per style layer of
the run (--style-layer-weights), colon-separated: the axis that cross-fades the layers' characters; a
weight axis per layer (``layer_weights``, ``--layer-weight relu3_2=1,0.5``) gives the mixes of every
combination (a layer named by none keeps 1). Runs
that are the same picture (a plain run, mode none, at every variant seed) run once and fill every cell
they belong to.

    >>> g = Grid.of(modes="variant,fantasy", seeds="1-3")
    >>> g.varying(), len(g.cells())
    (['mode', 'seed'], 6)
"""

from __future__ import annotations

import itertools
import json
import os
from dataclasses import dataclass
from typing import Optional

from PIL import Image

from .errors import EigenstyleError
from .layers import check_layers
from .modes import NAMES
from .options import Options
from .problem import resolve_seeds
from .values import split

AXES = ("mode", "seed", "layer", "weight", "mix")
KEYS = ("modes", "seeds", "layers", "weights", "mixes")  # the Grid's fields, one per axis
READ = (*KEYS, "layer_weights")  # what a grid file or the flags may give (a weight axis per layer: mixes)


def _seeds(v) -> tuple:
    """'1-4', '1,3,7', [1, 3] or 5 -> a tuple of ints."""
    items = v if isinstance(v, list) else split(str(v))
    out = []
    for item in items:
        text = str(item).strip()
        lo, dash, hi = text.partition("-") if not text.startswith("-") else (text, "", "")
        try:
            out += list(range(int(lo), int(hi) + 1)) if dash else [int(text)]
        except ValueError:
            raise EigenstyleError(f"seeds: {text!r} is not a seed or a range like 1-4") from None
    if not out or len(out) > 1000:
        raise EigenstyleError("seeds: give between 1 and 1000 seeds")
    return tuple(out)


def _list(v) -> list:
    return [str(x).strip() for x in (v if isinstance(v, list) else split(str(v)))]


@dataclass(frozen=True)
class Grid:
    """The sweep's axes; a None value is "the run's own" (its mode, variant seed, layers, weight)."""

    modes: tuple = (None,)
    seeds: tuple = (None,)
    layers: tuple = (None,)
    weights: tuple = (None,)
    mixes: tuple = (None,)

    @classmethod
    def of(cls, modes=None, seeds=None, layers=None, weights=None, mixes=None, layer_weights=None) -> "Grid":
        g = {}
        if modes is not None:
            g["modes"] = tuple(_list(modes))
            bad = [m for m in g["modes"] if m not in NAMES]
            if bad or not g["modes"]:
                raise EigenstyleError(f"modes: {bad or modes} is not one of {', '.join(NAMES)}")
        if seeds is not None:
            g["seeds"] = _seeds(seeds)
        if layers is not None:
            named = _list(layers)
            check_layers([x for x in named if x != "all"], "layers")
            g["layers"] = tuple(None if x == "all" else x for x in named)
        if weights is not None:
            try:
                g["weights"] = tuple(float(w) for w in _list(weights))
            except ValueError:
                raise EigenstyleError(f"weights: {weights!r} are not numbers") from None
            if any(not w > 0 for w in g["weights"]):
                raise EigenstyleError("weights: every style weight must be > 0")
        if mixes is not None and layer_weights is not None:
            raise EigenstyleError("give mixes or a weight axis per layer (layer_weights), not both")
        if mixes is not None:
            g["mixes"] = tuple(_mix(m) for m in (mixes if isinstance(mixes, list) else split(str(mixes))))
            if not g["mixes"]:
                raise EigenstyleError("mixes: give at least one mix, e.g. 1:0,0.5:0.5,0:1")
        if layer_weights is not None:
            g["mixes"] = _per_layer(layer_weights)
        return cls(**g)

    @classmethod
    def read(cls, path: str, **flags) -> "Grid":
        """The axes of a .toml or .json file, each overridden by a flag given (not None)."""
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as e:
            raise EigenstyleError(f"cannot read {path}: {e.strerror}") from None
        try:
            if path.lower().endswith(".toml"):
                import tomllib

                data = tomllib.loads(raw.decode("utf-8"))
            else:
                data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise EigenstyleError(f"{path}: not valid {'TOML' if path.endswith('.toml') else 'JSON'} ({e})") from None
        unknown = set(data) - set(READ) if isinstance(data, dict) else None
        if unknown is None or unknown:
            raise EigenstyleError(f"{path}: expected the keys {', '.join(READ)}; got {sorted(unknown or [])}")
        return cls.of(**{k: flags.get(k) if flags.get(k) is not None else data.get(k) for k in READ})

    def values(self, axis: str) -> tuple:
        return getattr(self, KEYS[AXES.index(axis)])

    def varying(self) -> list:
        return [a for a in AXES if len(self.values(a)) > 1]

    def cells(self) -> list:
        """Every combination, as {axis: value}."""
        return [dict(zip(AXES, c)) for c in itertools.product(*(self.values(a) for a in AXES))]


def _label(cell: dict, o: Options, varying: list) -> str:
    parts = {
        "mode": o.mode,
        "seed": f"s{o.variant_seed}" if o.mode != "none" else None,
        "layer": ",".join(o.style_layers) if cell["layer"] else "all-layers",
        "weight": f"w{o.style_weight_value():g}",
        "mix": _mix_label(cell["mix"]) if cell["mix"] else None,
    }
    shown = [parts[a] for a in AXES if a in varying and parts[a]]
    return " ".join(shown) or o.mode


def sweep_options(base: Options, grid: Grid) -> tuple[list, list]:
    """(runs, cells): the distinct runs as (options, label), and for each grid cell the index of its run.
    Every run shares the base's start seed, so cells differ only by their axes."""
    base = resolve_seeds(base.replace(mode=base.mode if base.mode != "none" else "variant"))
    varying = grid.varying()
    runs, index, cells = [], {}, []
    for cell in grid.cells():
        o = base.replace(mode=cell["mode"] or base.mode, genome=None)
        o = o.replace(variant_seed=cell["seed"] if cell["seed"] is not None else base.variant_seed)
        if o.mode == "none":
            o = o.replace(variant_seed=None)
        if cell["layer"] is not None:
            o = o.replace(style_layers=(cell["layer"],), random_layers=None, style_weight=cell["weight"])
        elif cell["weight"] is not None:
            o = o.replace(style_weight=cell["weight"])
        if isinstance(cell["mix"], dict):  # a combination of the per-layer axes: a layer named by none keeps 1
            outside = sorted(set(cell["mix"]) - set(o.style_layers))
            if outside:
                raise EigenstyleError(f"layer_weights: {', '.join(outside)} not among the style layers")
            o = o.replace(style_layer_weights=tuple(cell["mix"].get(name, 1.0) for name in o.style_layers))
        elif cell["mix"] is not None:
            o = o.replace(style_layer_weights=cell["mix"])
        o = o.validate()
        key = json.dumps(o.settled().to_dict(), sort_keys=True, default=str)  # the same run, however it was asked
        if key not in index:
            index[key] = len(runs)
            label = _label(cell, o, varying)
            taken = {lab for _, lab in runs}
            label = label if label not in taken else f"{label} #{len(runs) + 1}"  # labels name files: unique
            runs.append((o, label))
        cells.append((cell, index[key]))
    return runs, cells


def _per_layer(axes) -> tuple:
    """{'relu3_2': [1, 0.5], ...} or ['relu3_2=1,0.5', ...] -> every combination, as {layer: factor} mixes."""
    if not isinstance(axes, dict):
        pairs = [str(t).partition("=") for t in (axes if isinstance(axes, list) else [axes])]
        if any(not eq for _, eq, _ in pairs):
            raise EigenstyleError("layer_weights: give LAYER=F1,F2,... (e.g. relu3_2=1,0.5,0)")
        axes = {name.strip(): split(values) for name, _, values in pairs}
    check_layers(list(axes), "layer_weights")
    values = {}
    for name, v in axes.items():
        try:
            values[name] = [float(f) for f in (v if isinstance(v, list) else split(str(v)))]
        except (TypeError, ValueError):
            raise EigenstyleError(f"layer_weights: {name}'s {v!r} are not numbers") from None
        if not values[name] or any(not f >= 0 for f in values[name]):
            raise EigenstyleError(f"layer_weights: {name} needs factors >= 0")
    mixes = tuple(dict(zip(values, combo)) for combo in itertools.product(*values.values()))
    mixes = tuple(m for m in mixes if any(m.values()))  # every layer at 0 is no run
    if not mixes:
        raise EigenstyleError("layer_weights: every combination has all its layers at 0")
    return mixes


def _mix_label(mix) -> str:
    if isinstance(mix, dict):
        return " ".join(f"{name}×{f:g}" for name, f in mix.items())
    return ":".join(f"{f:g}" for f in mix)


def _mix(text) -> tuple:
    """'1:0.5' or [1, 0.5] -> (1.0, 0.5): one factor per style layer."""
    parts = text if isinstance(text, list) else str(text).split(":")
    try:
        mix = tuple(float(f) for f in parts)
    except (TypeError, ValueError):
        raise EigenstyleError(f"mixes: {text!r} is not factors like 1:0.5") from None
    if not mix or any(not f >= 0 for f in mix) or not any(mix):
        raise EigenstyleError(f"mixes: {text!r} needs factors >= 0, not all 0")
    return mix


def sheets(grid: Grid, cells: list, tiles_by_run: dict, out_dir: str, stem: str, overwrite: bool) -> list:
    """One sheet per pair of varying axes (rows: the first axis, columns: the second; the other axes
    at their first value); one sheet when a single axis varies. A cell whose run did not finish is
    a blank tile, so rows and columns stay aligned. Returns the paths written."""
    from . import images
    from .explore import contact_sheet

    varying = grid.varying() or ["mode"]
    pairs = list(itertools.combinations(varying, 2)) or [(varying[0], None)]
    written = []
    for rows, cols in pairs:
        fixed = {a: grid.values(a)[0] for a in AXES if a not in (rows, cols)}
        picked = [(c, i) for c, i in cells if all(c[a] == v for a, v in fixed.items())]
        if not any(i in tiles_by_run for _, i in picked):
            continue
        size = next(iter(tiles_by_run.values())).result.image.size
        tiles = [
            (tiles_by_run[i].result.image, tiles_by_run[i].label) if i in tiles_by_run
            else (Image.new("RGB", size, "#ddd"), "(not run)")
            for _, i in picked
        ]  # fmt: skip
        name = f"{stem}-sweep-{rows}" + (f"-x-{cols}" if cols else "") + ".jpg"
        path = os.path.join(out_dir, name)
        path = path if overwrite else images.free_name(path)
        columns = len(grid.values(cols)) if cols else min(len(tiles), 8)
        written.append(images.save_atomic(contact_sheet(tiles, columns), path))
    return written


def describe(grid: Grid, runs: list) -> Optional[str]:
    """One line for the terminal: the axes and the number of runs."""
    axes = " x ".join(f"{len(grid.values(a))} {a}s" for a in AXES if len(grid.values(a)) > 1) or "one run"
    return f"sweep: {axes} = {len(grid.cells())} cells, {len(runs)} distinct runs"
