"""Large images: peak memory and seconds per iteration, tiled against untiled, and a whole print render.

Each configuration runs in its own process (the peak resident memory of a process is what a user
sees): a few L-BFGS iterations on the shared Tübingen + The Starry Night at the five default style
layers, started from the content, reporting its peak RSS, the loop's seconds per iteration (from the
recipe, without the preparation), the tile and the L-BFGS history the memory budget chose. A
configuration is SIZE:untiled (whole, the budget lifted) or SIZE:BUDGET (``--max-memory`` BUDGET GiB:
tiles and history as the budget decides). Ratios are against the untiled run of the same size.

``--floor SIZE`` times, on the whole image, a forward pass without a graph against a forward and
backward pass: an exact tiled iteration runs both (pass 1 for the global Grams, pass 2 for the
gradient), so their sum over the second is the least a tiled iteration can cost against an untiled one,
with tiles as large as the image and no halo.

``--render SIZE@BUDGET`` then renders a favourite (made at ``--favourite-size``, or given) at SIZE
within BUDGET GiB with `eigenstyle render`'s defaults, whole, and reports its time and peak RSS; the
print is kept (``--keep``) to look at.

    python benchmarks/large.py --configs 1024:untiled,1024:3,2048:untiled,2048:3,4096:6 --iterations 2 \\
        --render 2048@3
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "images")
CONTENT = os.path.join(SHARED, "content", "tubingen.jpg")
STYLE = os.path.join(SHARED, "style", "starry_night.jpg")
CHILD = """
import json, resource, sys, time, warnings
import eigenstyle
size, budget, iterations = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
warnings.simplefilter("ignore")
started = time.perf_counter()
r = eigenstyle.stylize(sys.argv[4], sys.argv[5], size=size, iterations=iterations, seed=1, init="image",
                       print_every=0, max_memory=budget)
o = r.recipe["options"]
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "s_per_iter": r.recipe["elapsed_s"] / max(1, r.recipe["iterations_done"]),
                  "wall_s": time.perf_counter() - started, "loss": r.recipe["losses"]["total"],
                  "tile": o["tile"], "history": o["lbfgs_history"]}))
"""
RENDER = """
import json, resource, sys, time, warnings
from eigenstyle.printing import render
warnings.simplefilter("ignore")
started = time.perf_counter()
its = dict(zip(("scale_iterations", "iterations"), map(int, sys.argv[5].split(",")))) if sys.argv[5] else {}
r = render(sys.argv[1], int(sys.argv[2]), sys.argv[4], max_memory=float(sys.argv[3]), progress=True, **its)
o = r.recipe["options"]
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "wall_s": time.perf_counter() - started, "scales": o["scales"], "tile": o["tile"],
                  "history": o["lbfgs_history"], "iterations": [o["scale_iterations"], o["iterations"]]}))
"""
FLOOR = """
import json, statistics, sys, time, warnings
import torch
from eigenstyle import Options
from eigenstyle.loop import evaluate
from eigenstyle.problem import prepare
warnings.simplefilter("ignore")
p = prepare(sys.argv[2], [sys.argv[3]], Options(size=int(sys.argv[1]), seed=1, init="image", max_memory=1024.0))
x = p.content_tensor.clone()
def forward():
    with torch.no_grad():
        p.net(x)
def both():
    xg = x.clone().requires_grad_(True)
    evaluate(p, xg)["total"].sum().backward()
def timed(fn):
    fn()
    runs = []
    for _ in range(3):
        t = time.perf_counter(); fn(); runs.append(time.perf_counter() - t)
    return statistics.median(runs)
f, fb = timed(forward), timed(both)
print(json.dumps({"forward_s": f, "forward_backward_s": fb}))
"""
UNTILED = 1024.0  # GiB: a budget nothing exceeds, so the run stays whole with neural-style's 100 pairs


def child(code, *argv):
    out = subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, text=True)
    if out.returncode:
        lines = out.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def favourite(path, size):
    """A 256 px variant of the pair at the defaults, as an artist would keep it."""
    if not os.path.exists(path):
        import eigenstyle

        eigenstyle.stylize(
            CONTENT,
            STYLE,
            size=size,
            iterations=200,
            mode="variant",
            variant_seed=1,
            seed=1,
            print_every=0,
            output=path,
        )
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", default="1024:untiled,1024:3", help="SIZE:untiled or SIZE:BUDGET_GIB, comma-separated")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--render", help="SIZE@BUDGET_GIB: a whole render of a favourite")
    ap.add_argument("--favourite", help="an eigenstyle image to render (default: make a 256 px variant)")
    ap.add_argument("--render-iterations", default="", help="COARSE,LAST iterations (default: render's own)")
    ap.add_argument("--favourite-size", type=int, default=256)
    ap.add_argument("--keep", default="/tmp/large", help="folder for the favourite and the print")
    ap.add_argument("--floor", type=int, help="SIZE: an exact two-pass tiled iteration's least cost, untiled")
    args = ap.parse_args()
    if args.floor:
        r = child(FLOOR, args.floor, CONTENT, STYLE)
        floor = (r["forward_s"] + r["forward_backward_s"]) / r["forward_backward_s"]
        print(
            f"{args.floor} px, whole: forward without a graph {r['forward_s']:.2f} s, forward and backward "
            f"{r['forward_backward_s']:.2f} s: two passes cost at least {floor:.2f}x one, before any halo\n"
        )
    print(
        "| size | budget | tile | L-BFGS history | peak RSS (MB) | s/iteration | RSS × untiled | s/it × untiled | "
        "loss × untiled |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    untiled = {}
    for config in filter(None, args.configs.split(",")):
        size, budget = config.split(":")
        size = int(size)
        r = child(CHILD, size, UNTILED if budget == "untiled" else float(budget), args.iterations, CONTENT, STYLE)
        shown = "whole" if budget == "untiled" else f"{budget} GiB"
        if "error" in r:
            print(f"| {size} | {shown} | | | {r['error']} | | | | |")
            continue
        if budget == "untiled":
            untiled[size] = r
        base = untiled.get(size)
        ratios = ["–"] * 3
        if base and base is not r:
            ratios = [
                f"{r['rss_mb'] / base['rss_mb']:.2f}",
                f"{r['s_per_iter'] / base['s_per_iter']:.2f}",
                f"{r['loss'] / base['loss']:.6f}",
            ]
        print(
            f"| {size} | {shown} | {r['tile'] or 'none'} | {r['history']} | {r['rss_mb']:.0f} | "
            f"{r['s_per_iter']:.1f} | " + " | ".join(ratios) + " |",
            flush=True,
        )
    if args.render:
        size, budget = args.render.split("@")
        os.makedirs(args.keep, exist_ok=True)
        fav = args.favourite or favourite(os.path.join(args.keep, "favourite.png"), args.favourite_size)
        out = os.path.join(args.keep, f"print-{size}.png")
        started = time.perf_counter()
        r = child(RENDER, fav, size, budget, out, args.render_iterations)
        print(
            f"\nrender of {fav} at {size} px within {budget} GiB: {json.dumps(r)} "
            f"({time.perf_counter() - started:.0f} s with start-up); the print: {out}"
        )
    print(f"\nthis process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
