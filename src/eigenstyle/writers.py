"""Writers for what Pillow cannot write: 16-bit-per-channel RGB PNG, and TIFF with the recipe.

Pillow stores RGB only at 8 bits per channel, so a print-size render would lose the
optimiser's float image to 8-bit rounding. Two writers fill the gap:

* PNG: a small encoder here (numpy + zlib, no new dependency) rather than pypng, whose
  pure-Python row loop is slow at print sizes (6000x4000 px: 144 MB of samples). The rows
  are filtered in numpy blocks with libpng's per-row heuristic (the filter, of the five,
  with the smallest sum of absolute signed bytes), then deflated; the recipe is an iTXt
  chunk before the image data, as Pillow writes it for 8-bit outputs.
* TIFF: tifffile (pure Python + numpy; its zlib codec needs no compiled plugins), 8- and
  16-bit, Adobe-deflate compressed with the horizontal predictor (libtiff, Photoshop, GIMP,
  Pillow and tifffile read it). The recipe is the ImageDescription tag (270) as
  ``eigenstyle-recipe:`` + JSON; TIFF text must be 7-bit ASCII, so any other character is
  written as its JSON escape (the JSON means the same).
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from typing import BinaryIO

import numpy as np

from ._version import __version__

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROWS_PER_BLOCK = 64  # rows filtered at once: bounds the filter's temporaries to a few MB
IDAT_BYTES = 1 << 20  # compressed bytes per IDAT chunk


def quantise(a: np.ndarray, bit_depth: int) -> np.ndarray:
    """A float image in [0, 1] as uint8 or uint16 samples, rounded to the nearest level."""
    top, dtype = (65535.0, np.uint16) if bit_depth == 16 else (255.0, np.uint8)
    a = np.nan_to_num(np.asarray(a, dtype=np.float32), nan=0.0)  # float32: within 0.005 of a 16-bit level
    return np.rint(np.clip(a, 0.0, 1.0) * np.float32(top)).astype(dtype)


def _chunk(f: BinaryIO, kind: bytes, data: bytes) -> None:
    f.write(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _filtered(raw: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    """PNG-filter rows ``raw`` (uint8, rows x stride; ``prev``: the row above the first): each row
    prefixed by the byte of the filter that gave the smallest sum of absolute signed bytes."""
    x = raw.astype(np.int16)
    up = np.vstack([prev[None].astype(np.int16), x[:-1]])
    left = np.zeros_like(x)
    left[:, bpp:] = x[:, :-bpp]
    upleft = np.zeros_like(x)
    upleft[:, bpp:] = up[:, :-bpp]
    pa, pb, pc = np.abs(up - upleft), np.abs(left - upleft), np.abs(left + up - 2 * upleft)
    paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
    candidates = np.stack([x, x - left, x - up, x - ((left + up) >> 1), x - paeth]) & 0xFF
    cost = np.minimum(candidates, 256 - candidates).sum(axis=2)  # [5, rows]
    best = cost.argmin(axis=0)
    rows = np.arange(x.shape[0])
    out = np.empty((x.shape[0], x.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = best
    out[:, 1:] = candidates[best, rows]
    return out


def write_png(f: BinaryIO, samples: np.ndarray, text: str | None = None, key: str = "eigenstyle-recipe") -> None:
    """RGB PNG of ``samples`` (HxWx3 uint8 or uint16: bit depth 8 or 16, big-endian samples) with
    ``text`` as a zipped iTXt chunk ``key``."""
    h, w, _ = samples.shape
    depth = 16 if samples.dtype == np.uint16 else 8
    raw = np.ascontiguousarray(samples, dtype=">u2" if depth == 16 else np.uint8).view(np.uint8).reshape(h, -1)
    f.write(PNG_SIGNATURE)
    _chunk(f, b"IHDR", struct.pack(">IIBBBBB", w, h, depth, 2, 0, 0, 0))  # colour type 2: RGB
    if text is not None:
        _chunk(f, b"iTXt", key.encode("latin-1") + b"\0\x01\x00\0\0" + zlib.compress(text.encode("utf-8")))
    z, pending = zlib.compressobj(6), bytearray()
    prev = np.zeros(raw.shape[1], dtype=np.uint8)
    for r in range(0, h, ROWS_PER_BLOCK):
        block = raw[r : r + ROWS_PER_BLOCK]
        pending += z.compress(_filtered(block, prev, 3 * depth // 8).tobytes())
        prev = block[-1]
        while len(pending) >= IDAT_BYTES:
            _chunk(f, b"IDAT", bytes(pending[:IDAT_BYTES]))
            del pending[:IDAT_BYTES]
    pending += z.flush()
    for i in range(0, len(pending), IDAT_BYTES):
        _chunk(f, b"IDAT", bytes(pending[i : i + IDAT_BYTES]))
    _chunk(f, b"IEND", b"")


def ascii_json(text: str) -> str:
    """JSON text with every non-ASCII character as its \\u escape: the same JSON, 7-bit clean."""
    return re.sub(r"[^\x00-\x7f]", lambda m: json.dumps(m.group())[1:-1], text)


def write_tiff(f: BinaryIO, samples: np.ndarray, text: str | None = None, key: str = "eigenstyle-recipe") -> None:
    """RGB TIFF of ``samples`` (HxWx3 uint8 or uint16) with ``key:text`` as its ImageDescription."""
    import tifffile

    tifffile.imwrite(
        f,
        np.ascontiguousarray(samples),
        photometric="rgb",
        compression="zlib",
        predictor=True,
        description=None if text is None else f"{key}:{ascii_json(text)}",
        metadata=None,  # no tifffile JSON of its own in the description
        software=f"eigenstyle {__version__}",
    )
