"""Does each randomisation mode do what it says? A measured table and the README gallery.

At fixed settings on the sample images, runs 4 plain results that differ only in the start-image
seed, 4 variants, 4 fantasy and 4 random results (variant seeds 0..3, same start seed), then reports:

* diversity: mean pairwise pixel distance (mean |a − b| over RGB, 0–255) within each group of 4, at full
  resolution and after an 8× box downscale (colour and layout, without the stroke positions that any
  two random starts already place differently) — variants must be far more diverse than plain runs that
  differ only in their noise;
* reach: the relative Gram error ‖G(x) − G'‖ / ‖G'‖ each mode's result reaches against its own target,
  the share of negative entries in G' (out of a ReLU network's reach), and the image's std (bleakness).

It also writes the README gallery: plain, 4 variants, 2 fantasy, 1 random, raw (top row) and with
level adjustment (bottom row).

    python benchmarks/modes.py [--size 192] [--iterations 200] [--layer relu3_2] \
        [--table docs/modes.md] [--gallery docs/gallery-raw.jpg]
"""

import argparse
import datetime
import itertools
import os
import platform
import time

import numpy as np
import torch

from eigenstyle import Options, __version__
from eigenstyle.explore import contact_sheet
from eigenstyle.levels import stretch
from eigenstyle.loop import initial_image, optimise
from eigenstyle.losses import gram
from eigenstyle.problem import prepare, vary
from eigenstyle.targets import to_pil

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, "..", "..", "shared", "images")


def run_one(base, opts):
    problem = vary(base, opts)
    x = optimise(problem, initial_image(problem, opts.seed)).x
    layer = opts.style_layers[0]
    with torch.no_grad():
        g = gram(problem.net(x)[layer])
    target = problem.targets.style[layer]
    rel = float(torch.linalg.matrix_norm(g - target) / torch.linalg.matrix_norm(target))
    raw = to_pil(x, problem.pre)[0]
    neg = problem.report.get(layer, {}).get("negative_fraction", float((target < 0).double().mean()))
    return raw, rel, neg


def mean_pairwise(images, factor=1):
    if factor > 1:
        images = [im.reduce(factor) for im in images]
    arrs = [np.asarray(im, dtype=np.float64) for im in images]
    return float(np.mean([np.abs(a - b).mean() for a, b in itertools.combinations(arrs, 2)]))


def palette_distances(images):
    """Mean pairwise distance of mean colours (0-255) and of 4×4×4 colour histograms (L1, 0-2):
    another palette of the same style shows here, stroke positions do not."""
    pix = [np.asarray(im.convert("RGB"), dtype=np.float64).reshape(-1, 3) for im in images]
    means = [p.mean(0) for p in pix]
    hists = [np.histogramdd(p, bins=(4, 4, 4), range=[(0, 256)] * 3)[0].ravel() / len(p) for p in pix]
    pairs = list(itertools.combinations(range(len(pix)), 2))
    return (
        float(np.mean([np.abs(means[i] - means[j]).mean() for i, j in pairs])),
        float(np.mean([np.abs(hists[i] - hists[j]).sum() for i, j in pairs])),
    )


def analyze(folder):
    """Image-only metrics of results saved with --keep (no re-run)."""
    from PIL import Image

    groups = {}
    for name in sorted(os.listdir(folder)):
        if name.endswith(".png"):
            groups.setdefault(name.rsplit("-", 1)[0], []).append(Image.open(os.path.join(folder, name)))
    base = groups["plain"]
    ref = (mean_pairwise(base), mean_pairwise(base, 8)) + palette_distances(base)
    print("| group of 4 | pixel distance | at 1/8 scale | mean-colour distance | colour-histogram distance |")
    print("|---|---|---|---|---|")
    for name, ims in groups.items():
        vals = (mean_pairwise(ims), mean_pairwise(ims, 8)) + palette_distances(ims)
        print(f"| {name} | " + " | ".join(f"{v:.3g} ({v / r:.1f}×)" for v, r in zip(vals, ref)) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--content", default=os.path.join(SHARED, "content", "tubingen.jpg"))
    ap.add_argument("--style", default=os.path.join(SHARED, "style", "starry_night.jpg"))
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--layer", default="relu3_2")
    ap.add_argument("--table", help="write the markdown table here")
    ap.add_argument("--gallery", help="write the gallery JPEG here")
    ap.add_argument("--keep", help="also save every raw result in this folder")
    ap.add_argument("--analyze", metavar="DIR", help="only print image metrics of results kept in DIR")
    args = ap.parse_args()
    if args.analyze:
        return analyze(args.analyze)

    common = Options(
        size=args.size, iterations=args.iterations, style_layers=(args.layer,), seed=0, print_every=0
    ).validate()
    common = common.replace(style_weight=common.style_weight_value())
    base = prepare(args.content, args.style, common)
    groups = {
        "plain (init seeds 0-3)": [common.replace(seed=s) for s in range(4)],
        "variant": [common.replace(mode="variant", variant_seed=s) for s in range(4)],
        "fantasy": [common.replace(mode="fantasy", variant_seed=s) for s in range(4)],
        "random": [common.replace(mode="random", variant_seed=s) for s in range(4)],
    }
    rows, raws = [], {}
    started = time.perf_counter()
    for name, runs in groups.items():
        out = [run_one(base, o) for o in runs]
        raws[name] = [r[0] for r in out]
        stds = [float(np.asarray(r[0], dtype=np.float64).std()) for r in out]
        if args.keep:
            os.makedirs(args.keep, exist_ok=True)
            for i, im in enumerate(raws[name]):
                im.save(os.path.join(args.keep, f"{name.split()[0]}-{i}.png"))
        rows.append(
            (
                name,
                mean_pairwise(raws[name]),
                mean_pairwise(raws[name], 8),
                *palette_distances(raws[name]),
                np.mean([r[1] for r in out]),
                np.mean([r[2] for r in out]),
                np.mean(stds),
            )
        )
        print(f"{name}: {rows[-1][1:]}  ({time.perf_counter() - started:.0f} s)", flush=True)

    ref = rows[0][1:5]
    lines = [
        f"Measured {datetime.date.today()} on {platform.machine()} ({os.cpu_count()} cores), eigenstyle "
        f"{__version__}, torch {torch.__version__}: `python benchmarks/modes.py --size {args.size} "
        f"--iterations {args.iterations} --layer {args.layer}` (content {os.path.basename(args.content)}, "
        f"style {os.path.basename(args.style)}, style weight {common.style_weight:g}, "
        f"{time.perf_counter() - started:.0f} s).",
        "",
        "| group of 4 | pixel distance | at 1/8 scale | mean-colour distance | colour-histogram distance "
        "| relative Gram error ‖G(x)−G'‖/‖G'‖ | negative entries in G' | image std |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, *vals, rel, neg, std in rows:
        lines.append(
            f"| {name} | "
            + " | ".join(f"{v:.3g} ({v / r:.1f}×)" for v, r in zip(vals, ref))
            + f" | {rel:.3f} | {neg:.3f} | {std:.1f} |"
        )
    table = "\n".join(lines)
    print(table)
    if args.table:
        with open(args.table, "w", encoding="utf-8") as f:
            f.write("# What each mode does, measured\n\n" + table + "\n")
    if args.gallery:
        picks = [("plain", raws["plain (init seeds 0-3)"][0])]
        picks += [(f"variant {i}", im) for i, im in enumerate(raws["variant"])]
        picks += [(f"fantasy {i}", im) for i, im in enumerate(raws["fantasy"][:2])]
        picks += [("random 0", raws["random"][0])]
        tiles = [(im, f"{label} raw") for label, im in picks] + [
            (stretch(im, 0.5), f"{label} levels") for label, im in picks
        ]
        sheet = contact_sheet(tiles, columns=8, width=192)
        sheet.save(args.gallery, quality=82, optimize=True)
        print(f"wrote {args.gallery} ({os.path.getsize(args.gallery) // 1024} KB)")


if __name__ == "__main__":
    main()
