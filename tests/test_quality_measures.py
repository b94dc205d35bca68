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


def _sample(name, side=160):
    from eigenstyle.demo import sample
    from eigenstyle.images import fit_size, load_rgb, resize

    im = load_rgb(sample(name))
    return resize(im, fit_size(*im.size, side))


def test_novelty_is_zero_for_the_same_picture_and_one_for_the_yardstick():
    from quality import descriptor, novelty, style_distance

    a, b = descriptor(_sample("tubingen.jpg")), descriptor(_sample("starry_night.jpg"))
    assert style_distance(a, a) == 0.0
    reference = style_distance(a, b)
    assert reference > 0.5  # a photograph and a painting: far apart in every part
    assert abs(novelty(b, [a], reference) - 1.0) < 1e-12
    assert novelty(a, [a, b], reference) == 1.0  # a result is not compared with itself


def test_a_recoloured_copy_moves_the_palette_and_not_the_strokes():
    from quality import descriptor, descriptor_parts

    from eigenstyle.swatch import turn_hue

    im = _sample("starry_night.jpg")
    base = descriptor(im)
    turned = descriptor_parts(base, descriptor(turn_hue(im, 120)))
    other = descriptor_parts(base, descriptor(_sample("tubingen.jpg")))
    assert turned["colour"] > 5.0  # Lab units: a visibly other palette
    assert turned["strokes"] < 0.2 * other["strokes"]
    assert turned["spectrum"] < 0.1  # e-folds: L* is not quite the luma the turn keeps, so the bands move a little
    shifted = descriptor_parts(base, descriptor(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    assert shifted["colour"] < 0.5 and shifted["spectrum"] < 0.05  # the same style, mirrored: palette and scale kept
    assert shifted["strokes"] > 0.05  # a mirror turns each stroke's orientation: the strokes part sees it


def test_a_noisier_copy_is_nearer_than_another_painting():
    from quality import descriptor, style_distance

    im = _sample("starry_night.jpg")
    rng = np.random.default_rng(0)
    noisy = np.asarray(im, dtype=np.float64) + rng.normal(0, 4, (im.size[1], im.size[0], 3))
    noisy = Image.fromarray(noisy.clip(0, 255).astype(np.uint8))
    base = descriptor(im)
    assert style_distance(base, descriptor(noisy)) < 0.5 * style_distance(base, descriptor(_sample("tubingen.jpg")))


def _field(h=192, w=256, seed=1):
    """A random texture with a natural image's 1/f spectrum: broad, no period."""
    rng = np.random.default_rng(seed)
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :])
    f[0, 0] = 1
    x = np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=(h, w))) / f))
    return 128 + 40 * (x - x.mean()) / x.std()


def _grey(a):
    return Image.fromarray(np.repeat(a.clip(0, 255).astype(np.uint8)[..., None], 3, axis=2))


def test_a_grating_or_a_dotted_grid_over_a_quarter_is_found_with_its_period():
    from quality import periodic

    base = _field()
    yy, xx = np.mgrid[0 : base.shape[0], 0 : base.shape[1]]
    left = xx < base.shape[1] // 4
    for period, angle in ((5.0, 0.0), (3.3, 0.7), (5.7, 1.2)):
        wave = 25 * np.cos(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
        found = periodic(_grey(base + wave * left))
        assert found["score"] > 0.1, (period, found)
        assert abs(found["period"] - period) < 0.25 * period, (period, found)  # within the spectrum's bins
    for period in (4, 6):
        dots = left & (xx % period < 2) & (yy % period < 2)
        found = periodic(_grey(base + 60.0 * dots))
        assert found["score"] > 0.1 and abs(found["period"] - period) < 0.25 * period, (period, found)


def test_textures_and_pictures_without_a_period_score_near_zero():
    from quality import periodic

    assert periodic(_grey(_field()))["score"] < 0.02
    assert periodic(_grey(_field(seed=2)))["score"] < 0.02
    # brush strokes are not a grating (at 300 px: at 256 the 512 px JPEG's 8 px blocks become a real 4 px grid)
    assert periodic(_sample("starry_night.jpg", 300))["score"] < 0.05
