"""Tiles worth choosing by: the studio's tiles, scored as an artist would look at them (issue 35).

A tile is the small picture an artist picks a variant by; what it shows must hold when it is rendered large.
Per pair, the runs the studio's Generate makes (its settings, eigenstyle.studio.actions.STUDIO, with
--config overrides; variant seeds 1..N) and a plain tile at the same settings, scored:

* edges: correlation of the tile's edges with the photograph's (a legible picture, not a blur of colour);
* stroke ×: the tile's share of big strokes (quality.stroke_scale) over the plain tile's;
* border: the mean luminance of the outer 4 px band over the interior's, as a ratio to the photograph's own
  (a dark frame that the run adds is below 1; a photograph darker at its edges is not counted against it).

Bounds: edges >= 0.5, stroke >= 0.7x, border within 0.95-1.05. Say which CPU (lscpu) with the times.

Novelty (issue 48, quality.novelty): each tile's style distance from the plain tile, and the four tiles' mean
pairwise distance (tile div), as shares of the distance from the plain tile to a plain tile of another painting
(--other) at the same settings; ``--config article:keep_top=0,palette_turn=0,target=raw,random_layers=all``
gives the article's own variants at the tiles' settings, the yardstick.

An experiment on the border (docs/quality.md), not an option of the package: ``--pad reflect`` (or replicate)
makes every convolution of the run pad so instead of with zeros. The studio's own remedy is the option
``margin`` (``--config m0:margin=0`` measures the tiles without it).

    python benchmarks/tiles.py --pair tubingen:starry_night --pair chelsea:the_scream \
        --config studio: --config big:size=192
"""

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from quality import (  # noqa: E402
    descriptor,
    edge_correlation,
    find,
    luminance,
    pairwise,
    parse_config,
    stroke_scale,
    style_distance,
)

from eigenstyle import engine  # noqa: E402
from eigenstyle.images import fit_size, load_rgb, resize  # noqa: E402
from eigenstyle.problem import prepare, vary  # noqa: E402
from eigenstyle.studio.actions import STUDIO  # noqa: E402

BOUNDS = {"edges": (0.5, None), "stroke": (0.7, None), "border": (0.95, 1.05)}
REPORTED = (*BOUNDS, "novelty", "tilediv")  # novelty's bound is the article's variants' (issue 48), in the same run


def border(im, band: int = 4) -> float:
    """Mean luminance of the outer ``band`` px over that of the rest: a dark frame is below 1."""
    a = luminance(im)
    inner = a[band:-band, band:-band]
    outer_sum = a.sum() - inner.sum()
    return float((outer_sum / (a.size - inner.size)) / max(inner.mean(), 1e-12))


def score(photo, im) -> dict:
    return {
        "edges": edge_correlation(luminance(photo), luminance(im)),
        "stroke": stroke_scale(im),
        "border": border(im) / border(photo),
    }


def pad_convolutions(mode: str) -> None:
    """The experiment --pad: every 3x3 convolution of the run pads by ``mode`` (reflect, replicate) instead of
    zeros (the swatch's periodic network still wraps round)."""
    import torch
    import torch.nn.functional as F

    from eigenstyle.vgg import network, winograd

    def forward(self, x):
        out = {}
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            for name, layer in zip(self.names, self.layers):
                if isinstance(layer, (winograd.WinogradConv2d, torch.nn.Conv2d)):
                    if self.circular:
                        x = winograd.direct(x, layer.weight, layer.bias, circular=True)
                    else:
                        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode=mode), layer.weight, layer.bias)
                else:
                    x = layer(x)
                if name in self.wanted:
                    out[name] = x.float() if self.bf16 else x
        return out

    network.VGG.forward = forward


def tiles(content, style, opts, seeds, mode):
    """The tiles of one Generate: one batch, as the studio runs it; (images, seconds)."""
    base = prepare(content, [style], opts.replace(mode="none"))
    problems = [vary(base, opts.replace(mode=mode, variant_seed=s)) for s in seeds]
    started = time.perf_counter()
    results = engine.run_batch(problems)
    return [r.image for r in results], time.perf_counter() - started


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", action="append", help="CONTENT:STYLE names in shared/images (repeat)")
    ap.add_argument("--config", action="append", help="NAME:key=value,... overrides of the studio's settings")
    ap.add_argument("--mode", default="variant")
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--keep", help="save each config's tiles here (PNG)")
    ap.add_argument("--other", default="the_scream", help="novelty's yardstick: a plain tile of this painting")
    ap.add_argument("--pad", choices=("reflect", "replicate"), help="experiment: convolutions pad so, not with zeros")
    args = ap.parse_args()
    if args.pad:
        pad_convolutions(args.pad)
    pairs = [p.split(":") for p in (args.pair or ["tubingen:starry_night"])]
    configs = [parse_config(c) for c in (args.config or ["studio:"])]
    rows = []
    for name, over in configs:
        layers = over.get("style_layers", STUDIO.style_layers)
        over = {k: (layers if v == "all" else v) for k, v in over.items()}  # random_layers=all: every style layer
        opts = STUDIO.replace(print_every=0, **over).validate()
        per_pair, seconds = [], []
        for content_name, style_name in pairs:
            content, style = find(content_name, "content"), find(style_name, "style")
            photo = resize(load_rgb(content), fit_size(*load_rgb(content).size, opts.size))
            (plain,), _ = tiles(content, style, opts, [0], "none")
            ims, secs = tiles(content, style, opts, range(1, args.count + 1), args.mode)
            other = args.other if args.other != style_name else "starry_night"
            (yardstick,), _ = tiles(content, find(other, "style"), opts, [0], "none")
            described, plain_style = [descriptor(im) for im in ims], descriptor(plain)
            reference = style_distance(plain_style, descriptor(yardstick))
            tilediv = pairwise(described, style_distance) / reference
            seconds.append(secs)
            ref = stroke_scale(plain)
            scores = [score(photo, im) for im in ims]
            for s, d in zip(scores, described):
                s["stroke"] /= ref
                s["novelty"] = style_distance(d, plain_style) / reference
                s["tilediv"] = tilediv  # the pair's, on every tile's row
            per_pair.append(scores)
            print(f"{name} {content_name}/{style_name}: plain edges {score(photo, plain)['edges']:.2f}, "
                  f"border {border(plain) / border(photo):.3f}; " + "; ".join(
                      " ".join(f"{k} {v:.2f}" for k, v in s.items()) for s in scores) + f"; {secs:.1f} s",
                  flush=True)  # fmt: skip
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                for i, im in enumerate([plain, *ims]):
                    im.save(os.path.join(args.keep, f"{name}-{content_name}-{i}.png"))
        flat = [s for scores in per_pair for s in scores]
        row = {k: (min(s[k] for s in flat), float(np.mean([s[k] for s in flat])), max(s[k] for s in flat))
               for k in REPORTED}  # fmt: skip
        miss = [k for k, (lo, hi) in BOUNDS.items() if (lo and row[k][0] < lo) or (hi and row[k][2] > hi)]
        rows.append((name, row, float(np.mean(seconds)), miss))
    print(
        "\n| config | edges (min-max) | stroke × (min-max) | border (min-max) | novelty (min-max) | tile div "
        "(min-max) | s per Generate | misses |"
    )
    print("|---|---|---|---|---|---|---:|---|")
    for name, row, secs, miss in rows:
        cells = " | ".join(f"{row[k][1]:.2f} ({row[k][0]:.2f}-{row[k][2]:.2f})" for k in REPORTED)
        print(f"| {name} | {cells} | {secs:.1f} | {', '.join(miss) or 'none'} |")


if __name__ == "__main__":
    main()
