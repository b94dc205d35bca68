"""Level adjustment: a per-channel percentile stretch.

The random modes often end bleak and grey (their targets lie partly out of a
ReLU network's reach); stretching each channel so that its ``clip`` and
``100 - clip`` percentiles land on 0 and 255 brings them alive, as the seed
article found. The raw image is always kept beside the adjusted one.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .errors import EigenstyleError
from .values import option_name

DEFAULT_CLIP = 0.5  # percent


def parse_levels(value) -> float | None:
    """'none' -> None, 'auto' -> 0.5, a number P -> P (percent clipped at each end)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text == "none":
        return None
    if text == "auto":
        return DEFAULT_CLIP
    try:
        p = float(text)
    except ValueError:
        raise EigenstyleError(
            f"{option_name('levels')} must be auto, none or a clip percentage, got {value!r}"
        ) from None
    if not 0.0 <= p < 50.0:
        raise EigenstyleError(f"{option_name('levels')} clip percentage must be in [0, 50), got {value!r}")
    return p


def stretch(im: Image.Image, clip: float) -> Image.Image:
    """Map each channel's clip-th and (100-clip)-th percentiles to 0 and 255."""
    a = np.asarray(im.convert("RGB"), dtype=np.float64)
    out = np.empty_like(a)
    for ch in range(3):
        c = a[..., ch]
        lo, hi = np.percentile(c, [clip, 100.0 - clip])
        out[..., ch] = c if hi - lo < 1e-9 else (c - lo) / (hi - lo) * 255.0
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "RGB")


def stretch_float(a: np.ndarray, clip: float) -> np.ndarray:
    """:func:`stretch` on a float HxWx3 image in [0, 1], for 16-bit outputs: the percentiles of the
    float values, no 8-bit rounding before or after (a narrow channel stretched 5x would otherwise
    show 8-bit steps as 5-level bands)."""
    a = np.asarray(a, dtype=np.float64)
    out = np.empty_like(a)
    for ch in range(3):
        c = a[..., ch]
        lo, hi = np.percentile(c, [clip, 100.0 - clip])
        out[..., ch] = c if hi - lo < 1e-9 / 255.0 else (c - lo) / (hi - lo)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
