"""``eigenstyle demo``: what eigenstyle is for, on the bundled samples.

The Tübingen photo in the style of The Starry Night four times: plain neural style, then two
*variants* and a *fantasy* of the same style (its Gram matrices randomised: new styles from one
style image). Each result is written with its recipe (randomised ones with their swatch, the new
style as a small texture), and a labelled sheet puts them side by side:

    content | style     | plain
    variant | variant   | fantasy

Sized to finish in about a minute on a 2-core CPU: small pictures, a short run from the content,
small swatches. ``eigenstyle stylize`` and ``eigenstyle variants`` make the full-size versions.
"""

from __future__ import annotations

import os
from importlib import resources

from . import images
from .errors import EigenstyleError

# (label, file suffix, options): the plain style first, then what randomising it gives
RUNS = (
    ("plain neural style", "", {"mode": "none"}),
    ("variant 1", "-variant-1", {"mode": "variant", "variant_seed": 1}),
    ("variant 2", "-variant-2", {"mode": "variant", "variant_seed": 2}),
    ("fantasy 1", "-fantasy-1", {"mode": "fantasy", "variant_seed": 1}),
)
SIZE, ITERATIONS = 160, 50
SWATCH = {"swatch_size": 64, "swatch_iterations": 40}  # the studio's swatch side, fewer iterations


def sample(name: str) -> str:
    """Path of a bundled sample image (tubingen.jpg, starry_night.jpg)."""
    path = resources.files("eigenstyle") / "samples" / name
    if not path.is_file():
        raise EigenstyleError(f"bundled sample {name} is missing from the installation")
    return str(path)


def run_demo(
    out_dir: str = "eigenstyle-demo",
    *,
    size: int = SIZE,
    iterations: int = ITERATIONS,
    progress: bool = True,
    seed: int = 0,
) -> dict:
    """Run the demo into ``out_dir``; returns the paths written (``images``, ``sheet``) and the results."""
    from .engine import stylize

    os.makedirs(out_dir, exist_ok=True)
    content, style = sample("tubingen.jpg"), sample("starry_night.jpg")
    print(
        f"eigenstyle demo: {os.path.basename(content)} in the style of {os.path.basename(style)}, plain, "
        f"2 variants and a fantasy, {size} px, {iterations} iterations each -> {out_dir}/"
    )
    stem = os.path.join(out_dir, "tubingen_starry_night")
    paths, results = [], []
    for label, suffix, mode in RUNS:
        if progress:
            print(f"{label}:")
        output = images.free_name(f"{stem}{suffix}.png")
        extra = SWATCH if mode["mode"] != "none" else {}
        result = stylize(
            content,
            style,
            size=size,
            iterations=iterations,
            seed=seed,
            init="image",
            progress=progress,
            output=output,
            **mode,
            **extra,
        )
        paths.append(output)
        results.append(result)
    sheet_path = images.free_name(os.path.join(out_dir, "sheet.jpg"))
    images.save_atomic(demo_sheet(content, style, results), sheet_path)
    print(f"wrote {', '.join(paths)} (recipes embedded: `eigenstyle reproduce FILE`) and {sheet_path}")
    return {"image": paths[0], "images": paths, "sheet": sheet_path, "result": results[0], "results": results}


def demo_sheet(content: str, style: str, results: list, height: int = 240):
    """content | style | plain over the randomised results, labelled; each swatch inset in its corner."""
    from .explore import contact_sheet

    tiles = [(images.load_rgb(content), "content"), (images.load_rgb(style), "style")]
    for (label, _, _), result in zip(RUNS, results):
        picture = result.image.copy()
        if result.swatch is not None:
            side = max(16, picture.height // 3)
            inset = result.swatch.convert("RGB").resize((side, side))
            picture.paste((255, 255, 255), (picture.width - side - 4, picture.height - side - 4) + picture.size)
            picture.paste(inset, (picture.width - side - 2, picture.height - side - 2))
        tiles.append((picture, label + (" (swatch in the corner)" if result.swatch is not None else "")))
    return contact_sheet(tiles, columns=3, gap=8, height=height)
