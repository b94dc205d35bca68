"""Fuzzing the three readers of untrusted files: image loader, recipe parser, style file reader.

On any bytes each must return its result or raise EigenstyleError (one line for
the user), never anything else. Pure random bytes rarely get past a format's
magic number, so most examples are small valid files with bytes flipped,
truncated or spliced. Example counts are bounded so the file runs in seconds.
"""

import io
import json
import os
import struct
import tempfile

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin
from safetensors.torch import save

from eigenstyle import images, recipe
from eigenstyle.errors import EigenstyleError
from eigenstyle.stylefile import load_style

import corpus

# CI: 150 examples per test, the same ones every run; EIGENSTYLE_FUZZ_EXAMPLES=5000 explores afresh.
DEEP = int(os.environ.get("EIGENSTYLE_FUZZ_EXAMPLES", "0"))
FUZZ = settings(
    max_examples=DEEP or 150,
    deadline=None,
    derandomize=not DEEP,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
pytestmark = pytest.mark.filterwarnings("ignore::eigenstyle.images.InputNote")
WORK = tempfile.mkdtemp(prefix="eigenstyle-fuzz-")


def _seed_images():
    pic = corpus._picture(20, 18)
    out = {}
    for fmt, kw in (("PNG", {}), ("JPEG", {"quality": 80}), ("GIF", {}), ("WEBP", {}), ("TIFF", {}), ("BMP", {})):
        buf = io.BytesIO()
        pic.save(buf, fmt, **kw)
        out[fmt] = buf.getvalue()
    folder = tempfile.mkdtemp(dir=WORK)
    for make in (corpus.png16_rgb, corpus.exif_rotated, corpus.animated_gif, corpus.palette_transparency):
        with open(make(folder), "rb") as f:
            out[make.__name__] = f.read()
    return out


SEEDS = _seed_images()


@st.composite
def mutated(draw, seeds):
    """A seed file with a few bytes overwritten, a slice cut out, or cut short."""
    data = bytearray(draw(st.sampled_from(sorted(seeds.values()))))
    for _ in range(draw(st.integers(0, 6))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    if draw(st.booleans()) and len(data) > 2:
        i = draw(st.integers(0, len(data) - 1))
        j = draw(st.integers(i, min(len(data), i + 64)))
        data[i:j] = draw(st.binary(max_size=16))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


def _file(data: bytes, name: str) -> str:
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _load_image(data: bytes):
    try:
        im = images.load_rgb(_file(data, "fuzz.img"), "content image")
    except EigenstyleError as e:
        assert "\n" not in str(e)
        return
    assert im.mode == "RGB" and min(im.size) >= images.MIN_SIDE


@FUZZ
@given(st.binary(max_size=512))
@example(b"")
@example(b"\x89PNG\r\n\x1a\n")
@example(corpus.png_header(1 << 30, 1 << 30))
@example(corpus.png_header(0, 0))
def test_image_loader_on_arbitrary_bytes(data):
    _load_image(data)


@FUZZ
@given(mutated(SEEDS))
def test_image_loader_on_damaged_images(data):
    _load_image(data)


def _parse(text):
    try:
        data = recipe.parse(text, "fuzz.png")
    except EigenstyleError as e:
        assert "\n" not in str(e)
        return
    assert isinstance(data["options"], dict)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=12,
)
OPTION_NAMES = st.sampled_from(
    [
        "size",
        "iterations",
        "content_layers",
        "style_layers",
        "style_weight",
        "spread",
        "scales",
        "style_blend_weights",
        "levels",
        "init",
        "device",
        "seed",
        "mode",
        "random_layers",
        "style_file",
        "genome",
        "strength",
        "symmetric",
        "unknown",
    ]
)


@FUZZ
@given(st.text(max_size=300))
@example("[" * 100_000)
@example('{"format": "eigenstyle-recipe", "version": 1e999}')
def test_recipe_parser_on_arbitrary_text(text):
    _parse(text)


@FUZZ
@given(st.dictionaries(OPTION_NAMES, JSON, max_size=4), st.sampled_from(["content", "styles", "version", None]), JSON)
@example({"scales": []}, None, None)  # found by this test: an IndexError in Options.validate
def test_recipe_parser_on_recipes_with_odd_values(options, key, value):
    data = json.loads(corpus._recipe(options=options))
    if key:
        data[key] = value
    _parse(json.dumps(data))


@settings(max_examples=DEEP or 40, deadline=None, derandomize=not DEEP)
@given(st.text(max_size=200))
def test_recipe_reader_on_pngs_carrying_any_text(text):
    info = PngImagePlugin.PngInfo()
    info.add_itxt("eigenstyle-recipe", text, zip=True)
    path = os.path.join(WORK, "recipe.png")
    Image.new("RGB", (4, 4)).save(path, pnginfo=info)
    try:
        recipe.read_recipe(path)
    except EigenstyleError:
        pass


def _style_seed(meta=None, tensors=None):
    header = {
        "format": "eigenstyle-style",
        "version": 1,
        "layers": ["relu2_1"],
        "weights": {"model": "vgg19-caffe-q8", "sha256": "0" * 64},
    }
    header.update(meta or {})
    return save(tensors or {"relu2_1": torch.eye(128)}, metadata={"eigenstyle-style": json.dumps(header)})


STYLE_SEEDS = {
    "good": _style_seed(),
    "two": _style_seed({"layers": ["relu1_1", "relu2_1"]}, {"relu1_1": torch.eye(64), "relu2_1": torch.eye(128)}),
}


def _load_style(data):
    try:
        grams, meta = load_style(_file(data, "fuzz.safetensors"))
    except EigenstyleError as e:
        assert "\n" not in str(e)
        return
    assert all(torch.isfinite(g).all() and g.shape[1] == g.shape[2] for g in grams.values())
    assert isinstance(meta["weights"], dict)


@FUZZ
@given(st.binary(max_size=300))
@example(struct.pack("<Q", 1 << 40) + b"{}")
def test_style_reader_on_arbitrary_bytes(data):
    _load_style(data)


@FUZZ
@given(mutated(STYLE_SEEDS))
def test_style_reader_on_damaged_style_files(data):
    _load_style(data)


@FUZZ
@given(st.dictionaries(st.sampled_from(["format", "version", "layers", "weights", "eigenstyle"]), JSON, max_size=3))
def test_style_reader_on_odd_metadata(meta):
    _load_style(_style_seed(meta))


def test_seeds_are_valid():
    """The mutation seeds load cleanly, so the damaged examples start from real files."""
    for name, data in SEEDS.items():
        assert images.load_rgb(_file(data, "seed.img")).mode == "RGB", name
    for data in STYLE_SEEDS.values():
        load_style(_file(data, "seed.safetensors"))
