"""Behaviour unchanged: the golden set's recipes (tests/golden, made before the refactoring of issue 34)
reproduce pixel for pixel with today's code.

Every kind of run is there: each mode, a single style layer, a batch, coarse to fine, tiles, a render, a
style file written and read, a mutation and an in-between, original colours at 16 bits. The comparison is
exact on the CPU the set was made on (manifest.json names it) and within a small tolerance on another,
whose kernels round in another order (tests/golden/make.py says how to make the set exact there).
"""

import json
import os
import shutil

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from eigenstyle import recipe
from eigenstyle.demo import sample
from eigenstyle.engine import stylize

from golden.make import cpu

HERE = os.path.join(os.path.dirname(__file__), "golden")
MANIFEST = json.load(open(os.path.join(HERE, "manifest.json")))
IMAGES = [(name, f) for name, case in MANIFEST["cases"].items() for f in case["files"] if f.endswith(".png")]


def same_cpu() -> bool:
    return cpu() == MANIFEST["cpu"]  # the set's own description of a CPU (golden/make.py)


def pixels(path: str) -> np.ndarray:
    """An image file's pixels as stored: 8- or 16-bit RGB (Pillow reads 16-bit RGB PNGs as 8 bits)."""
    import png

    w, h, rows, info = png.Reader(filename=path).asRGB()
    return np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, 3)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The golden files, copied where the recipes' paths can be pointed at them."""
    where = tmp_path_factory.mktemp("golden")
    shutil.copytree(os.path.join(HERE, "files"), where, dirs_exist_ok=True)
    return where


def again(path: str, where, **extra):
    """Run the recipe of ``path`` again, its recorded files (start image, style file) found in ``where``."""
    data = recipe.read_recipe(path)
    opts = recipe.options_of(data)
    moved = {}
    for name in ("init", "style_file"):
        value = getattr(opts, name)
        if value not in (None, "random", "image"):
            moved[name] = str(where / os.path.basename(value))
    styles = [] if opts.style_file else [sample("starry_night.jpg")]
    return stylize(sample("tubingen.jpg"), styles, opts.replace(**moved), **extra)


@pytest.mark.slow
@pytest.mark.parametrize("name,file", IMAGES, ids=[f for _, f in IMAGES])
def test_a_golden_recipe_reproduces_pixel_for_pixel(name, file, files, tmp_path):
    path = os.path.join(HERE, "files", file)
    result = again(path, files)
    if result.bit_depth == 16:
        out = tmp_path / "out.png"
        result.save(str(out))
        got, want, unit = pixels(str(out)), pixels(path), 65535
    else:
        got, want, unit = np.asarray(result.image), np.asarray(Image.open(path).convert("RGB")), 255
    assert got.shape == want.shape
    if same_cpu():
        assert np.array_equal(got, want), f"{file}: {np.abs(got.astype(float) - want).max()} levels apart"
    else:  # another CPU's rounding, grown over a few iterations: close, not equal
        assert np.abs(got.astype(float) - want).mean() / unit < 0.02


@pytest.mark.slow
def test_a_golden_style_file_is_written_again_exactly(files, tmp_path):
    path = os.path.join(HERE, "files", "save_style.png")
    again(path, files, save_style=str(tmp_path / "style.safetensors"))
    got, want = (
        load_file(str(tmp_path / "style.safetensors")),
        load_file(os.path.join(HERE, "files", "style.safetensors")),
    )
    assert got.keys() == want.keys()
    for k in want:
        if same_cpu():
            assert (got[k] == want[k]).all(), k
        else:
            assert np.allclose(got[k].numpy(), want[k].numpy(), rtol=1e-2, atol=1e-3), k
