"""GPU speed: eigenstyle (single image and a batch of variants, per precision) and neural-style-pt.

Runs, alternating (repeat i starts at run i), all as child processes at neural-style's
defaults (content relu4_2, style relu1_1..relu5_1, weights 5/100/1e-3, random init, L-BFGS
history 100) on the bundled samples, pre-resized once to --size (default 512):

* eigenstyle stylize, one image, at each --precisions (fp32, tf32, bf16);
* eigenstyle variants --count B --batch-size B (default 8), at each precision: ms/iter of the
  batch and per image (/B);
* neural-style-pt (PyPI neural-style) with the embedded weights as its model file,
  ``-backend cudnn`` (its default 'nn' disables cuDNN). It runs torch's defaults: cuDNN
  convolutions may use TF32 (torch.backends.cudnn.allow_tf32 is True by default), whereas
  eigenstyle's fp32 turns TF32 off and its tf32 turns it on.

Measured as in peers.py: ms/iter from the arrival times of the per-iteration progress lines,
(t[N] - t[1]) / (N - 1); "to iter 1" = launch to iteration 1's line (start-up: interpreter,
imports, CUDA context, weights, targets, plus one iteration); wall = launch to exit; GPU MiB =
peak of nvidia-smi's memory.used during the run minus its value before launch (includes the
CUDA context); own peak = eigenstyle's printed CUDA allocator peak; final loss = the written
8-bit image scored by one fp32 evaluator (eigenstyle's loop.evaluate; not for variants,
whose targets are randomised).

On a CUDA machine (a few minutes):
    python benchmarks/cuda_speed.py --out cuda-table.md
Smoke check anywhere:
    python benchmarks/cuda_speed.py --device cpu --size 64 --iterations 5 --neural-style-python PY
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import sys
import tempfile

import torch

import common


def runs_of(args) -> list[dict]:
    out = [dict(name="eigenstyle", tool="eigenstyle", precision=p, batch=1) for p in args.precisions]
    out += (
        [
            dict(name=f"eigenstyle variants ×{args.batch}", tool="eigenstyle", precision=p, batch=args.batch)
            for p in args.precisions
        ]
        if args.batch > 1
        else []
    )
    if args.neural_style_python:
        out.append(dict(name="neural-style-pt", tool="neural-style-pt", precision="torch default", batch=1))
    return out


def command(run, args, content, style, out):
    if run["tool"] == "neural-style-pt":
        return common.neural_style_cmd(
            args.neural_style_python, content, style, out, args.size, args.iterations, args.device, args.model_file
        )
    return common.eigenstyle_cmd(
        args.python,
        content,
        style,
        out,
        args.size,
        args.iterations,
        args.device,
        run["precision"],
        batch=run["batch"] if run["batch"] > 1 else 0,
    )


def own_peak(output: str) -> float | None:
    m = re.findall(r"peak memory (\d+) MB", output)
    return float(m[-1]) if m else None


def table(rows: list[dict], peer: dict | None) -> str:
    def g(v, fmt):
        return "n/a" if v is None else format(v, fmt)

    lines = [
        "| run | precision | images | ms/iter | ms/iter per image | × neural-style-pt | to iter 1 s | wall s "
        "| GPU MiB (nvidia-smi) | own peak MiB | peak RSS MiB | final loss |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        per = r["s_iter"] * 1000 / r["batch"]
        rel = per / (peer["s_iter"] * 1000) if peer else None
        lines.append(
            f"| {r['name']} | {r['precision']} | {r['batch']} | {r['s_iter'] * 1000:.1f} | {per:.1f} | "
            f"{g(rel, '.2f')} | {r['first']:.1f} | {r['wall']:.1f} | {g(r['gpu'], '.0f')} | "
            f"{g(r['own_peak'], '.0f')} | {r['rss']:.0f} | {g(r['total'], '.4g')} |"
        )
    return "\n".join(lines)


def device_line(device: str) -> str:
    if device.startswith("cuda") and torch.cuda.is_available():
        d = torch.device(device)
        return (
            f"{torch.cuda.get_device_name(d)}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
            f"cuDNN {torch.backends.cudnn.version()}"
        )
    return f"{device}, {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads"


def main(argv=None):
    ap = common.parser(__doc__, size=512, device="cuda")
    ap.add_argument("--precisions", default="fp32,tf32,bf16", type=lambda s: [p for p in s.split(",") if p])
    ap.add_argument("--batch", type=int, default=8, help="variants in the batch run (1: none)")
    ap.add_argument("--python", default=sys.executable, help="interpreter with eigenstyle")
    ap.add_argument(
        "--neural-style-python",
        default=sys.executable,
        help="interpreter with PyPI neural-style ('' to leave neural-style-pt out)",
    )
    args = ap.parse_args(argv)
    if args.iterations < 2:
        ap.error("--iterations must be >= 2 (ms/iter is measured from iteration 1 to the last)")
    gpu = args.device.startswith("cuda")
    if gpu and not torch.cuda.is_available():
        ap.error(f"--device {args.device}: this interpreter's torch sees no CUDA device")

    tmp = tempfile.TemporaryDirectory(prefix="cuda-bench-")
    content, style = common.shared_inputs(args.content, args.style, args.size, tmp.name)
    notes = []
    if args.neural_style_python:
        args.model_file = common.neural_style_model_file(args.cache_dir)
        ns = common.check_neural_style_model(args.neural_style_python, args.model_file)
        notes.append(
            f"neural-style-pt: torch {ns.split()[0]}; model file {args.model_file} (the embedded "
            "weights, dequantised), -disable_check after checking only classifier.* keys are missing; "
            "-backend cudnn on CUDA, no -seed (it would set cudnn.deterministic)."
        )
    plan = runs_of(args)
    results = [[] for _ in plan]
    for i in range(args.repeats):
        start = i % len(plan)
        for j in list(range(start, len(plan))) + list(range(start)):
            run = plan[j]
            out = os.path.join(tmp.name, f"run{j}-{i}" + ("" if run["batch"] > 1 else ".png"))
            fig, r = common.measure(command(run, args, content, style, out), run["tool"], args.iterations, gpu=gpu)
            results[j].append(dict(fig, out=out, own_peak=own_peak(r.output) if run["tool"] == "eigenstyle" else None))
            print(
                f"repeat {i + 1}/{args.repeats} {run['name']} {run['precision']}: "
                f"{fig['s_iter'] * 1000:.1f} ms/iter, to iter 1 {fig['first']:.1f} s, wall {fig['wall']:.1f} s",
                flush=True,
            )

    problem = common.evaluator(content, style, args.size, args.device)
    for run, res in zip(plan, results):
        for x in res:
            x["total"] = None if run["batch"] > 1 else common.score_file(problem, x["out"], run["name"], notes)["total"]
    rows = [
        dict(run, **common.medians(res, ("s_iter", "first", "wall", "gpu", "own_peak", "rss", "total")))
        for run, res in zip(plan, results)
    ]
    peer = next((r for r in rows if r["tool"] == "neural-style-pt"), None)
    notes += [
        f"{datetime.date.today()}, {platform.node()}: {device_line(args.device)}; {args.size} px, "
        f"{args.iterations} iterations, median of {args.repeats} repeat(s), runs alternated.",
        common.invocation(__file__, argv),
        "ms/iter: arrival of the per-iteration progress lines, (t[N] - t[1]) / (N - 1); per image: / images; "
        "× neural-style-pt: per-image ms/iter over neural-style-pt's. to iter 1: launch to iteration 1's line. "
        "GPU MiB: nvidia-smi memory.used peak minus before launch (0.2 s polls; with the CUDA context); "
        "own peak: eigenstyle's CUDA allocator peak (on the CPU: its resident peak). final loss: the written "
        "8-bit image scored by eigenstyle's fp32 loop.evaluate (n/a for variants: randomised targets).",
    ]
    common.publish(table(rows, peer), notes, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
