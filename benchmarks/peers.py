"""Speed of eigenstyle against its peers, neural-style-pt and pastiche, at one setting.

One command runs the three command-line tools as child processes, alternating
(repeat i starts with tool i mod 3), on the same images, size, layers, weights and
iteration count: neural-style's defaults (content relu4_2 weight 5, style
relu1_1..relu5_1 weight 100, TV 1e-3, random init, max pooling, L-BFGS lr 1 with
history 100), no seed (each tool draws its own noise) unless --seed. ``eigenstyle`` runs its
default (--precision auto --conv auto: the path timed fastest on this machine), ``eigenstyle-direct``
fp32 with the library's direct convolutions, which every peer uses.

* eigenstyle and pastiche: their console scripts beside --python (default: this interpreter).
* neural-style-pt: PyPI ``neural-style`` in its own venv (--neural-style-python; it needs
  torchvision), given the embedded 8-bit VGG-19 dequantised into a neural-style-pt model file
  (``-model_file ... -disable_check``), cached under ~/.cache/eigenstyle-benchmarks.

Measured, per run:
* s/iter: the parent's clock at the arrival of each tool's per-iteration progress line
  (every tool is run printing every iteration, unbuffered): (t[N] - t[1]) / (N - 1), i.e.
  the steady state without start-up and iteration 1. The tools' own timings, where they print
  one, are shown beside it as a cross-check.
* wall s: launch to exit of the child (interpreter start, imports, weights, targets,
  iterations, writing the image).
* to iter 1 s: launch to iteration 1's progress line (start-up plus one iteration).
* peak RSS: the tool process's own ru_maxrss (``os.wait4`` in a small launcher); the import-only floor of each
  interpreter is given in the notes (neural-style-pt's venv has a CUDA torch build).
* losses: every tool's written 8-bit image scored by ONE evaluator (fidelity.py's:
  eigenstyle's ``loop.evaluate``, neural-style's objective, on the same targets).
Ratios are to the fastest tool by s/iter. Medians over --repeats.

Run (CPU, 256 px, 100 iterations: about 5 minutes per repeat on 2 cores):
    python benchmarks/peers.py --size 256 --iterations 100 --repeats 1 \\
        --neural-style-python /path/to/peers-venv/bin/python [--out table.md]
"""

from __future__ import annotations

import datetime
import os
import re
import sys
import tempfile

import torch

from eigenstyle.vgg import speed

import common

TOOLS = ("eigenstyle", "eigenstyle-direct", "neural-style-pt", "pastiche")


def own_s_per_iter(tool: str, output: str, n: int) -> float | None:
    """The tool's own timing, where it prints one."""
    if tool.startswith("eigenstyle"):  # 'iteration N/N ... X s/iter' (elapsed / N since its loop started)
        m = re.findall(rf"iteration {n}/{n} .*?([\d.]+) s/iter", output)
        return float(m[-1]) if m else None
    if tool == "pastiche":  # 'step elapsed loss', elapsed since main() at 0.1 s resolution
        steps = {int(a): float(b) for a, b in re.findall(r"(?m)^(\d+)\s+(\d+\.\d)\s+\S+$", output)}
        return (steps[n] - steps[1]) / (n - 1) if 1 in steps and n in steps else None
    return None  # neural-style-pt prints no time


def own_loss(tool: str, output: str) -> float | None:
    """The last loss the tool printed (each at the image before its last step, in its own units)."""
    pat = {
        "eigenstyle": r"iteration \d+/\d+\s+loss (\S+)",
        "pastiche": r"(?m)^\d+\s+\d+\.\d\s+(\S+)$",
        "neural-style-pt": r"Total loss: (\S+)",
    }
    m = re.findall(pat[tool.split("-direct")[0]], output)
    return float(m[-1]) if m else None


def command(tool, args, content, style, out, hw):
    settings = dict(style_layers=args.style_layers, style_weight=args.style_weight)
    if tool.startswith("eigenstyle"):
        direct = tool.endswith("direct")  # the peers' arithmetic; else eigenstyle's default (auto: timed)
        return common.eigenstyle_cmd(
            args.python, content, style, out, args.size, args.iterations, args.device, seed=args.seed,
            precision="fp32" if direct else "auto", conv="direct" if direct else "auto", **settings,
        )  # fmt: skip
    if tool == "pastiche":
        return common.pastiche_cmd(
            args.python, content, style, out, args.size, args.iterations, args.device, hw, seed=args.seed, **settings
        )
    return common.neural_style_cmd(
        args.neural_style_python, content, style, out, args.size, args.iterations, args.device, args.model_file,
        seed=args.seed, **settings,
    )  # fmt: skip


def ratio(v, best):
    return f"{v / best:.2f}" if best else "n/a"


def table(rows: dict, fastest: str) -> str:
    f = rows[fastest]
    lines = [
        "| tool | s/iter | × fastest | wall s | × fastest | to iter 1 s | peak RSS MiB | × fastest "
        "| content | style | tv | total loss | × fastest |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool, r in rows.items():
        lines.append(
            f"| {tool} | {r['s_iter']:.3f} | {ratio(r['s_iter'], f['s_iter'])} | {r['wall']:.1f} | "
            f"{ratio(r['wall'], f['wall'])} | {r['first']:.1f} | {r['rss']:.0f} | "
            f"{ratio(r['rss'], f['rss'])} | {r['content']:.4g} | {r['style']:.4g} | {r['tv']:.4g} | "
            f"{r['total']:.4g} | {ratio(r['total'], f['total'])} |"
        )
    lines += ["", "| tool | own s/iter (cross-check) | own last printed loss (its units) |", "|---|---:|---:|"]

    def g(v, fmt):
        return "n/a" if v is None else format(v, fmt)

    for tool, r in rows.items():
        lines.append(f"| {tool} | {g(r['own_s_iter'], '.3f')} | {g(r['own_loss'], '.4g')} |")
    return "\n".join(lines)


def main(argv=None):
    ap = common.parser(__doc__, size=256, device="cpu")
    ap.add_argument("--seed", type=int, help="pass this seed to every tool (default: none, each draws its own)")
    ap.add_argument("--python", default=sys.executable, help="interpreter with eigenstyle and pastiche")
    ap.add_argument("--neural-style-python", help="interpreter of a venv with PyPI neural-style (else not run)")
    ap.add_argument("--layers", default="default", help="style layers, comma-separated, or 'default' (the five)")
    ap.add_argument("--style-weight", type=float, default=100.0)
    ap.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    ap.add_argument("--threads", type=int, help="OMP/MKL_NUM_THREADS for every tool (default: torch's own)")
    ap.add_argument(
        "--own-resize",
        action="store_true",
        help="let each tool resize the original files itself (default: all load the same pre-resized PNGs)",
    )
    args = ap.parse_args(argv)
    tools = [t for t in args.tools.split(",") if t and (args.neural_style_python or t != "neural-style-pt")]
    args.style_layers = common.STYLE_LAYERS if args.layers == "default" else tuple(args.layers.split(","))
    if set(tools) - set(TOOLS) or not tools:
        ap.error(f"--tools: choose from {','.join(TOOLS)}")
    if args.iterations < 2:
        ap.error("--iterations must be >= 2 (s/iter is measured from iteration 1 to the last)")
    env = dict(os.environ)
    if args.threads:
        env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))

    tmp = tempfile.TemporaryDirectory(prefix="peers-")
    content, style = (
        (args.content, args.style)
        if args.own_resize
        else common.shared_inputs(args.content, args.style, args.size, tmp.name)
    )
    hw = common.eigen_hw(content, args.size)
    notes = []
    if "neural-style-pt" in tools:
        args.model_file = common.neural_style_model_file(args.cache_dir)
        ns_torch = common.check_neural_style_model(args.neural_style_python, args.model_file)
        notes.append(
            f"neural-style-pt: {args.neural_style_python}, torch {ns_torch.replace(' ', ', threads ')}; "
            f"model file {args.model_file} (the embedded weights, dequantised), loaded with -disable_check "
            "after checking that only classifier.* keys are missing."
        )
    floors = {
        "eigenstyle": (args.python, "torch"),
        "eigenstyle-direct": (args.python, "torch"),
        "pastiche": (args.python, "torch"),
        "neural-style-pt": (args.neural_style_python, "torch, torchvision"),
    }
    floor = {t: common.import_baseline(*floors[t]) for t in tools}

    runs = {t: [] for t in tools}
    for i in range(args.repeats):
        order = tools[i % len(tools) :] + tools[: i % len(tools)]
        for tool in order:
            out = os.path.join(tmp.name, f"{tool}-{i}.png")
            cmd = command(tool, args, content, style, out, hw)
            fig, r = common.measure(cmd, tool, args.iterations, env, gpu=args.device.startswith("cuda"))
            runs[tool].append(
                dict(
                    fig,
                    out=out,
                    own_s_iter=own_s_per_iter(tool, r.output, args.iterations),
                    own_loss=own_loss(tool, r.output),
                )
            )
            print(
                f"repeat {i + 1}/{args.repeats} {tool}: {fig['s_iter']:.3f} s/iter, "
                f"wall {r.wall:.1f} s, peak RSS {r.rss_mb:.0f} MiB",
                flush=True,
            )

    problem = common.evaluator(
        content, style, args.size, args.device, style_layers=args.style_layers, style_weight=args.style_weight
    )
    for tool in tools:
        for run in runs[tool]:
            run.update(common.score_file(problem, run["out"], tool, notes))
    keys = ("s_iter", "wall", "rss", "first", "own_s_iter", "own_loss", "content", "style", "tv", "total")
    rows = {t: common.medians(runs[t], keys) for t in tools}
    fastest = min(rows, key=lambda t: rows[t]["s_iter"])
    h, w = hw
    cpu = speed.machine_key(torch.device(args.device))
    notes += [
        f"{datetime.date.today()}, {cpu['name']} ({cpu['isa']}), {os.cpu_count()} CPUs, device {args.device}; "
        f"{args.size} px ({w}x{h}), style layers {','.join(args.style_layers)} (weight {args.style_weight:g}), "
        f"{args.iterations} iterations, median of {args.repeats} repeat(s), "
        "tools alternated; "
        f"parent torch {torch.__version__}, {torch.get_num_threads()} threads"
        + (f"; OMP/MKL_NUM_THREADS={args.threads}" if args.threads else "")
        + ".",
        common.invocation(__file__, argv),
        "s/iter: parent's clock at the arrival of each tool's per-iteration line, (t[N] - t[1]) / (N - 1); "
        "own s/iter: eigenstyle's printed elapsed/N since its loop began, pastiche's printed elapsed "
        "(0.1 s resolution), neural-style-pt prints none.",
        "peak RSS: the tool process's own ru_maxrss (os.wait4 in a ~10 MiB launcher). Import-only floor: "
        + ", ".join(f"{t} {v:.0f} MiB" for t, v in floor.items())
        + ".",
        "losses: each tool's written 8-bit image, scored by eigenstyle's loop.evaluate (neural-style's "
        "objective, eigenstyle's targets, fp32). neural-style-pt writes the image its Nth evaluation saw "
        "(N-1 updates; the others N), scales pixels by 256 (not 255), and its printed loss is in those units; "
        "pastiche's noise init has std 1 (not 0.001) and its TV weight is matched approximately.",
        "--own-resize: each tool resized the original files itself."
        if args.own_resize
        else "all tools loaded the same pre-resized PNGs (eigenstyle's bilinear resize).",
    ]
    common.publish(table(rows, fastest), notes, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
