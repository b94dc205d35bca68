"""The README gallery: rows of results kept by benchmarks/quality.py, each with its swatch inset.

Each row is one ``--keep`` folder of one content/style pair and layer set (run with ``--plain 1 --modes
variant:4,fantasy:2,random:1 --config default:``): plain, variants 0-3, fantasy 0-1 and random 0, in
that order, at their full size, labelled, with the randomised results' swatches in their corner.

    python benchmarks/quality.py --size 384 --iterations 200 --plain 1 --modes variant:4,fantasy:2,random:1 \\
        --pair tubingen:starry_night --layers relu3_2 --config default: --keep /tmp/gal/a
    python benchmarks/gallery.py --row "/tmp/gal/a:Tübingen + The Starry Night, relu3_2" -o docs/gallery.jpg
"""

import argparse
import glob
import os

from PIL import Image, ImageDraw, ImageFont

ORDER = (
    ("plain-none", 1, "plain"),
    ("default-variant", 4, "variant"),
    ("default-fantasy", 2, "fantasy"),
    ("default-random", 1, "random"),
)
INSET = 0.3  # the swatch's side, as a fraction of the tile's shorter side


def _font(size):
    """DejaVu Sans where the system has it (accents: Tübingen), else Pillow's own font."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def find(folder, group, i):
    hits = sorted(p for p in glob.glob(os.path.join(folder, f"*-{group}-{i}.png")))
    if len(hits) != 1:
        raise SystemExit(f"{folder}: expected one *-{group}-{i}.png, found {len(hits)}")
    return hits[0]


def tile(path, label, width):
    """One result scaled to ``width``, its swatch inset at the bottom right, with a thin border."""
    im = Image.open(path).convert("RGB")
    im = im.resize((width, round(im.height * width / im.width)), Image.LANCZOS)
    swatch = path[:-4] + ".swatch.png"
    if os.path.exists(swatch):
        side = round(min(im.size) * INSET)
        sw = Image.open(swatch).convert("RGB").resize((side, side), Image.LANCZOS)
        framed = Image.new("RGB", (side + 4, side + 4), "white")
        framed.paste(sw, (2, 2))
        im.paste(framed, (im.width - side - 6, im.height - side - 6))
    return im, label


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--row", action="append", required=True, help="FOLDER:TITLE, one per row")
    ap.add_argument("--width", type=int, default=384, help="width of each tile (default: 384, the results' own)")
    ap.add_argument("--columns", type=int, default=4)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    gap, label_h, title_h = 8, 22, 30
    rows = []
    for spec in args.row:
        folder, _, title = spec.partition(":")
        tiles = [
            tile(find(folder, group, i), f"{name} {i + 1}" if n > 1 else name, args.width)
            for group, n, name in ORDER
            for i in range(n)
        ]
        rows.append((title, tiles))
    cell_h = max(im.height for _, tiles in rows for im, _ in tiles) + label_h
    lines = [-(-len(tiles) // args.columns) for _, tiles in rows]
    width = args.columns * (args.width + gap) + gap
    height = sum(title_h + n * (cell_h + gap) for n in lines) + gap
    sheet = Image.new("RGB", (width, height), "white")
    draw, font, bold = ImageDraw.Draw(sheet), _font(15), _font(19)
    y = gap
    for (title, tiles), n in zip(rows, lines):
        draw.text((gap, y + 4), title, fill="black", font=bold)
        y += title_h
        for i, (im, label) in enumerate(tiles):
            x, yy = gap + (i % args.columns) * (args.width + gap), y + (i // args.columns) * (cell_h + gap)
            sheet.paste(im, (x, yy))
            draw.text((x + 2, yy + im.height + 3), label, fill="black", font=font)
        y += n * (cell_h + gap)
    sheet.save(args.output, quality=80, optimize=True, progressive=True)
    print(f"wrote {args.output} ({sheet.width}x{sheet.height}, {os.path.getsize(args.output) // 1024} KB)")


if __name__ == "__main__":
    main()
