"""Where --stop-at would end a run, and what it would cost: one full run's loss curve, and for each
threshold the iteration the rule stops at, the time saved and the loss there over the full run's.

The rule is the loop's (loop.STOP_WINDOW): stop at the first multiple of 10 iterations where every
image's total loss changed by less than the threshold's fraction over the last 10. The curve comes from one
run of ``--iterations`` (the API's per-iteration losses), so every threshold is read from the same run.
Results: docs/benchmarks.md ("--stop-at").

    python benchmarks/stop_at.py --size 256 --iterations 1000 --layers default
"""

import argparse
import os
import platform
import time

import torch

import eigenstyle
from eigenstyle.loop import STOP_WINDOW

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "images")
SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "eigenstyle", "samples")
THRESHOLDS = (0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002)


def stop_of(totals: dict, threshold: float, last: int) -> int:
    """The iteration the loop's rule stops at (``last`` if it never does)."""
    for it in range(2 * STOP_WINDOW, last, STOP_WINDOW):
        if abs(totals[it - STOP_WINDOW] - totals[it]) < threshold * abs(totals[it]):
            return it
    return last


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--content", default=os.path.join(SAMPLES, "tubingen.jpg"))
    ap.add_argument("--style", default=os.path.join(SAMPLES, "starry_night.jpg"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--layers", default="default", help="style layers, or 'default' (the five)")
    ap.add_argument("--mode", default="none")
    args = ap.parse_args()
    extra = {} if args.layers == "default" else {"style_layers": args.layers}
    totals, seconds = {}, {}

    def watch(info):
        totals[info.iteration], seconds[info.iteration] = info.loss[0], info.elapsed

    start = time.perf_counter()
    r = eigenstyle.stylize(
        args.content, args.style, size=args.size, iterations=args.iterations, seed=1, mode=args.mode,
        variant_seed=1, print_every=0, progress=False, callback=watch, **extra,
    )  # fmt: skip
    wall, final = time.perf_counter() - start, r.recipe["losses"]["total"]
    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.processor() or platform.machine()} ({os.cpu_count()} cores), "
        f"torch {torch.__version__}; {os.path.basename(args.content)} + {os.path.basename(args.style)}, "
        f"{args.size} px, layers {args.layers}, mode {args.mode}, {args.iterations} iterations in {wall:.0f} s; "
        f"final loss {final:.4g}\n"
    )
    print("| --stop-at | stops at | time there (s) | of the full run's time | loss there / final loss |")
    print("|---:|---:|---:|---:|---:|")
    for th in THRESHOLDS:
        it = stop_of(totals, th, args.iterations)
        print(f"| {th:g} | {it} | {seconds[it]:.0f} | {seconds[it] / seconds[args.iterations]:.2f} | "
              f"{totals[it] / final:.3f} |")  # fmt: skip
    for within in (1.05, 1.02):
        it = next((i for i in sorted(totals) if totals[i] <= within * final), None)
        there = f"{it} ({seconds[it]:.0f} s)" if it else "not before the end"
        print(f"\nFirst iteration within {within:.2f}x the final loss: {there}", end="")
    print()


if __name__ == "__main__":
    main()
