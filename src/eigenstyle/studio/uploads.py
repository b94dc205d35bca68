"""Input images: bounded in bytes and pixels, decoded and re-encoded before use.

An upload is never used as sent: it is written under a generated name, its
header checked against the pixel bound *before* decoding (no decompression
bombs), decoded by the engine's own reader (``images.load_rgb``: EXIF rotation,
alpha, 16-bit...) and re-encoded as a plain RGB PNG, again under a generated
name. The name the browser sent is only a label.
"""

from __future__ import annotations

import os
import unicodedata

from PIL import Image

from .. import images
from ..errors import EigenstyleError
from .store import Store, new_id

MAX_BYTES = 20 * 2**20
MAX_PIXELS = 40_000_000


class TooLarge(EigenstyleError):
    """An upload over the byte or pixel bound (HTTP 413)."""


def label(name: str | None) -> str:
    """A display label from a client-sent file name: no folders, no control characters, short."""
    name = os.path.basename((name or "").replace("\\", "/"))
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    return name[:80] or "upload"


def add_image(
    store: Store, data: bytes, name: str | None, *, max_pixels: int = MAX_PIXELS, sample: bool = False, mask=False
) -> tuple[dict, bool]:
    """Check, decode, re-encode and record an image (``mask``: a mask of regions); returns (input record,
    newly added)."""
    from ..recipe import identity_of_pixels

    shown = label(name)
    if not data:
        raise EigenstyleError(f"{shown}: the upload is empty")
    tmp = store.path("tmp", new_id(), ".upload")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        try:
            with Image.open(tmp) as im:
                w, h = im.size
        except Exception:  # not even a header: load_rgb below words the error
            w = h = 0
        if w * h > max_pixels:
            raise TooLarge(
                f"{shown}: {w}x{h} is {w * h / 1e6:.0f} megapixels; the studio takes at most {max_pixels / 1e6:.0f}"
            )
        try:
            rgb = images.load_rgb(tmp, shown)
        except EigenstyleError as e:  # its message names the temporary file: name the upload instead
            raise EigenstyleError(str(e).replace(tmp, "the upload")) from None
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
    sha = identity_of_pixels(rgb)["sha256"]
    return store.add_input(
        shown,
        sha,
        rgb.width,
        rgb.height,
        sample=sample,
        mask=mask,
        write=lambda ident: images.save_atomic(rgb, store.input_path(ident)),
    )


def add_samples(store: Store) -> list[dict]:
    """The bundled sample images, offered on the page (stored once per workspace)."""
    from ..demo import sample

    out = []
    for name in ("tubingen.jpg", "starry_night.jpg"):
        with open(sample(name), "rb") as f:
            out.append(add_image(store, f.read(), name, sample=True)[0])
    return out
