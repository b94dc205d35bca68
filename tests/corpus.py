"""Generators for the bad-input corpus: small odd files, made with PIL on demand.

Each generator writes one file (or folder) into ``folder`` and returns its path;
nothing is kept in the repository, so the corpus cannot go stale or grow large.
"""

import io
import json
import os
import struct
import zlib

import numpy as np
from PIL import Image, PngImagePlugin


def _picture(w=64, h=48):
    """A small image with structure (gradients), so a stylisation has something to do."""
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), (x + y) * 127 // max(1, w + h - 2)], -1)
    return Image.fromarray(a.astype(np.uint8), "RGB")


def _png_bytes(im, **kw):
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


def _jpeg_bytes(im, **kw):
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def _chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _write(folder, name, data):
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


# --- files that are not usable images -------------------------------------------------------


def zero_byte(folder):
    return _write(folder, "empty.png", b"")


def truncated_png(folder):
    data = _png_bytes(_picture())
    return _write(folder, "truncated.png", data[: len(data) // 2])


def truncated_jpeg(folder):
    data = _jpeg_bytes(_picture())
    return _write(folder, "truncated.jpg", data[: len(data) // 2])


def text_as_jpg(folder):
    return _write(folder, "notes.jpg", b"just some text, not a picture\n")


def html_as_jpg(folder):
    return _write(folder, "page.jpg", b"<!DOCTYPE html><html><body>404 Not Found</body></html>\n")


def bomb_png(folder):
    """A valid PNG header claiming 100000 x 100000 px, in a few dozen bytes."""
    return _write(folder, "bomb.png", png_header(100_000, 100_000))


def one_by_one(folder):
    return _write(folder, "dot.png", _png_bytes(Image.new("RGB", (1, 1), (200, 30, 30))))


def sliver(folder):
    return _write(folder, "sliver.png", _png_bytes(_picture(1, 5000)))


def svg(folder):
    return _write(
        folder,
        "drawing.svg",
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
        b'width="64" height="48"><rect width="64" height="48" fill="red"/></svg>\n',
    )


def directory(folder):
    path = os.path.join(folder, "photos.jpg")
    os.mkdir(path)
    return path


# --- images that are merely unusual: accepted and converted ---------------------------------


def png16(folder):
    """16-bit grey (PIL mode I;16)."""
    a = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    return _write(folder, "deep.png", _png_bytes(Image.fromarray(a)))


def png16_rgb(folder):
    """16-bit RGB, written by hand (PIL cannot save it): colour type 2, bit depth 16."""
    h, w = 48, 64
    a = np.asarray(_picture(w, h), dtype=np.uint16) * 257
    raw = b"".join(b"\0" + a[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    return _write(folder, "deep-rgb.png", data)


def cmyk_jpeg(folder):
    return _write(folder, "print.jpg", _jpeg_bytes(_picture().convert("CMYK")))


def palette_transparency(folder):
    im = _picture().convert("P", palette=Image.ADAPTIVE, colors=16)
    return _write(folder, "palette.png", _png_bytes(im, transparency=0))


def la(folder):
    grey = _picture().convert("L")
    alpha = Image.new("L", grey.size, 128)
    return _write(folder, "grey-alpha.png", _png_bytes(Image.merge("LA", (grey, alpha))))


def grayscale(folder):
    return _write(folder, "grey.jpg", _jpeg_bytes(_picture().convert("L")))


def rgba(folder):
    im = _picture().convert("RGBA")
    im.putalpha(100)
    return _write(folder, "alpha.png", _png_bytes(im))


def exif_rotated(folder):
    """64x32 stored pixels with EXIF orientation 6 (rotate 90 degrees clockwise): shows as 32x64."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return _write(folder, "rotated.jpg", _jpeg_bytes(_picture(64, 32), exif=exif.tobytes()))


def animated_gif(folder):
    frames = [Image.new("RGB", (64, 48), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return _write(folder, "animated.gif", buf.getvalue())


def webp(folder):
    buf = io.BytesIO()
    _picture().save(buf, "WEBP", quality=80)
    return _write(folder, "photo.webp", buf.getvalue())


def multipage_tiff(folder):
    pages = [_picture(), Image.new("RGB", (64, 48), "blue")]
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:])
    return _write(folder, "scan.tiff", buf.getvalue())


def png_header(width, height):
    """A PNG that claims width x height RGB pixels in a few dozen bytes (its data is a stub)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0" * 64)) + _chunk(b"IEND", b"")
    )


# --- recipes and style files ----------------------------------------------------------------


def _png_with_recipe(folder, name, text):
    info = PngImagePlugin.PngInfo()
    info.add_itxt("eigenstyle-recipe", text, zip=True)
    return _write(folder, name, _png_bytes(_picture(), pnginfo=info))


def _recipe(**changes):
    data = {
        "format": "eigenstyle-recipe",
        "version": 1,
        "eigenstyle": "0.1.0",
        "options": {"size": 32, "iterations": 2},
        "content": {"path": "c.jpg", "sha256": "0" * 64},
        "styles": [{"path": "s.jpg", "sha256": "0" * 64}],
    }
    data.update(changes)
    return json.dumps(data)


def corrupt_recipe(folder):
    return _png_with_recipe(folder, "corrupt.png", _recipe()[:40])


def future_recipe(folder):
    return _png_with_recipe(folder, "future.png", _recipe(version=99, eigenstyle="9.0.0"))


def malformed_recipe(folder):
    return _png_with_recipe(folder, "malformed.png", _recipe(options={"size": 3}))


def plain_png(folder):
    return _write(folder, "plain.png", _png_bytes(_picture()))


def _style_file(folder, name, tensor, **meta):
    from safetensors.torch import save

    header = {
        "format": "eigenstyle-style",
        "version": 1,
        "layers": ["relu2_1"],
        "weights": {"model": "vgg19-caffe-q8", "sha256": "0" * 64},
        **meta,
    }
    return _write(folder, name, save({"relu2_1": tensor}, metadata={"eigenstyle-style": json.dumps(header)}))


def truncated_style(folder):
    import torch

    path = _style_file(folder, "truncated.safetensors", torch.eye(128))
    data = open(path, "rb").read()
    return _write(folder, "truncated.safetensors", data[: len(data) // 2])


def style_wrong_shape(folder):
    import torch

    return _style_file(folder, "shape.safetensors", torch.eye(64))


def style_nan(folder):
    import torch

    return _style_file(folder, "nan.safetensors", torch.full((128, 128), float("nan")))


def style_future(folder):
    import torch

    return _style_file(folder, "future.safetensors", torch.eye(128), version=99, eigenstyle="9.0.0")
