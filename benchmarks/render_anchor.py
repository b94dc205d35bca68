"""Does a render keep its favourite? Renders of one favourite under several settings, scored against it.

A render is meant to be the favourite, larger and with detail at the new resolution. This makes a
favourite (or takes one), renders it at --size with `eigenstyle render`'s defaults and each --config on
top (``key=value,...``; ``anchor_weight=0`` is the render without its anchor), and scores each print:

- ``blur SSIM``: the print reduced to the favourite's size against the favourite, both blurred by
  2 px (the favourite's composition and colour patches kept: 1 is the favourite itself);
- ``Gram dist``: relative Frobenius distance of the reduced print's Grams from the favourite's, per
  layer (the favourite's texture at its own scale);
- ``photo SSIM``: the print against the photograph at the print's size, beside the enlarged
  favourite's (how far it has gone toward the photograph);
- ``chroma``: coloured speckle (benchmarks/quality.py) over the enlarged favourite's (grain).

Prints are kept (--keep) to look at; --sheet writes the enlarged favourite and every print side by
side, each above a 1:1 crop.

    python benchmarks/render_anchor.py --size 768 --configs anchor_weight=0 anchor_weight=1e4 \\
        anchor_weight=3e4 --sheet docs/render-anchor.jpg
"""

import argparse
import json
import os
import time
import warnings

import torch
from PIL import Image
from quality import _blur, chroma_noise, luminance, ssim

import eigenstyle
from eigenstyle import Options
from eigenstyle.problem import prepare
from eigenstyle.recipe import read_recipe
from eigenstyle.targets import image_grams, to_tensor

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "images")
LAYERS = ("relu2_1", "relu3_2", "relu4_1")


def value(text):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def config(spec):
    return {k: value(v) for k, v in (p.split("=", 1) for p in spec.split(",") if p)}


def make_favourite(path, pair, layers, size):
    content, style = pair.split(":")
    o = Options(size=size, iterations=200, mode="variant", variant_seed=1, seed=1, print_every=0)
    extra = {} if layers == "default" else {"style_layers": tuple(layers.split(","))}
    find = lambda kind, stem: next(  # noqa: E731
        os.path.join(SHARED, kind, f) for f in sorted(os.listdir(os.path.join(SHARED, kind))) if f.startswith(stem)
    )
    eigenstyle.stylize(find("content", content), find("style", style), o, output=path, **extra)


class Scorer:
    def __init__(self, favourite):
        self.fav = Image.open(favourite).convert("RGB")
        data = read_recipe(favourite)
        self.photo = Image.open(data["content"]["path"]).convert("RGB")
        p = prepare(data["content"]["path"], [data["styles"][0]["path"]], Options(size=64, style_layers=LAYERS))
        self.net, self.pre = p.net, p.pre
        self.fav_grams = self.grams(self.fav)

    def grams(self, im):
        return image_grams(self.net, to_tensor(im, self.pre), LAYERS)

    def score(self, im):
        small = im.resize(self.fav.size, Image.BILINEAR)
        g = self.grams(small)
        up = self.fav.resize(im.size, Image.BICUBIC)
        photo = self.photo.resize(im.size, Image.BICUBIC)
        norm = torch.linalg.matrix_norm
        dist = {k: float(norm(g[k][0] - self.fav_grams[k][0]) / norm(self.fav_grams[k][0])) for k in LAYERS}
        return {
            "blur_ssim": ssim(_blur(luminance(small), 2), _blur(luminance(self.fav), 2)),
            "gram": dist,
            "photo_ssim": ssim(luminance(im), luminance(photo)),
            "photo_ssim_enlarged": ssim(luminance(up), luminance(photo)),
            "chroma": chroma_noise(im) / chroma_noise(up),
        }


def sheet(favourite, prints, labels, out, crop):
    from gallery import _font
    from PIL import ImageDraw

    fav = Image.open(favourite).convert("RGB")
    ims = [fav.resize(prints[0].size, Image.BICUBIC)] + prints
    labels = ["favourite, enlarged"] + labels
    w, h = prints[0].size
    tw, th = crop[2] - crop[0], crop[3] - crop[1]
    sh = round(h * tw / w)
    canvas = Image.new("RGB", ((tw + 8) * len(ims) - 8, sh + th + 30), "white")
    draw, font = ImageDraw.Draw(canvas), _font(14)
    for i, (im, label) in enumerate(zip(ims, labels)):
        canvas.paste(im.resize((tw, sh), Image.LANCZOS), (i * (tw + 8), 22))
        canvas.paste(im.crop(crop), (i * (tw + 8), sh + 30))
        draw.text((i * (tw + 8) + 2, 2), label, fill="black", font=font)
    canvas.save(out, quality=90)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--favourite", help="an eigenstyle image (default: make one from --pair at --favourite-size)")
    ap.add_argument("--pair", default="tubingen:starry_night", help="content:style stems of shared/images")
    ap.add_argument("--layers", default="relu3_2", help="the favourite's style layers, or 'default'")
    ap.add_argument("--favourite-size", type=int, default=256)
    ap.add_argument("--size", type=int, default=768)
    ap.add_argument("--configs", nargs="+", default=["anchor_weight=0", ""], help="'' is the render's defaults")
    ap.add_argument("--keep", default="/tmp/render-anchor")
    ap.add_argument("--sheet", help="a JPEG of the enlarged favourite and the prints, each above a 1:1 crop")
    ap.add_argument("--crop", default="300,150,556,342", help="the sheet's crop box in print pixels")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    os.makedirs(args.keep, exist_ok=True)
    fav = args.favourite or os.path.join(args.keep, "favourite.png")
    if not os.path.exists(fav):
        make_favourite(fav, args.pair, args.layers, args.favourite_size)
    scorer = Scorer(fav)
    print(f"eigenstyle {eigenstyle.__version__}, torch {torch.__version__}; favourite {fav}, render at {args.size} px")
    print("\n| config | blur SSIM | Gram dist " + "/".join(LAYERS) + " | photo SSIM (enlarged) | chroma | s |")
    print("|---|---:|---:|---:|---:|---:|")
    prints, labels = [], []
    for spec in args.configs:
        t = time.perf_counter()
        r = eigenstyle.render(fav, args.size, print_every=0, save_every=0, **config(spec))
        path = os.path.join(args.keep, f"print-{spec.replace(',', '_').replace('=', '') or 'defaults'}.png")
        r.save(path)
        s = scorer.score(r.image)
        prints.append(r.image)
        labels.append(spec or "render defaults")
        grams = "/".join(f"{s['gram'][k]:.3f}" for k in LAYERS)
        print(
            f"| {spec or 'defaults'} | {s['blur_ssim']:.3f} | {grams} | {s['photo_ssim']:.3f} "
            f"({s['photo_ssim_enlarged']:.3f}) | {s['chroma']:.2f} | {time.perf_counter() - t:.0f} |",
            flush=True,
        )
        with open(path + ".json", "w") as f:
            json.dump(s, f)
    if args.sheet:
        sheet(fav, prints, labels, args.sheet, tuple(int(v) for v in args.crop.split(",")))


if __name__ == "__main__":
    main()
