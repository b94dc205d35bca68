"""Large images: peak memory and seconds per iteration, tiled against untiled, on this machine.

Each configuration runs in its own process (the peak resident memory of a process is what a user
sees), a few L-BFGS iterations on the shared Tübingen + The Starry Night at the five default style
layers, and reports its peak RSS and the loop's seconds per iteration (from the recipe, without the
preparation). Ratios are tiled over untiled at the same size.

    python benchmarks/large.py --sizes 512,1024 --tiles 256 --iterations 3
"""

import argparse
import json
import os
import resource
import subprocess
import sys

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "images")
CHILD = """
import json, resource, sys, time
import eigenstyle
size, tile, iterations = int(sys.argv[1]), int(sys.argv[2]) or None, int(sys.argv[3])
r = eigenstyle.stylize(sys.argv[4], sys.argv[5], size=size, tile=tile, iterations=iterations, seed=1,
                       print_every=0, max_memory=1024.0)
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "s_per_iter": r.recipe["elapsed_s"] / max(1, r.recipe["iterations_done"]),
                  "loss": r.recipe["losses"]["total"]}))
"""


def run(size, tile, iterations):
    content = os.path.join(SHARED, "content", "tubingen.jpg")
    style = os.path.join(SHARED, "style", "starry_night.jpg")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(size), str(tile or 0), str(iterations), content, style],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="512,1024")
    ap.add_argument("--tiles", default="256", help="tile sides to compare with the untiled run")
    ap.add_argument("--iterations", type=int, default=3)
    args = ap.parse_args()
    print("| size | tile | peak RSS (MB) | s/iteration | RSS × untiled | s/it × untiled | loss × untiled |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in map(int, args.sizes.split(",")):
        base = run(size, None, args.iterations)
        rows = [(None, base)] + [(t, run(size, t, args.iterations)) for t in map(int, args.tiles.split(","))]
        for tile, r in rows:
            if "error" in r:
                print(f"| {size} | {tile or 'untiled'} | {r['error']} | | | | |")
                continue
            ratios = ["–"] * 3
            if tile and "error" not in base:
                ratios = [
                    f"{r['rss_mb'] / base['rss_mb']:.2f}",
                    f"{r['s_per_iter'] / base['s_per_iter']:.2f}",
                    f"{r['loss'] / base['loss']:.6f}",
                ]
            print(
                f"| {size} | {tile or 'untiled'} | {r['rss_mb']:.0f} | {r['s_per_iter']:.2f} | "
                + " | ".join(ratios)
                + " |"
            )
    print(f"\nthis process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
