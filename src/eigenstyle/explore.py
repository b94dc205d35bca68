"""Exploration: many results from one content/style pair, and sheets to compare them.

* :func:`variants` runs N randomised variants (seeds s..s+N-1, or N children of
  a favourite, or points between two favourites) on one prepared problem, so
  the network and the style's own Grams are computed once.
* :func:`layers` runs one single-style-layer result per layer (same seed) to
  show each layer's character (relu3_2 straight strokes, relu3_3 curves).
Each result is written with its recipe, and a labelled contact sheet beside them.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Optional

from PIL import Image, ImageDraw, ImageFont

from . import images
from .errors import EigenstyleError
from .executors import Executor, Work, make
from .options import Options
from .plan import batches
from .problem import resolve_seeds
from .results import Result
from .values import option_name, parse


@dataclass
class Tile:
    path: str
    label: str
    result: Result


def contact_sheet(
    tiles: list[tuple[Image.Image, str]], columns: int = 4, width: int = 256, gap: int = 6, *, height: int | None = None
) -> Image.Image:
    """A grid of images, each with its label underneath (no label strip when no tile has one).

    Each image is scaled to ``width``, or with ``height`` to that height (the demo's
    content | style | result, pictures of different shapes side by side).
    """
    if not tiles:
        raise EigenstyleError("nothing to put on a sheet")
    if height is None:
        thumbs = [im.resize((width, max(1, round(im.height * width / im.width))), Image.LANCZOS) for im, _ in tiles]
    else:
        thumbs = [im.resize((max(1, round(im.width * height / im.height)), height), Image.LANCZOS) for im, _ in tiles]
    labelled = any(label for _, label in tiles)
    cell_h = max(t.height for t in thumbs) + (22 if labelled else 0)
    cols = min(columns, len(tiles))
    rows = -(-len(tiles) // cols)
    col_w = [max(t.width for t in thumbs[c::cols]) for c in range(cols)]
    col_x = [gap + sum(col_w[:c]) + c * gap for c in range(cols)]
    sheet = Image.new("RGB", (sum(col_w) + (cols + 1) * gap, rows * (cell_h + gap) + gap), "white")
    draw, font = ImageDraw.Draw(sheet), _font(14)
    for i, (thumb, (_, label)) in enumerate(zip(thumbs, tiles)):
        x, y = col_x[i % cols], gap + (i // cols) * (cell_h + gap)
        sheet.paste(thumb, (x, y))
        if label:
            draw.text((x + 2, y + thumb.height + 3), label, fill="black", font=font)
    return sheet


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def genome_of(recipe: dict) -> dict:
    opts = recipe["options"]
    if opts.get("mode", "none") == "none":
        raise EigenstyleError("that image is a plain run (mode none): it has no variant to breed from")
    return opts.get("genome") or {"seed": opts["variant_seed"]}


@dataclass(frozen=True)
class Brood:
    """A validated request for variants: ``count`` new ones, children of a favourite (``mutate``: its
    genome, ``amount``) or points between two (``between``: their genomes, ``t``). The CLI, the
    studio and the API all build it with :meth:`of`, so they accept and refuse the same requests."""

    count: int = 4
    mutate: dict | None = None
    amount: float = 0.2
    between: tuple | None = None
    t: float = 0.5

    @classmethod
    def of(cls, count=4, *, parents: tuple = (), amount=0.2, t=0.5, max_count: int | None = None) -> "Brood":
        """From raw values (numbers, or text from a form); ``parents``: no recipe (new variants),
        one (its children) or two (variants between them, of the same mode)."""
        count, amount, t = (
            _read(name, v, kind)
            for name, v, kind in (("count", count, int), ("amount", amount, float), ("t", t, float))
        )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1 or (max_count and count > max_count):
            upto = f" and at most {max_count}" if max_count else ""
            raise EigenstyleError(f"{option_name('count')} must be >= 1{upto}, got {count!r}")
        for name, v in (("amount", amount), ("t", t)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:  # also refuses nan
                raise EigenstyleError(f"{option_name(name)} must be in [0, 1], got {v!r}")
        genomes = tuple(genome_of(r) for r in parents)
        if len(parents) == 2 and parents[0]["options"].get("mode") != parents[1]["options"].get("mode"):
            raise EigenstyleError(f"{option_name('between')} needs two variants of the same mode")
        if len(parents) > 2:
            raise EigenstyleError("give one parent (children) or two (between), not more")
        return cls(count, genomes[0] if len(parents) == 1 else None, amount, genomes if len(parents) == 2 else None, t)


def _read(name, value, kind):
    if isinstance(value, str):  # form fields arrive as text from some clients
        try:
            return parse(kind.__name__, value)
        except ValueError as e:
            raise EigenstyleError(f"{option_name(name)}: {e}") from None
    return value


def variant_options(base: Options, brood: Brood | int = 4) -> list[tuple[Options, str]]:
    """The options of each of the brood's variants, with a short label each."""
    if not isinstance(brood, Brood):
        brood = Brood.of(brood)
    count, mutate, amount, between, t = brood.count, brood.mutate, brood.amount, brood.between, brood.t
    base = resolve_seeds(base.replace(genome=None) if base.mode != "none" else base.replace(mode="variant"))
    start = base.variant_seed
    out = []
    for i in range(count):
        seed = start + i
        if mutate is not None:
            o = base.replace(variant_seed=seed, genome={"mutate": mutate, "seed": seed, "amount": amount})
            label = f"{base.mode} child {seed} (±{amount:g})"
        elif between is not None:
            tt = t if count == 1 else (i + 1) / (count + 1)
            o = base.replace(variant_seed=None, genome={"between": list(between), "t": tt})
            label = f"{base.mode} between t={tt:.2f}"
        else:
            o = base.replace(variant_seed=seed)
            label = f"{base.mode} seed {seed}"
        out.append((o.validate(), label))
    return out


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`run_all`: what was finished (and the running runs' current images) is
    written, with its sheet."""

    def __init__(self, tiles: list, sheet: Optional[str]):
        super().__init__()
        self.tiles, self.sheet = tiles, sheet


def run_all(
    content,
    styles,
    runs: list[tuple[Options, str]],
    out_dir: str,
    stem: str,
    *,
    overwrite: bool = False,
    progress: bool = True,
    columns: int = 4,
    batch_size: int = 1,
    executor: Optional[Executor] = None,
    sheet: bool = True,
) -> tuple[list[Tile], Optional[str]]:
    """Run each (options, label) through ``executor`` (default: this process); write images and a sheet.
    Consecutive runs that differ only in their Gram targets go through the network together,
    ``batch_size`` at a time (plan.batches, as the studio batches its jobs); coarse-to-fine runs go
    one at a time, every scale in turn (as ``reproduce`` runs them). Tiles come in the order the runs
    finish. A failed run (another machine's error) does not stop the others: after the sheet,
    one line says what failed."""
    if batch_size < 1:
        raise EigenstyleError(f"{option_name('batch_size')} must be >= 1, got {batch_size}")
    executor = executor or make("local")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise EigenstyleError(f"cannot create output folder {out_dir}: {e.strerror}") from None
    images.check_writable(os.path.join(out_dir, "sheet.jpg"))
    executor.check(Work(content, styles, [runs[0][0]]))  # bad inputs fail here, before anything is written
    multi = any(o.scales for o, _ in runs)
    taken: set = set()
    handles = []
    for group in [[run] for run in runs] if multi else batches(runs, batch_size, lambda run: run[0]):
        paths = [_output(out_dir, stem, label, overwrite, progress, taken) for _, label in group]
        work = Work(content, styles, [o for o, _ in group], outputs=paths)
        handles.append((executor.submit(work), [label for _, label in group]))
    tiles, errors = [], []
    try:
        for h in executor.completed([h for h, _ in handles], progress=progress):
            labels = next(ls for hh, ls in handles if hh is h)
            if h.error:
                errors.append(f"{labels[0]}: {h.error}")
            tiles += [Tile(path, label, r) for path, label, r in zip(h.work.outputs, labels, h.results or ())]
            if h.results and h.results[0].interrupted:  # Ctrl-C here: nothing after it runs
                executor.cancel_all([hh for hh, _ in handles], "interrupted")
    except KeyboardInterrupt:  # Ctrl-C while another machine ran them: what came back is written
        raise Interrupted(
            tiles, _sheet(tiles, out_dir, stem, overwrite, columns) if tiles and sheet else None
        ) from None
    sheet_path = _sheet(tiles, out_dir, stem, overwrite, columns) if tiles and sheet else None
    if errors:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        print(f"eigenstyle: error: {errors[0]}{more}", file=sys.stderr)
    return tiles, sheet_path


def _sheet(tiles: list, out_dir: str, stem: str, overwrite: bool, columns: int) -> str:
    path = os.path.join(out_dir, f"{stem}-sheet.jpg")
    path = path if overwrite else images.free_name(path)
    return images.save_atomic(contact_sheet([(t.result.image, t.label) for t in tiles], columns), path)


def _output(out_dir: str, stem: str, label: str, overwrite: bool, say: bool, taken: set) -> str:
    """A run's file, named after its label (the next free name unless ``overwrite``; never one that
    another run of this command was given)."""
    name = label.split(" (")[0].replace(" ", "-").replace("=", "")
    first = path = os.path.join(out_dir, f"{stem}-{name}.png")
    n = 0
    while path in taken or (not overwrite and images.name_taken(path)):
        n += 1
        path = f"{first[:-4]}-{n}.png"
    taken.add(path)
    if say:
        print(f"{label} -> {path}")
    return path


def layer_options(base: Options, layers, style_weight: float | None) -> list[tuple[Options, str]]:
    """One single-style-layer run per layer, same seeds; per-layer default weight."""
    base = resolve_seeds(base)
    out = []
    for layer in layers:
        o = base.replace(style_layers=(layer,), random_layers=None, style_weight=style_weight).validate()
        out.append((o, f"{layer} (weight {o.style_weight_value():g})"))
    return out
