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
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from . import images
from .engine import Result, batchable, prepare, resolve_seeds, run_batch, vary
from .errors import EigenstyleError
from .options import Options


@dataclass
class Tile:
    path: str
    label: str
    result: Result


def contact_sheet(tiles: list[tuple[Image.Image, str]], columns: int = 4, width: int = 256,
                  gap: int = 6, *, height: int | None = None) -> Image.Image:
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


def variant_options(base: Options, count: int, *, mutate: dict | None = None, amount: float = 0.2,
                    between: tuple | None = None, t: float = 0.5) -> list[tuple[Options, str]]:
    """The options of each of ``count`` variants, with a short label each."""
    if count < 1:
        raise EigenstyleError(f"--count must be >= 1, got {count}")
    base = resolve_seeds(base.replace(genome=None) if base.mode != "none" else base.replace(mode="variant"))
    start = base.variant_seed
    out = []
    for i in range(count):
        seed = start + i
        if mutate is not None:
            if not 0 <= amount <= 1:
                raise EigenstyleError(f"--amount must be in [0, 1], got {amount}")
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


def run_all(content, styles, runs: list[tuple[Options, str]], out_dir: str, stem: str, *,
            overwrite: bool = False, progress: bool = True, columns: int = 4,
            batch_size: int = 1) -> tuple[list[Tile], str]:
    """Run each (options, label) on one prepared problem; write images and a sheet.
    Consecutive runs that differ only in their Gram targets go through the network
    together, ``batch_size`` at a time."""
    if batch_size < 1:
        raise EigenstyleError(f"--batch-size must be >= 1, got {batch_size}")
    first = runs[0][0]
    # Bad inputs fail here, before anything is written. Prepared plain (mode none): each run's
    # randomisation and swatch are made by vary() below, not twice for the first run.
    problem = prepare(content, styles, first.replace(mode="none"))
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise EigenstyleError(f"cannot create output folder {out_dir}: {e.strerror}") from None
    images.check_writable(os.path.join(out_dir, "sheet.jpg"))
    batches = []
    for opts, label in runs:
        if batches and len(batches[-1]) < batch_size and batchable(batches[-1][0][0], opts):
            batches[-1].append((opts, label))
        else:
            batches.append([(opts, label)])
    tiles = []
    for batch in batches:
        opts = batch[0][0]
        if tuple(opts.style_layers) != tuple(problem.opts.style_layers) or opts.style_scale != first.style_scale:
            problem = prepare(content, styles, opts.replace(mode="none"))
        paths = []
        for _, label in batch:
            name = label.split(" (")[0].replace(" ", "-").replace("=", "")
            path = os.path.join(out_dir, f"{stem}-{name}.png")
            paths.append(path if overwrite else images.free_name(path))
            if progress:
                print(f"{label} -> {paths[-1]}")
        results = run_batch([vary(problem, o) for o, _ in batch], progress=progress, outputs=paths)
        tiles += [Tile(path, label, r) for path, (_, label), r in zip(paths, batch, results)]
        if results[0].interrupted:
            break
    sheet_path = os.path.join(out_dir, f"{stem}-sheet.jpg")
    sheet_path = sheet_path if overwrite else images.free_name(sheet_path)
    images.save_atomic(contact_sheet([(t.result.image, t.label) for t in tiles], columns), sheet_path)
    return tiles, sheet_path


def layer_options(base: Options, layers, style_weight: float | None) -> list[tuple[Options, str]]:
    """One single-style-layer run per layer, same seeds; per-layer default weight."""
    base = resolve_seeds(base)
    out = []
    for layer in layers:
        o = base.replace(style_layers=(layer,), random_layers=None, style_weight=style_weight).validate()
        o = o.replace(style_weight=o.style_weight_value())
        out.append((o, f"{layer} (weight {o.style_weight:g})"))
    return out
