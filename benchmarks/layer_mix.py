"""Per-layer style weights (--style-layer-weights): what a layer at 0 costs, and the sheet of a cross-fade.

Seconds per iteration, in one run on this machine, of: one style layer alone; the same with a deeper layer
at factor 0 (not computed: the target is the first's time); both at 1 (the deeper layer's own cost). Then,
with ``--sheet DIR``, the README's sheet: relu3_2 : relu3_3 from 1:0 to 0:1 (``eigenstyle sweep --mixes``).

    python benchmarks/layer_mix.py [--size 256] [--iterations 40] [--deep relu5_1] [--sheet DIR]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from eigenstyle import Options
from eigenstyle.demo import sample
from eigenstyle.loop import initial_image, optimise
from eigenstyle.problem import prepare


def per_iteration(opts: Options, repeats: int = 3) -> float:
    """The median seconds per iteration of ``opts``' optimisation alone (prepared once, run ``repeats`` times)."""
    p = prepare(sample("tubingen.jpg"), [sample("starry_night.jpg")], opts)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        out = optimise(p, initial_image(p, 1), [])
        times.append((time.perf_counter() - started) / out.done)
    return sorted(times)[len(times) // 2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=40)
    ap.add_argument("--layer", default="relu3_2")
    ap.add_argument("--deep", default="relu5_1", help="the deeper layer set to 0 (past the content layer relu4_2)")
    ap.add_argument("--sheet", default=None, help="also make the relu3_2:relu3_3 sheet in this folder")
    args = ap.parse_args()
    base = Options(size=args.size, iterations=args.iterations, seed=1, print_every=0)
    alone = per_iteration(base.replace(style_layers=(args.layer,)))
    zero = per_iteration(base.replace(style_layers=(args.layer, args.deep), style_layer_weights=(1.0, 0.0)))
    both = per_iteration(base.replace(style_layers=(args.layer, args.deep), style_layer_weights=(1.0, 1.0)))
    print(f"| run | s/iter | over {args.layer} alone |")
    print("|---|---:|---:|")
    for label, t in ((f"{args.layer} alone", alone), (f"{args.layer},{args.deep} at 1,0", zero),
                     (f"{args.layer},{args.deep} at 1,1", both)):  # fmt: skip
        print(f"| {label} | {t:.3f} | {t / alone:.2f} |", flush=True)
    if args.sheet:
        subprocess.run(
            [sys.executable, "-m", "eigenstyle.cli", "sweep", sample("tubingen.jpg"), sample("starry_night.jpg"),
             "--style-layers", "relu3_2,relu3_3", "--modes", "none", "--mixes", "1:0,0.75:0.25,0.5:0.5,0.25:0.75,0:1",
             "--size", str(args.size), "--iterations", "200", "--seed", "1", "-o", args.sheet, "--overwrite"],
            check=True,
        )  # fmt: skip


if __name__ == "__main__":
    main()
