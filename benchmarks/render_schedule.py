"""How many iterations does each scale of a render need? Loss curves of a favourite rendered coarse to fine.

Makes a favourite (or takes one), renders it at --size with many iterations at every scale, and records
each scale's losses per iteration: the table gives, per scale, the share of that scale's whole loss drop
reached after 10, 25, 50, 100 ... iterations, and its s/iteration. Then the final scale again from the same
start with shorter L-BFGS histories (what memory.history_for picks at print sizes), to show what they cost.
Intermediate images of the final scale are kept (--keep) to look at.

    python benchmarks/render_schedule.py --favourite-size 256 --size 768 --iterations 200 --histories 100,20,5
"""

import argparse
import os
import time

import torch

from eigenstyle import Options, __version__, stylize
from eigenstyle.engine import upscale
from eigenstyle.loop import Observer, initial_image, optimise
from eigenstyle.printing import render_options, start_of
from eigenstyle.problem import prepare, resolve_seeds
from eigenstyle.recipe import read_recipe

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "images")
MARKS = (10, 25, 50, 100, 150, 200, 300, 400)


class Curve(Observer):
    """Every iteration's total loss (the CPU reads values every iteration anyway)."""

    def __init__(self, keep=None, marks=()):
        self.losses, self.keep, self.marks, self.started = [], keep, marks, time.perf_counter()

    def wants(self, iteration):
        return True

    def seen(self, step):
        if step.values is not None:
            self.losses.append(step.values["total"][0])
        if self.keep and step.iteration in self.marks:
            from eigenstyle.results import finish_images

            finish_images(step.problem, step.x)[0][0].save(f"{self.keep}-{step.iteration}.png")


def shares(losses, marks):
    """The share of the scale's loss drop (first iteration to last) reached at each mark."""
    first, last = losses[0], losses[-1]
    return [f"{(first - losses[m - 1]) / (first - last):.2f}" if m <= len(losses) else "" for m in marks]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--favourite", help="an eigenstyle image to render (default: make one)")
    ap.add_argument("--favourite-size", type=int, default=256)
    ap.add_argument("--mode", default="variant")
    ap.add_argument("--layers", default="relu3_2")
    ap.add_argument("--size", type=int, default=768)
    ap.add_argument("--iterations", type=int, default=200, help="iterations at every scale")
    ap.add_argument("--histories", default="100,20,5", help="L-BFGS histories for the final scale")
    ap.add_argument("--history-iterations", type=int, default=100, help="iterations of each history's run")
    ap.add_argument("--keep", default="/tmp/render-schedule", help="folder for the favourite and images")
    args = ap.parse_args()
    os.makedirs(args.keep, exist_ok=True)
    content = os.path.join(SHARED, "content", "tubingen.jpg")
    style = os.path.join(SHARED, "style", "starry_night.jpg")
    fav = args.favourite
    if fav is None:
        fav = os.path.join(args.keep, "favourite.png")
        if not os.path.exists(fav):
            o = Options(size=args.favourite_size, iterations=200, mode=args.mode, variant_seed=1, seed=1)
            stylize(content, style, o, style_layers=tuple(args.layers.split(",")), print_every=0, output=fav)
    data = read_recipe(fav)
    n = args.iterations
    opts = resolve_seeds(render_options(data, start_of(fav, data), args.size, iterations=n, scale_iterations=n))
    print(f"eigenstyle {__version__}, torch {torch.__version__}, {torch.get_num_threads()} threads; favourite {fav}")
    print(f"render to {args.size} px, scales {opts.scales}, {n} iterations at each\n")
    print("| scale | px | s/iteration | " + " | ".join(f"drop at {m}" for m in MARKS if m <= n) + " |")
    print("|---|---:|---:|" + "---:|" * len([m for m in MARKS if m <= n]))
    x, swatch = None, None
    from eigenstyle.swatch import given, reference

    if opts.mode != "none" and opts.target == "reachable":
        swatch = reference(content, [style], opts)
    sizes = list(opts.scales or ()) + [opts.size]
    starts = {}
    for k, size in enumerate(sizes):
        p = prepare(content, [style], opts.replace(size=size, scales=None, iterations=n))
        p = given(p, swatch) if swatch is not None else p
        start = initial_image(p, opts.seed) if x is None else upscale(x, p)
        starts[size] = (p, start)
        last = k == len(sizes) - 1
        curve = Curve(os.path.join(args.keep, f"final-h{p.opts.lbfgs_history}") if last else None, MARKS)
        t = time.perf_counter()
        out = optimise(p, start, [curve])
        per = (time.perf_counter() - t) / max(1, out.done)
        h, w = p.content_tensor.shape[2:]
        row = [m for m in MARKS if m <= n]
        print(f"| {k + 1}/{len(sizes)} | {w}x{h} | {per:.2f} | " + " | ".join(shares(curve.losses, row)) + " |")
        x = out.x
    p, start = starts[sizes[-1]]
    print("\nfinal scale again, other L-BFGS histories (loss at each mark over history 100's at the same mark):")
    base = curve.losses
    for hist in [int(h) for h in args.histories.split(",") if int(h) != p.opts.lbfgs_history]:
        hn = min(n, args.history_iterations)
        q = prepare(content, [style], p.opts.replace(lbfgs_history=hist, iterations=hn), swatch)
        c = Curve(os.path.join(args.keep, f"final-h{hist}"), MARKS)
        optimise(q, start, [c])
        ratios = [f"{m}: {c.losses[m - 1] / base[m - 1]:.3f}" for m in MARKS if m <= hn]
        print(f"| history {hist} | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
