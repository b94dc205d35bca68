"""Outputs for print: 16-bit PNG and TIFF from the float image, with the recipe embedded.

The files are read back with independent decoders (pypng for PNG, tifffile for TIFF), never
with eigenstyle's own writer; runs are tiny (32-48 px, 2-4 iterations) on the real VGG.
"""

import json
import os

import numpy as np
import png
import pytest
import tifffile
from PIL import Image

import eigenstyle
from eigenstyle import cli, images, levels, recipe, writers
from eigenstyle.errors import EigenstyleError
from eigenstyle.options import Options

TINY = dict(size=40, iterations=3, seed=5, print_every=0)


def read_png16(path):
    """RGB samples and bit depth of a PNG, decoded by pypng."""
    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    a = np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(height, width, info["planes"])
    return a, info["bitdepth"]


def read_samples(path):
    """(uint16 or uint8 HxWx3 samples, bit depth) by an independent decoder."""
    if str(path).endswith((".tif", ".tiff")):
        a = tifffile.imread(str(path))
        return a, 8 * a.dtype.itemsize
    return read_png16(path)


def gradient(h=37, w=53):
    """A smooth float image whose values 8 bits cannot represent (steps of ~1/50000)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x / (w - 1), y / (h - 1), (x * y) / ((w - 1) * (h - 1)) * 0.01 + 0.4], -1).astype(np.float32)


@pytest.mark.parametrize("name", ["g.png", "g.tif", "g.tiff"])
def test_16_bit_round_trip_with_the_recipe(tmp_path, name, content_path):
    a = gradient()
    data = {"format": "eigenstyle-recipe", "version": 1, "options": {"bit_depth": 16}, "note": "é ✓ 漢"}
    data.update(content={"path": content_path, "sha256": "x"}, styles=[])
    path = images.save_atomic(a, str(tmp_path / name), recipe.dumps(data), bit_depth=16)
    samples, depth = read_samples(path)
    assert depth == 16 and samples.shape == a.shape
    assert np.abs(samples / 65535.0 - a).max() <= 1 / 65535
    assert len(np.unique(samples[..., 2])) > 200  # a 0.01-wide ramp: 3 levels at 8 bits
    assert recipe.read_recipe(path) == json.loads(recipe.dumps(data))
    rgb = images.load_rgb(path)  # usable as an init image: 8-bit RGB within a level
    assert rgb.mode == "RGB" and np.abs(np.asarray(rgb) - a * 255).max() <= 1


def test_8_bit_tiff_with_the_recipe(tmp_path):
    im = images.from_array(gradient())
    path = images.save_atomic(im, str(tmp_path / "e.tif"), '{"a": 1}')
    samples, depth = read_samples(path)
    assert depth == 8 and np.array_equal(samples, np.asarray(im))
    assert images.read_embedded_recipe(path) == '{"a": 1}'
    with tifffile.TiffFile(path) as t:  # the ImageDescription tag, as other tools show it
        assert t.pages[0].tags[270].value == 'eigenstyle-recipe:{"a": 1}'


def test_png_filters_round_trip_any_samples():
    """Every PNG filter the encoder may pick decodes (pypng) to the same samples, 8 and 16 bits."""
    import io

    rng = np.random.default_rng(0)
    for shape in [(1, 1, 3), (3, 2, 3), (150, 41, 3)]:
        noise = rng.integers(0, 65536, shape).astype(np.uint16)
        noise[: shape[0] // 2] = np.linspace(0, 65535, shape[1], dtype=np.uint16)[None, :, None]  # smooth half
        for s in (noise, (noise >> 8).astype(np.uint8)):
            f = io.BytesIO()
            writers.write_png(f, s, "t")
            width, height, rows, info = png.Reader(bytes=f.getvalue()).asDirect()
            back = np.vstack([np.asarray(r) for r in rows]).reshape(height, width, 3)
            assert info["bitdepth"] == 8 * s.dtype.itemsize and np.array_equal(back, s)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, content_path, style_path):
    """The same tiny run at 8 bits, and at 16 bits to PNG (with an intermediate) and TIFF."""
    d = tmp_path_factory.mktemp("out16")
    eight = eigenstyle.stylize(content_path, style_path, output=str(d / "eight.png"), **TINY)
    sixteen = {
        ext: eigenstyle.stylize(content_path, style_path, output=str(d / f"s{ext}"), bit_depth=16, save_every=2, **TINY)
        for ext in (".png", ".tif")
    }
    return d, eight, sixteen


@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.slow
def test_a_16_bit_run_writes_the_float_image(runs, ext):
    d, eight, sixteen = runs
    samples, depth = read_samples(d / f"s{ext}")
    assert depth == 16
    assert recipe.read_recipe(str(d / f"s{ext}"))["options"]["bit_depth"] == 16
    assert recipe.read_recipe(str(d / "eight.png"))["options"]["bit_depth"] == 8
    assert np.abs(np.rint(samples / 257.0) - np.asarray(Image.open(d / "eight.png"))).max() <= 1
    assert np.abs(samples / 65535.0 - sixteen[ext].floats[0]).max() <= 1 / 65535
    assert np.array_equal(np.asarray(sixteen[ext].image), np.asarray(eight.image))  # Result.images stay 8-bit
    assert read_samples(d / f"s_2{ext}")[1] == 16  # intermediates at the run's bit depth


@pytest.mark.parametrize("ext", [".png", ".tif"])
@pytest.mark.slow
def test_reproduce_of_a_16_bit_output_gives_the_same_16_bit_pixels(runs, ext, tmp_path):
    d, _, _ = runs
    again = tmp_path / f"again{ext}"
    assert cli.main(["reproduce", str(d / f"s{ext}"), "-o", str(again), "-q"]) == 0
    a, depth = read_samples(again)
    assert depth == 16 and np.array_equal(a, read_samples(d / f"s{ext}")[0])


@pytest.mark.slow
def test_a_16_bit_output_starts_another_run(runs, content_path, style_path):
    d, _, _ = runs
    r = eigenstyle.stylize(content_path, style_path, **{**TINY, "iterations": 2, "init": str(d / "s.tif")})
    assert r.image.size == (40, 30)


@pytest.mark.slow
def test_levels_and_original_colors_at_16_bits(content_path, style_path, tmp_path):
    """The raw companion is 16-bit too, and the final image is the float pipeline's."""
    out = tmp_path / "lv.png"
    r = eigenstyle.stylize(
        content_path, style_path, output=str(out), bit_depth=16, levels="2", original_colors=True, init="image", **TINY
    )
    assert read_samples(out)[1] == 16 and read_samples(tmp_path / "lv.raw.png")[1] == 16
    assert np.abs(read_samples(out)[0] / 65535.0 - r.floats[0]).max() <= 1 / 65535
    assert np.abs(read_samples(tmp_path / "lv.raw.png")[0] / 65535.0 - r.raw_floats[0]).max() <= 1 / 65535


def _photo_like(content_path):
    """A float image with the range of a real picture, off the 8-bit levels (dithered by noise)."""
    a = images.to_array(images.resize(images.load_rgb(content_path), (160, 120))).astype(np.float64)
    return np.clip(a + (np.random.default_rng(1).random(a.shape) - 0.5) / 255, 0, 1).astype(np.float32)


def _agree(floats, eight):
    """Rounded to 8 bits, the float version is within one level of the 8-bit version almost everywhere:
    the 8-bit one rounds (or, PIL's YCbCr, truncates) two or three times, so a level or two apart at a
    few pixels is its rounding, not a difference of method."""
    d = np.abs(np.rint(floats.astype(np.float64) * 255) - np.asarray(eight, dtype=np.float64))
    assert d.mean() < 0.5 and (d <= 1).mean() > 0.99 and d.max() <= 2, (d.mean(), (d <= 1).mean(), d.max())


@pytest.mark.parametrize("clip", [0.5, 2.0])
def test_levels_in_float_agree_with_the_8_bit_levels(content_path, clip):
    f = _photo_like(content_path)
    _agree(levels.stretch_float(f, clip), levels.stretch(images.from_array(f), clip))
    exact = images.to_array(images.from_array(f))  # on values 8 bits hold, the 8-bit stretch is the float one rounded
    d = levels.stretch_float(exact, clip) * 255 - np.asarray(levels.stretch(images.from_array(exact), clip))
    assert np.abs(d).max() <= 0.5 + 1e-3


def test_original_colors_in_float_agree_with_the_8_bit_version(content_path, style_path):
    content = images.load_rgb(content_path)
    generated = _photo_like(style_path)
    _agree(
        images.original_colors_float(content, generated), images.original_colors(content, images.from_array(generated))
    )


def test_jpeg_at_16_bits_is_refused_with_one_line(content_path, style_path, tmp_path, capsys):
    out = tmp_path / "out.jpg"
    argv = ["stylize", content_path, style_path, "-o", str(out), "--bit-depth", "16", "--size", "32", "-q"]
    assert cli.main(argv + ["--iterations", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "JPEG is always 8-bit" in err and "--bit-depth 16" in err
    assert os.listdir(tmp_path) == []
    with pytest.raises(EigenstyleError, match="JPEG is always 8-bit"):
        images.check_writable(str(out), 16)
    images.check_writable(str(tmp_path / "out.tif"), 16)


def test_jpeg_at_16_bits_is_refused_before_any_computation(content_path, style_path, tmp_path, monkeypatch):
    from eigenstyle import engine

    def computing(*a, **k):
        raise AssertionError("the run started")

    monkeypatch.setattr(engine, "prepare", computing)
    argv = ["stylize", content_path, style_path, "-o", str(tmp_path / "o.jpg"), "--bit-depth", "16", "-q"]
    assert cli.main(argv) == 2


def test_bit_depth_option():
    assert Options().bit_depth == 8
    assert Options.from_dict({"size": 64}).bit_depth == 8  # recipes from before the option
    assert Options.from_mapping({"bit_depth": "16"}).bit_depth == 16
    for bad in (12, "24", True):
        with pytest.raises(EigenstyleError, match="bit_depth must be one of 8, 16"):
            Options.from_mapping({"bit_depth": bad})


@pytest.mark.parametrize("name", ["keep.png", "keep.tif"])
def test_a_failed_16_bit_write_leaves_the_previous_file_and_no_temporary_file(tmp_path, monkeypatch, name):
    out = tmp_path / name
    out.write_bytes(b"previous result")

    def half_then_fail(f, *args, **kwargs):
        f.write(b"half an image")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writers, "write_png", half_then_fail)
    monkeypatch.setattr(writers, "write_tiff", half_then_fail)
    with pytest.raises(EigenstyleError, match="No space left on device; the previous file is kept unchanged"):
        images.save_atomic(gradient(), str(out), "{}", bit_depth=16)
    assert out.read_bytes() == b"previous result" and os.listdir(tmp_path) == [name]


def test_a_tiff_pillow_cannot_decode_is_read_with_tifffile(tmp_path, monkeypatch):
    """Older Pillows lack some 16-bit TIFF codecs: load_rgb then reads the file with tifffile."""
    a = gradient()
    path = images.save_atomic(a, str(tmp_path / "old.tif"), None, bit_depth=16)

    def cannot(*args, **kwargs):
        raise OSError("decoder tiff_adobe_deflate not available")

    monkeypatch.setattr(images.Image, "open", cannot)
    rgb = images.load_rgb(path)
    assert rgb.mode == "RGB" and np.abs(np.asarray(rgb) - a * 255).max() <= 0.5 + 1e-3
    with pytest.raises(EigenstyleError, match="cannot read"):
        images.load_rgb(images.save_atomic(images.from_array(a), str(tmp_path / "x.png")))
