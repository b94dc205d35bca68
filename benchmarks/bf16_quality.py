"""Is bf16 as good as fp32? Final loss of the same runs in both, over several seeds, and their pictures.

The studio's first look (and issue 23's default) may use bf16 only where its results are as good as
fp32's: final loss within 2 % over several seeds, and no visible difference at 1:1. This runs plain and
variant runs at the given sizes and layers in fp32 and bf16 (same seeds, same start) and prints each
final loss (both written pictures judged by the fp32 problem), their ratio, the mean |pixel difference|
between the two pictures and the seconds per iteration, on this CPU (say which: lscpu).

    python benchmarks/bf16_quality.py --size 128 --iterations 100 --seeds 3 --keep /tmp/bf16
"""

import argparse
import dataclasses
import os
import time

import numpy as np

from eigenstyle import Options, engine
from eigenstyle.demo import sample
from eigenstyle.errors import EigenstyleError
from eigenstyle.loop import evaluate
from eigenstyle.problem import prepare, vary
from eigenstyle.swatch import reach
from eigenstyle.targets import to_tensor
from eigenstyle.vgg.speed import hardware_bf16


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--layers", action="append", help="style layers, comma-separated, or 'default' (repeat)")
    ap.add_argument("--modes", default="none,variant")
    ap.add_argument("--keep", help="save both pictures of every run here")
    args = ap.parse_args()
    print(f"bf16 units on this CPU: {hardware_bf16(__import__('torch').device('cpu'))}")
    print(
        "| layers | mode | seed | fp32 loss | bf16 loss | bf16 / fp32 | mean abs pixel diff (0-255) "
        "| s/it fp32 | s/it bf16 |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    content, style = sample("tubingen.jpg"), sample("starry_night.jpg")
    for spec in args.layers or ["default", "relu3_2"]:
        layers = {} if spec == "default" else {"style_layers": tuple(spec.split(","))}
        bases = {
            p: prepare(
                content,
                [style],
                Options(
                    size=args.size, iterations=args.iterations, precision=p, conv="auto", print_every=0, **layers
                ).validate(),
            )
            for p in ("fp32", "bf16")
        }
        for mode in args.modes.split(","):
            for seed in range(1, args.seeds + 1):
                got = {}
                for p, base in bases.items():
                    o = base.opts.replace(seed=seed, mode=mode, variant_seed=seed if mode != "none" else None)
                    o = o.replace(init=o.init_value())
                    try:
                        problem = reach([vary(base, o)])[0]
                    except EigenstyleError as e:  # a diverged swatch: say so, and go on with the next seed
                        print(f"| {spec} | {mode} | {seed} | {p}: {e} |", flush=True)
                        break
                    started = time.perf_counter()
                    (r,) = engine.run_batch([problem])
                    got[p] = (r, (time.perf_counter() - started) / args.iterations, problem)
                    if args.keep:
                        os.makedirs(args.keep, exist_ok=True)
                        r.image.save(os.path.join(args.keep, f"{spec}-{mode}-{seed}-{p}.png"))
                if len(got) < 2:
                    continue
                (a, ta, _), (b, tb, _) = got["fp32"], got["bf16"]
                # one arithmetic for both: each written (8-bit) picture's loss against its own run's targets (a
                # randomised run's swatch, made in that run's precision), evaluated by the fp32 network
                fp32_net = got["fp32"][2].net
                la, lb = (
                    float(evaluate(dataclasses.replace(q, net=fp32_net), to_tensor(r.image, q.pre))["total"])
                    for r, q in ((a, got["fp32"][2]), (b, got["bf16"][2]))
                )
                diff = np.abs(np.asarray(a.image, dtype=float) - np.asarray(b.image, dtype=float)).mean()
                row = f"| {spec} | {mode} | {seed} | {la:.4g} | {lb:.4g} | {lb / la:.3f} | {diff:.1f} "
                row += f"| {ta:.3f} | {tb:.3f} |"
                print(row, flush=True)


if __name__ == "__main__":
    main()
