"""Regions (--mask, --region): does each region wear its own style, do they meet cleanly, what do they cost?

For each pair (content, style, mask, two regions' styles), in one run on this machine, at the same settings:
a run with the two regions; a whole-image run of each region's style alone; a plain run (mode none).

* **own style**: each region's style loss against its own target (its guided Gram, as the run weighs it,
  per unit of picture), over the same loss of the whole-image run of that style alone: target <= 1.2;
* **no leaking**: the region's loss against the *other* region's target over its loss against its own: >= 3;
  in brackets the same in the whole-image run of its style alone (how far apart the two targets are at all);
* **clean borders**: in the 8 px band along the border (4 px each side), the high-frequency energy (squared
  Laplacian of the luminance) and the chroma noise (Cb, Cr less their 3x3 mean, squared), against those of the
  regions' interiors (>= 12 px from any border): a seam is a band above both interiors, a halo one below both;
  the figure is how far outside the interiors' range the band is (1: within it), target <= 1.3. Per region:
  its side of the band over its interior, and in brackets the same in the whole-image run of its style alone,
  the control (a border on an edge of the photograph, a skyline, has more high frequencies whatever the style);
* **cost**: seconds per iteration of the two-region run over the plain run's: <= 1.3.

    python benchmarks/regions.py [--size 256] [--iterations 200] [--out DIR]

The pairs: Tübingen + The Starry Night with the bundled sky mask (sky=fantasy:7, rest=variant:3); Chelsea +
The Scream with an ellipse round the cat's face (face=variant:2, rest=fantasy:5).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from PIL import Image, ImageDraw

from eigenstyle import Options, regions, swatch
from eigenstyle.demo import sample
from eigenstyle.loop import initial_image, optimise
from eigenstyle.problem import prepare
from eigenstyle.results import finish_images

SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "images")


def face_mask(path: str, out: str) -> str:
    """An ellipse round the cat's face of chelsea.png (451x300), white on black."""
    w, h = Image.open(path).size
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).ellipse((0.10 * w, 0.02 * h, 0.86 * w, 0.98 * h), fill=255)
    m.save(out)
    return out


def run(content, style, opts):
    """(problem with its swatches, final image [1,3,H,W] network units, s/iter of the optimisation alone)."""
    p = swatch.reach([prepare(content, [style], opts)])[0]
    x0 = initial_image(p, opts.seed)
    started = time.perf_counter()
    out = optimise(p, x0, [])
    return p, out.x.detach(), (time.perf_counter() - started) / out.done


def hf_and_chroma(im: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: the squared Laplacian of the luminance, and the squared chroma noise (0-255 units)."""
    a = np.asarray(im.convert("RGB"), dtype=np.float64)
    y = a @ [0.299, 0.587, 0.114]
    cb, cr = a @ [-0.1687, -0.3313, 0.5], a @ [0.5, -0.4187, -0.0813]
    lap = np.zeros_like(y)
    lap[1:-1, 1:-1] = 4 * y[1:-1, 1:-1] - y[:-2, 1:-1] - y[2:, 1:-1] - y[1:-1, :-2] - y[1:-1, 2:]

    def noise(c):
        out = np.zeros_like(c)
        box = sum(
            c[1 + dy : c.shape[0] - 1 + dy, 1 + dx : c.shape[1] - 1 + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)
        )
        out[1:-1, 1:-1] = (c[1:-1, 1:-1] - box / 9) ** 2
        return out

    return lap**2, noise(cb) + noise(cr)


def dilate(m: np.ndarray, r: int) -> np.ndarray:
    out = m.copy()
    for _ in range(r):
        grown = out.copy()
        grown[1:] |= out[:-1]
        grown[:-1] |= out[1:]
        grown[:, 1:] |= out[:, :-1]
        grown[:, :-1] |= out[:, 1:]
        out = grown
    return out


def bands(hard: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per region: (its pixels within 4 px of a border, its pixels >= 12 px from any), away from the frame."""
    label = hard.argmax(0)
    border = np.zeros(label.shape, bool)
    border[:-1] |= label[:-1] != label[1:]
    border[1:] |= label[:-1] != label[1:]
    border[:, :-1] |= label[:, :-1] != label[:, 1:]
    border[:, 1:] |= label[:, :-1] != label[:, 1:]
    near, far = dilate(border, 4), dilate(border, 12)
    frame = np.zeros(label.shape, bool)
    frame[4:-4, 4:-4] = True
    return [((label == r) & near & frame, (label == r) & ~far & frame) for r in range(hard.shape[0])]


def outside(v: np.ndarray, hard: np.ndarray) -> float:
    """How far the mean of ``v`` in the whole border band is outside the range of its means in the regions'
    interiors: 1 within it, above 1 a seam (the band busier than both) or a halo (quieter than both)."""
    both = bands(hard)
    lo, hi = sorted(float(v[inside].mean()) for _, inside in both)
    m = float(v[both[0][0] | both[1][0]].mean())
    return max(m / hi, lo / m, 1.0)


def measure(name, content, style, mask, specs, base: Options, out_dir) -> list[dict]:
    o = base.replace(mask=(mask,), region=tuple(f"{n}={s}" for n, s in specs))
    p, x, per_it = run(content, style, o)
    plain_p, _, plain_it = run(content, style, base.replace(mode="none"))
    names = p.masks.names
    wholes, alone_shown = {}, {}
    for n, s in specs:
        mode, seed = s.split(":")
        wp, wx, _ = run(content, style, base.replace(mode=mode, variant_seed=int(seed)))
        wholes[n], alone_shown[n] = wx, finish_images(wp, wx)[0][0]
    shown = finish_images(p, x)[0][0]
    if out_dir:
        shown.save(os.path.join(out_dir, f"{name}-regions.png"))
    hard = regions.read(o, Image.open(content).size)[1]
    hf, chroma = hf_and_chroma(shown)
    rows = []
    for r, n in enumerate(names):
        own = p.regions[r].problem
        other = p.regions[1 - r].problem
        mine = float(regions.loss_in(p, x, r, own))
        alone = float(regions.loss_in(p, wholes[n], r, own))
        leak = float(regions.loss_in(p, x, r, other))
        apart = float(regions.loss_in(p, wholes[n], r, other)) / alone  # how far apart the two targets are
        band, inside = bands(hard)[r]

        hf_a, chroma_a = hf_and_chroma(alone_shown[n])  # the same band and interior of its style alone
        rows.append(
            dict(
                pair=name,
                region=f"{n}={dict(specs)[n]}",
                own=mine / alone,
                leak=leak / mine,
                apart=apart,
                hf=hf[band].mean() / hf[inside].mean(),
                chroma=chroma[band].mean() / chroma[inside].mean(),
                hf_alone=hf_a[band].mean() / hf_a[inside].mean(),
                hf_out=outside(hf, hard),
                chroma_out=outside(chroma, hard),
                chroma_alone=chroma_a[band].mean() / chroma_a[inside].mean(),
                cost=per_it / plain_it,
                s_iter=per_it,
                plain_s_iter=plain_it,
            )
        )
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--out", default=None, help="keep the regions runs' pictures here")
    ap.add_argument("--pairs", default="tubingen,chelsea")
    args = ap.parse_args()
    if args.out:
        os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)
    base = Options(size=args.size, iterations=args.iterations, seed=1, print_every=0)
    sky = sample("tubingen-sky.png")
    cases = {
        "tubingen": (
            sample("tubingen.jpg"),
            sample("starry_night.jpg"),
            f"sky={sky}",
            [("sky", "fantasy:7"), ("rest", "variant:3")],
        ),
        "chelsea": (
            os.path.join(SHARED, "content", "chelsea.png"),
            os.path.join(SHARED, "style", "the_scream.jpg"),
            None,
            [("face", "variant:2"), ("rest", "fantasy:5")],
        ),
    }
    print(
        "| pair | region | own / alone (<= 1.2) | other / own (>= 3) | band outside the interiors: HF, chroma "
        "(<= 1.3) | its side of the band: HF (alone) | chroma (alone) | s/iter (plain) | cost (<= 1.3) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name in args.pairs.split(","):
        content, style, mask, specs = cases[name]
        if mask is None:
            mask = f"face={face_mask(content, os.path.join(args.out or '/tmp', 'chelsea-face.png'))}"
        for row in measure(name, content, style, mask, specs, base, args.out):
            print(
                f"| {row['pair']} | {row['region']} | {row['own']:.2f} | {row['leak']:.1f} ({row['apart']:.1f}) | "
                f"{row['hf_out']:.2f}, {row['chroma_out']:.2f} | {row['hf']:.2f} "
                f"({row['hf_alone']:.2f}) | {row['chroma']:.2f} ({row['chroma_alone']:.2f}) | "
                f"{row['s_iter']:.3f} ({row['plain_s_iter']:.3f}) | {row['cost']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
