"""The quality cost of a fast path: the same run in fp32 with direct convolutions, and with
another precision or convolution algorithm.

    python benchmarks/precision.py [--size 128] [--iterations 100] [--precision bf16] [--conv direct]
                                   [--seeds 1] [--device auto]

Same content, style, seed and settings (neural-style's defaults); prints wall time, final
losses (all scored by one fp32, direct evaluator, so only the optimisation path differs) and the
image difference, per seed. On a CPU without bf16 units bf16 is emulated and slow; the losses are
still meaningful. ``--precision fp32 --conv winograd`` measures the Winograd convolutions.
"""

import argparse
import os
import time

import numpy as np
import torch

from eigenstyle import Options
from eigenstyle.engine import stylize
from eigenstyle.loop import evaluate
from eigenstyle.problem import prepare
from eigenstyle.targets import to_tensor

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "eigenstyle", "samples")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--precision", default="bf16")
    ap.add_argument("--conv", default="direct", choices=("direct", "winograd"))
    ap.add_argument("--seeds", type=int, default=1, help="repeat with seeds 0..N-1")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    content, style = os.path.join(SAMPLES, "tubingen.jpg"), os.path.join(SAMPLES, "starry_night.jpg")
    base = Options(
        size=args.size,
        iterations=args.iterations,
        seed=0,
        print_every=0,
        device=args.device,
        precision="fp32",
        conv="direct",
    ).validate()
    judge = prepare(content, style, base)  # one fp32, direct evaluator for every image
    fast = f"{args.precision}, {args.conv}"
    print(
        f"| seed | run ({args.size} px, {args.iterations} it, {judge.device.type}) | wall s | total loss (judge) "
        "| content | style |"
    )
    print("|---|---|---:|---:|---:|---:|")
    ratios, diffs = [], []
    for seed in range(args.seeds):
        rows = []
        for name, opts in (
            ("fp32, direct", base.replace(seed=seed)),
            (fast, base.replace(seed=seed, precision=args.precision, conv=args.conv)),
        ):
            t = time.perf_counter()
            r = stylize(content, style, opts)
            secs = time.perf_counter() - t
            x = to_tensor(r.image, judge.pre, judge.device)
            with torch.no_grad():
                loss = {k: float(v[0]) for k, v in evaluate(judge, x).items()}
            rows.append((name, secs, loss, np.asarray(r.image, np.int16)))
            print(
                f"| {seed} | {name} | {secs:.1f} | {loss['total']:.4g} | {loss['content']:.4g} | {loss['style']:.4g} |",
                flush=True,
            )
        (_, _, a, ia), (_, _, b, ib) = rows
        ratios.append(b["total"] / a["total"])
        diffs.append(np.abs(ia - ib))
    d = np.concatenate([x.ravel() for x in diffs])
    print(
        f"\n{fast}: final loss {', '.join(f'{r:.4f}' for r in ratios)}x that of fp32, direct (per seed); "
        f"image difference: mean {d.mean():.2f}, 99th percentile {np.percentile(d, 99):.0f}, max {d.max()} "
        "levels of 255"
    )


if __name__ == "__main__":
    main()
