"""The quality cost of a precision: the same run in fp32 and in another precision.

    python benchmarks/precision.py [--size 128] [--iterations 100] [--precision bf16] [--device auto]

Same content, style, seed and settings (neural-style's defaults); prints wall time, final
losses (both scored by the fp32 evaluator, so only the optimisation path differs) and the
image difference. On a CPU without bf16 units bf16 is emulated and slow; the losses are
still meaningful.
"""
import argparse
import os
import time

import numpy as np
import torch

from eigenstyle import Options, engine
from eigenstyle.targets import to_tensor

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "eigenstyle", "samples")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--precision", default="bf16")
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    content, style = os.path.join(SAMPLES, "tubingen.jpg"), os.path.join(SAMPLES, "starry_night.jpg")
    opts = Options(size=args.size, iterations=args.iterations, seed=0, print_every=0, device=args.device).validate()
    judge = engine.prepare(content, style, opts)  # fp32 evaluator for both images
    rows = []
    for precision in ("fp32", args.precision):
        t = time.perf_counter()
        r = engine.stylize(content, style, opts.replace(precision=precision))
        secs = time.perf_counter() - t
        x = to_tensor(r.image, judge.pre, judge.device)
        with torch.no_grad():
            loss = {k: float(v[0]) for k, v in engine.evaluate(judge, x).items()}
        rows.append((precision, secs, loss, np.asarray(r.image, np.int16)))
    print(f"| precision ({args.size} px, {args.iterations} it, {judge.device.type}) | wall s | total loss (fp32 judge) "
          "| content | style |")
    print("|---|---:|---:|---:|---:|")
    for p, secs, loss, _ in rows:
        print(f"| {p} | {secs:.1f} | {loss['total']:.4g} | {loss['content']:.4g} | {loss['style']:.4g} |")
    (_, _, a, ia), (_, _, b, ib) = rows
    d = np.abs(ia - ib)
    print(f"\n{args.precision} final loss {b['total'] / a['total']:.4f}x fp32's; image difference: mean "
          f"{d.mean():.2f}, 99th percentile {np.percentile(d, 99):.0f}, max {d.max()} levels of 255")


if __name__ == "__main__":
    main()
