"""Loss reached per second: single-scale against coarse-to-fine at the same final size.

    python benchmarks/multiscale.py [--size 256] [--iterations 200] [--scales 128] [--fine 100]

Runs neural-style's defaults on the shared samples (tubingen, starry_night), same seed, and prints the
final loss of the written image, wall time, and loss × seconds-to-reach ratios. Single-scale runs
--iterations at --size; multi-scale runs --iterations at each of --scales, then --fine at --size.
"""

import argparse
import os
import time

import eigenstyle

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "images")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--scales", default="128")
    ap.add_argument("--fine", type=int, default=100)
    args = ap.parse_args()
    content = os.path.join(SHARED, "content", "tubingen.jpg")
    style = os.path.join(SHARED, "style", "starry_night.jpg")
    scales = tuple(int(s) for s in args.scales.split(","))
    rows = []
    for name, kw in [
        ("single-scale", dict(iterations=args.iterations)),
        (
            f"scales {args.scales} then {args.size}",
            dict(iterations=args.fine, scales=scales, scale_iterations=args.iterations),
        ),
    ]:
        t = time.perf_counter()
        r = eigenstyle.stylize(content, style, size=args.size, seed=0, print_every=0, **kw)
        rows.append((name, time.perf_counter() - t, r.recipe["losses"]))
    print(f"| run ({args.size} px) | wall s | final total loss | content | style |")
    print("|---|---:|---:|---:|---:|")
    for name, secs, loss in rows:
        print(f"| {name} | {secs:.1f} | {loss['total']:.4g} | {loss['content']:.4g} | {loss['style']:.4g} |")
    (_, t1, l1), (_, t2, l2) = rows
    print(f"\nmulti-scale: {t1 / t2:.2f}x faster, final loss {l2['total'] / l1['total']:.3f}x single-scale's")


if __name__ == "__main__":
    main()
