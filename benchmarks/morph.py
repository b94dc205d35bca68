"""Style in motion, measured (issue 36): flicker, true endpoints and cost of `eigenstyle morph`.

Per pair: two favourites (variants of seeds 1 and 2, from noise, the command line's defaults at --size and
--iterations), timed as stills; then, in one run:

* still: a morph from the first favourite to itself (the target does not move): the mean absolute change per
  frame after the first few (bound <= 1/255);
* morph: from the first favourite to the second: the per-frame change's coefficient of variation (<= 0.5) and
  its largest step over the median (<= 3); the first and last frames against the favourites (<= 3/255);
* walk (--walk): the first favourite's walk, the same two measures;
* cost: a frame's iterations over a still's (<= 0.25) and the morph's time over a still's (<= 15 at 48 frames).

--layer-morph A,B measures a layer morph instead: plain favourites at the single layers A and B (the walk then
has no genome to mutate: leave --walk out). Say which CPU (lscpu) with the times. --keep DIR writes each morph
as an animated WebP and a contact sheet.

    python benchmarks/morph.py --pair tubingen:starry_night --size 256 --iterations 200 --frames 48
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from quality import find, parse_config  # noqa: E402

from eigenstyle import Options, stylize  # noqa: E402
from eigenstyle import morph as motion  # noqa: E402
from eigenstyle.explore import contact_sheet  # noqa: E402

BOUNDS = {"still": 1.0, "cv": 0.5, "step": 3.0, "ends": 3.0, "share": 0.25, "cost48": 15.0}


def changes(pictures) -> np.ndarray:
    """Mean absolute difference (0-255 levels) between consecutive frames."""
    a = [np.asarray(p, dtype=np.float64) for p in pictures]
    return np.array([np.abs(a[i + 1] - a[i]).mean() for i in range(len(a) - 1)])


def flow(pictures) -> dict:
    d = changes(pictures)
    med = float(np.median(d))
    return {"cv": float(d.std() / max(d.mean(), 1e-12)), "step": float(d.max() / max(med, 1e-12)), "median": med}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pair", action="append", help="CONTENT:STYLE names in shared/images (repeat)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--frames", type=int, default=48, help="frames of the morph's leg")
    ap.add_argument("--still-frames", type=int, default=12, help="frames of the morph that stays still")
    ap.add_argument("--walk", type=int, default=0, help="also a walk of N steps (its legs --frames / (N+1))")
    ap.add_argument("--config", action="append", help="NAME:key=value,... over the morph's settings (Plan fields)")
    ap.add_argument("--layers", default=None, help="style layers of the favourites (default: the five)")
    ap.add_argument(
        "--layer-morph", metavar="A,B", help="a layer morph instead: plain favourites at single layers A and B"
    )
    ap.add_argument("--keep", help="write each morph here (WebP and a sheet)")
    args = ap.parse_args()
    folder = tempfile.mkdtemp(prefix="morph-")
    pairs = [p.split(":") for p in (args.pair or ["tubingen:starry_night"])]
    configs = [parse_config(c) for c in (args.config or ["default:"])]
    base = Options(size=args.size, iterations=args.iterations, mode="variant", seed=1, print_every=0)
    if args.layers:
        base = base.replace(style_layers=tuple(args.layers.split(",")))
    rows = []
    for content_name, style_name in pairs:
        content, style = find(content_name, "content"), find(style_name, "style")
        favs, still_s = [], []
        if args.layer_morph:  # the article's observation made visible: one single layer's strokes to another's
            ends = [base.replace(mode="none", style_layers=(name,)) for name in args.layer_morph.split(",")]
        else:
            ends = [base.replace(variant_seed=seed) for seed in (1, 2)]
        for seed, opts in enumerate(ends, 1):
            path = os.path.join(folder, f"{content_name}-{seed}.png")
            started = time.perf_counter()
            stylize(content, [style], opts, output=path)
            still_s.append(time.perf_counter() - started)
            favs.append(path)
        still = float(np.mean(still_s))
        print(f"{content_name}/{style_name}: a still {still:.1f} s ({args.size} px, {args.iterations} it)", flush=True)
        for name, over in configs:
            a, b = motion.keys_of(favs)
            row = {"config": name, "pair": content_name}
            plan = motion.Plan([a, a], frames=args.still_frames, **over)
            pics = motion.morph(plan)
            d = changes(pics)
            row["still"] = float(d[3:].max()) if len(d) > 3 else float(d.max())
            plan = motion.Plan([a, b], frames=args.frames, **over)
            started = time.perf_counter()
            pics = motion.morph(plan)
            seconds = time.perf_counter() - started
            fl = flow(pics)
            row.update(cv=fl["cv"], step=fl["step"], median=fl["median"])
            fav = [np.asarray(motion.Image.open(f).convert("RGB"), dtype=np.float64) for f in favs]
            row["ends"] = max(
                float(np.abs(np.asarray(pics[0], dtype=np.float64) - fav[0]).mean()),
                float(np.abs(np.asarray(pics[-1], dtype=np.float64) - fav[1]).mean()),
            )
            row["share"] = plan.iterations() / args.iterations
            row["cost"] = seconds / still
            row["cost48"] = row["cost"] * 48 / args.frames
            row["seconds"] = seconds
            d = changes(pics)
            print(f"  {name}: per-frame change " + " ".join(f"{v:.2f}" for v in d), flush=True)
            if args.walk:
                wplan = motion.Plan(
                    motion.walk_keys(a, args.walk, 0.2, 1),
                    frames=max(1, args.frames // (args.walk + 1)),
                    walk={"steps": args.walk, "amount": 0.2, "seed": 1},
                    **over,
                )
                wpics = motion.morph(wplan)
                wf = flow(wpics)
                row.update(walk_cv=wf["cv"], walk_step=wf["step"])
            if args.keep:
                os.makedirs(args.keep, exist_ok=True)
                stem = os.path.join(args.keep, f"{name}-{content_name}")
                motion.write(pics, stem + ".webp", 12, plan.recipe())
                contact_sheet([(p, str(i)) for i, p in enumerate(pics[:: max(1, len(pics) // 12)])], 6, 192).save(
                    stem + "-sheet.jpg"
                )
                if args.walk:
                    motion.write(wpics, stem + "-walk.webp", 12, wplan.recipe())
            print("  " + ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
            rows.append(row)
    print("\n| config | pair | still change | CV | step / median | ends | frame it share | cost (48 frames) | misses |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        miss = [k for k, bound in BOUNDS.items() if r[k] > bound]
        print(
            f"| {r['config']} | {r['pair']} | {r['still']:.2f} | {r['cv']:.2f} | {r['step']:.2f} | {r['ends']:.2f} | "
            f"{r['share']:.2f} | {r['cost48']:.1f} | {', '.join(miss) or 'none'} |"
        )


if __name__ == "__main__":
    main()
