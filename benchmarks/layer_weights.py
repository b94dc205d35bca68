"""Per-layer balanced style weights (docs/layers.md): for each sample style and relu layer L,
w_L = 100 · Σ_{default layers} mean(G²) / mean(G_L²), the weight at which L alone has the same
style loss from a blank start as neural-style's five default layers at weight 100.

    python benchmarks/layer_weights.py [--size 256] [--styles DIR]
"""

import argparse
import glob
import os

from eigenstyle import Options
from eigenstyle.demo import sample
from eigenstyle.layers import LAYER_NAMES
from eigenstyle.problem import prepare

DEFAULT = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument(
        "--styles", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "images", "style")
    )
    args = ap.parse_args()
    relus = tuple(n for n in LAYER_NAMES if n.startswith("relu") and n < "relu5_2")
    opts = Options(size=args.size, style_layers=relus).validate()
    print("| style | " + " | ".join(relus) + " |")
    for path in sorted(glob.glob(os.path.join(args.styles, "*.jpg"))):
        grams = prepare(sample("tubingen.jpg"), path, opts).base_style
        energy = {n: float((grams[n] ** 2).mean()) for n in relus}
        total = sum(energy[n] for n in DEFAULT)
        print(f"| {os.path.basename(path)} | " + " | ".join(f"{100 * total / energy[n]:.2g}" for n in relus) + " |")


if __name__ == "__main__":
    main()
