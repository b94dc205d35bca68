"""torch.compile (inductor) of the objective's forward and backward against eager, on this machine.

The real objective (``loop.evaluate`` on a prepared Problem: the VGG-19 pass to the run's deepest
layer, Grams, content, style and TV losses) and its gradient, at the arithmetic given (default: the one
``--precision auto --conv auto`` picks here), eager and compiled, alternated, medians of --repeats;
the compile time; and how far the compiled loss and gradient are from eager's. Results:
docs/benchmarks.md ("torch.compile").

    python benchmarks/compile.py --size 256 --layers relu3_2
    python benchmarks/compile.py --size 256 --layers default --precision fp32 --conv direct
"""

import argparse
import os
import statistics
import time

import torch

from eigenstyle import Options, loop, problem
from eigenstyle.vgg import speed

SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src", "eigenstyle", "samples")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--layers", default="default", help="style layers, comma-separated, or 'default' (the five)")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--conv", default="auto")
    ap.add_argument("--repeats", type=int, default=8)
    ap.add_argument("--mode", default="default", help="torch.compile mode (default, max-autotune-no-cudagraphs, ...)")
    a = ap.parse_args()
    kw = dict(size=a.size, seed=1, precision=a.precision, conv=a.conv, print_every=0)
    if a.layers != "default":
        kw["style_layers"] = tuple(a.layers.split(","))
    opts = problem.resolve_seeds(Options(**kw).validate())
    p = problem.prepare(os.path.join(SAMPLES, "tubingen.jpg"), [os.path.join(SAMPLES, "starry_night.jpg")], opts)
    x0 = loop.initial_image(p, 1) + 20 * torch.randn_like(p.content_tensor)  # an image mid-run, not flat noise

    def objective(x):
        return loop.evaluate(p, x)["total"].sum()

    def step(fn):
        x = x0.detach().clone().requires_grad_(True)
        loss = fn(x)
        loss.backward()
        return loss.detach(), x.grad

    t = time.perf_counter()
    compiled = torch.compile(objective, mode=None if a.mode == "default" else a.mode)
    step(compiled)
    compile_s = time.perf_counter() - t
    for fn in (objective, compiled):  # warm
        step(fn)
    times = {"eager": [], "compiled": []}
    for _ in range(a.repeats):
        for name, fn in (("eager", objective), ("compiled", compiled)):
            t = time.perf_counter()
            step(fn)
            times[name].append(time.perf_counter() - t)
    (le, ge), (lc, gc) = step(objective), step(compiled)
    e, c = statistics.median(times["eager"]), statistics.median(times["compiled"])
    cpu = speed.machine_key(p.device)
    print(f"# {cpu['name']} ({cpu['isa']}), torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{p.content_tensor.shape[3]}x{p.content_tensor.shape[2]} px, layers {','.join(opts.style_layers)}, "
          f"{p.net.precision}/{p.net.conv}, compile mode {a.mode}, medians of {a.repeats}")  # fmt: skip
    print("| objective + gradient | s | × eager | compile s | loss vs eager | gradient vs eager |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| eager | {e:.3f} | 1.00 | – | – | – |")
    print(f"| torch.compile | {c:.3f} | {e / c:.2f} | {compile_s:.0f} | {float((lc - le).abs() / le.abs()):.1e} | "
          f"{float((gc - ge).norm() / ge.norm()):.1e} |")  # fmt: skip


if __name__ == "__main__":
    main()
