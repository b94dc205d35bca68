"""How hard does each randomised target pull at the start? The style loss of the content image
(the start of a randomised run at the defaults) against the reachable target, over plain's.

A style weight "balanced on the target's attainable loss" would scale each mode's weight by the
inverse of this ratio: with reachable targets the attainable loss is about zero (the swatch is a
real image), so the start loss is the whole of what the optimiser has to remove. Results:
docs/quality.md ("Fantasy and random").

    python benchmarks/start_loss.py --layers relu3_2 --size 256
"""

import argparse
import os

import torch

from eigenstyle.loop import evaluate
from eigenstyle.options import Options
from eigenstyle.problem import prepare, resolve_seeds, vary

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "images")
PAIRS = (("tubingen.jpg", "starry_night.jpg"), ("chelsea.png", "the_scream.jpg"), ("astronaut.png", "shipwreck.jpg"))
RUNS = (("variant", 1), ("variant", 2), ("fantasy", 1), ("random", 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", default="relu3_2")
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    layers = tuple(args.layers.split(","))
    print(f"| pair | {' | '.join(f'{m} {s}' for m, s in RUNS)} |")
    print(f"|---|{'---:|' * len(RUNS)}")
    for content, style in PAIRS:
        o = Options(size=args.size, style_layers=layers, seed=1, init="image", print_every=0)
        p = prepare(os.path.join(SHARED, "content", content), [os.path.join(SHARED, "style", style)], o)
        with torch.no_grad():
            plain = float(evaluate(p, p.content_tensor)["style"])
        ratios = []
        for mode, seed in RUNS:
            q = vary(p, resolve_seeds(o.replace(mode=mode, variant_seed=seed)))
            with torch.no_grad():
                ratios.append(float(evaluate(q, p.content_tensor)["style"]) / plain)
        print(f"| {content.split('.')[0]} + {style.split('.')[0]} | {' | '.join(f'{r:.2f}' for r in ratios)} |")


if __name__ == "__main__":
    main()
