"""benchmarks/quality.py's stroke-scale score (issue 35) on pictures whose answer is known."""

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
