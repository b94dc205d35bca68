"""benchmarks/quality.py's stroke-scale score and tiles.py's border (issue 35) on pictures whose answer is known."""

import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
from quality import stroke_scale


def _grating(period: float, h=144, w=192, angle=0.3, offset=128.0):
    yy, xx = np.mgrid[0:h, 0:w]
    a = offset + 100 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    return Image.fromarray(np.repeat(a.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2))


def test_big_forms_score_near_one_and_a_fine_texture_near_zero():
    assert stroke_scale(_grating(192 / 6)) > 0.9  # a period inside a twelfth to a third of the long side
    assert stroke_scale(_grating(192 / 30)) < 0.02  # a fine texture
    assert stroke_scale(_grating(192 / 1.2)) < 0.3  # one wave across the picture: coarser than a stroke


def test_the_score_ignores_brightness_and_a_dark_frame():
    base = stroke_scale(_grating(192 / 20))
    assert abs(stroke_scale(_grating(192 / 20, offset=110)) - base) < 1e-3
    framed = np.asarray(_grating(192 / 20)).copy()
    framed[:4], framed[-4:], framed[:, :4], framed[:, -4:] = 0, 0, 0, 0  # the studio's tiles had one
    assert stroke_scale(Image.fromarray(framed)) < base + 0.05


def test_a_dark_frame_scores_below_one_and_a_flat_picture_one():
    from tiles import border

    flat = np.full((96, 128, 3), 120, np.uint8)
    assert abs(border(Image.fromarray(flat)) - 1.0) < 1e-9
    framed = flat.copy()
    framed[:4], framed[-4:], framed[:, :4], framed[:, -4:] = 102, 102, 102, 102  # 15 % darker, as the tiles
    assert 0.84 < border(Image.fromarray(framed)) < 0.86
    inner = flat.copy()
    inner[4:-4, 4:-4] = 102  # a darker interior: the border is the brighter
    assert border(Image.fromarray(inner)) > 1.1
