"""Batched variants against the same variants run one at a time.

    python benchmarks/batched.py [--size 256] [--count 8] [--iterations 50] [--layers relu3_2]

One prepare (network, style Grams), then ``--count`` variants (variant seeds 1..N) through
``engine.run_batch`` one at a time, and the same N through ``engine.run_batch`` as one batch.
Prints wall times, throughput ratio, and how far each batched image is from its single run
(max and mean absolute pixel difference, final-loss ratio).
"""

import argparse
import os
import time

import numpy as np

from eigenstyle import Options
from eigenstyle.engine import run_batch
from eigenstyle.problem import prepare, resolve_seeds, vary

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "eigenstyle", "samples")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--count", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument("--layers", default="relu3_2", help="style layers (default: a single layer, as explored)")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    base = resolve_seeds(
        Options(
            size=args.size,
            iterations=args.iterations,
            seed=0,
            print_every=0,
            mode="variant",
            variant_seed=1,
            device=args.device,
            style_layers=tuple(args.layers.split(",")),
        ).validate()
    )
    problem = prepare(os.path.join(SAMPLES, "tubingen.jpg"), os.path.join(SAMPLES, "starry_night.jpg"), base)
    problems = [vary(problem, base.replace(variant_seed=i + 1)) for i in range(args.count)]
    run_batch(problems[:1])  # warm-up (allocator, kernels), not timed
    t = time.perf_counter()
    single = [run_batch([p])[0] for p in problems]
    t_single = time.perf_counter() - t
    t = time.perf_counter()
    batch = run_batch(problems)
    t_batch = time.perf_counter() - t
    diffs = [np.abs(np.asarray(a.image, np.int16) - np.asarray(b.image, np.int16)) for a, b in zip(single, batch)]
    ratios = [b.recipe["losses"]["total"] / a.recipe["losses"]["total"] for a, b in zip(single, batch)]
    n_it = args.count * args.iterations
    print(
        f"| {args.count} variants, {args.size} px, {args.iterations} iterations, {args.layers} | wall s | "
        "image-iterations / s |"
    )
    print("|---|---:|---:|")
    print(f"| one at a time | {t_single:.1f} | {n_it / t_single:.2f} |")
    print(f"| one batch of {args.count} | {t_batch:.1f} | {n_it / t_batch:.2f} |")
    print(
        f"\nbatched throughput {t_single / t_batch:.2f}x sequential; batched vs single images: max pixel "
        f"difference {max(d.max() for d in diffs)}, mean {np.mean([d.mean() for d in diffs]):.3f} levels; "
        f"final loss ratio {min(ratios):.4f}..{max(ratios):.4f}"
    )


if __name__ == "__main__":
    main()
