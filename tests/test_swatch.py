"""Reachable targets and swatches: the randomised style as a picture, and its Grams as the target."""

import os
import re

import numpy as np
import pytest
import torch
from PIL import Image

import eigenstyle
from eigenstyle import Options, problem
from eigenstyle.images import name_taken, read_embedded_recipe, swatch_path
from eigenstyle.loop import Observer
from eigenstyle.losses import gram
from eigenstyle.recipe import parse
from eigenstyle.stylefile import load_style
from eigenstyle.swatch import missing, network_for, reach
from eigenstyle.targets import to_tensor
from eigenstyle.values import cli_spelling

from conftest import SMALL

LAYERS = ("relu2_1", "relu3_2")
FAST = dict(SMALL, style_layers=LAYERS, swatch_iterations=8)


@pytest.fixture(scope="module")
def base(content_path, style_path):
    return problem.prepare(content_path, [style_path], Options(**FAST).validate())


def grams_of(problem, im):
    """The swatch's Grams as its run measures them (circular padding: the endless tiling's)."""
    with torch.no_grad():
        feats = network_for(problem)(to_tensor(im, problem.pre))
    return {k: gram(feats[k]) for k in problem.opts.style_layers}


def made(base, opts):
    """A variant's problem with its swatch made (vary leaves it due; the runner makes it)."""
    p = problem.vary(base, opts)
    assert missing(p) and p.swatch is None  # preparing optimises nothing
    return reach([p])[0]


@pytest.mark.slow
def test_reachable_targets_are_the_grams_of_the_swatch_picture(base):
    p = made(base, base.opts.replace(mode="variant", variant_seed=4, target="reachable"))
    assert p.swatch.size == (48, 48)  # auto: --size, at most 128
    own = grams_of(p, p.swatch)
    for k in LAYERS:  # the 8-bit picture's own Grams: the swatch PNG, given as a style image, gives the same
        torch.testing.assert_close(p.targets.style[k], own[k], rtol=1e-5, atol=1e-9)
        assert 0 < p.report[k]["swatch_error"] < 2
    raw = made(base, base.opts.replace(mode="variant", variant_seed=4, target="raw"))
    for k in LAYERS:  # reachable targets are a real image's Grams, not G'
        assert not torch.allclose(raw.targets.style[k], p.targets.style[k], rtol=1e-2)
        assert float(raw.targets.style[k].min()) < 0 <= float(p.targets.style[k].min())


@pytest.mark.slow
def test_raw_targets_are_g_prime_and_still_come_with_a_swatch(base):
    from eigenstyle.randomize import Randomization, randomize_targets

    o = base.opts.replace(mode="fantasy", variant_seed=2, target="raw", swatch_size=32)
    p = made(base, o)
    expected, _ = randomize_targets(base.base_style, LAYERS, Randomization("fantasy", genome={"seed": 2}))
    for k in LAYERS:
        torch.testing.assert_close(p.targets.style[k], expected[k])
    assert p.swatch.size == (32, 32)


@pytest.mark.slow
def test_the_swatch_depends_on_the_genome_only(base):
    a = made(base, base.opts.replace(mode="variant", variant_seed=7, seed=1))
    b = made(base, base.opts.replace(mode="variant", variant_seed=7, seed=99))
    c = made(base, base.opts.replace(mode="variant", variant_seed=8, seed=1))
    assert np.array_equal(np.asarray(a.swatch), np.asarray(b.swatch))
    assert not np.array_equal(np.asarray(a.swatch), np.asarray(c.swatch))
    plain = problem.vary(base, base.opts.replace(mode="none"))
    assert plain.swatch is None


@pytest.mark.slow
def test_a_result_saves_its_swatch_with_the_recipe_and_reproduces(content_path, style_path, tmp_path):
    out = tmp_path / "v.png"
    r = eigenstyle.stylize(
        content_path,
        style_path,
        Options(**FAST),
        mode="variant",
        variant_seed=3,
        output=str(out),
        save_style=str(tmp_path / "v.safetensors"),
    )
    sw = swatch_path(str(out))
    assert sw == str(tmp_path / "v.swatch.png") and name_taken(str(tmp_path / "v.png"))
    os_rename = tmp_path / "moved.png"
    out.rename(os_rename)
    assert name_taken(str(out))  # the swatch alone still holds the name: nothing is replaced
    recipe = parse(read_embedded_recipe(sw))
    assert recipe["picture"] == "swatch" and recipe["options"]["target"] == "reachable"
    assert np.array_equal(np.asarray(Image.open(sw).convert("RGB")), np.asarray(r.swatch))
    again = eigenstyle.reproduce(str(os_rename))
    assert np.array_equal(np.asarray(again.image), np.asarray(Image.open(os_rename).convert("RGB")))
    assert np.array_equal(np.asarray(again.swatch), np.asarray(r.swatch))
    grams, meta = load_style(str(tmp_path / "v.safetensors"))
    assert np.array_equal(np.asarray(meta["swatch_image"]), np.asarray(r.swatch))
    assert meta["target"] == "reachable" and set(grams) == set(LAYERS)


@pytest.mark.slow
def test_a_swatch_that_diverges_starts_afresh_and_its_recipe_says_where(
    content_path, style_path, tmp_path, monkeypatch
):
    """The swatch's synthesis is guarded as a run is: a divergence restarts it from its last sane
    picture (loop.optimise). Every rise of the loss counts as one here (BLOW_UP 1: L-BFGS without a
    line search rises now and then), so that it happens on any CPU's arithmetic."""
    from eigenstyle import loop

    monkeypatch.setattr(loop, "BLOW_UP", 1.0)
    monkeypatch.setattr(loop, "MAX_RESTARTS", 1000)
    out = str(tmp_path / "v.png")
    r = eigenstyle.stylize(content_path, style_path, Options(**FAST), mode="variant", variant_seed=3, output=out)
    at = r.recipe["swatch_restarted_at"]
    assert r.error is None and at and all(1 < a <= FAST["swatch_iterations"] for a in at)
    again = eigenstyle.reproduce(out)  # the restarts are part of the recipe's run
    assert again.recipe["swatch_restarted_at"] == at
    assert np.array_equal(np.asarray(again.swatch), np.asarray(r.swatch))
    assert np.array_equal(np.asarray(again.image), np.asarray(r.image))


def test_recipes_from_before_the_target_option_reproduce_raw_targets():
    old = Options(**FAST).replace(mode="variant", variant_seed=1).to_dict()
    for key in ("target", "swatch_size", "swatch_iterations"):
        old.pop(key)
    assert Options.from_dict(old).target == "raw"


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(target="nearest"), "target must be one of reachable, raw"),
        (dict(swatch_size=8), "swatch_size must be an integer >= 16"),
        (dict(swatch_iterations=0), "swatch_iterations must be an integer >= 1"),
    ],
)
def test_bad_swatch_options(changes, message):
    """From Python the message names the option as Python does; the CLI's spelling is its flag."""
    with pytest.raises(eigenstyle.EigenstyleError, match=f"^{re.escape(message)}"):
        Options(**FAST).replace(**changes).validate()
    with cli_spelling(), pytest.raises(eigenstyle.EigenstyleError, match=f"^--{re.escape(message.replace('_', '-'))}"):
        Options(**FAST).replace(**changes).validate()


@pytest.mark.slow
def test_random_layers_leave_the_others_the_paintings_grams_unless_told_all(base):
    o = base.opts.replace(mode="variant", variant_seed=5, random_layers=("relu3_2",))
    raw = made(base, o.replace(target="raw"))
    assert torch.equal(raw.targets.style["relu2_1"], base.base_style["relu2_1"])
    assert not torch.allclose(raw.targets.style["relu3_2"], base.base_style["relu3_2"], rtol=1e-2)
    # only the randomised layer has a randomisation report; every layer says how far the swatch got
    assert "negative_fraction" in raw.report["relu3_2"] and "negative_fraction" not in raw.report["relu2_1"]
    assert all("swatch_error" in raw.report[k] for k in LAYERS)
    # by default the randomised layer takes the swatch's Gram, the other keeps the painting's own (its forms)
    reached = made(base, o.replace(target="reachable"))
    own = grams_of(reached, reached.swatch)
    torch.testing.assert_close(reached.targets.style["relu3_2"], own["relu3_2"], rtol=1e-5, atol=1e-9)
    assert torch.equal(reached.targets.style["relu2_1"], base.base_style["relu2_1"])
    assert not torch.allclose(own["relu2_1"], base.base_style["relu2_1"], rtol=1e-2)
    assert all("swatch_error" in reached.report[k] for k in LAYERS)
    # swatch_layers=all: every layer from one swatch made against every layer's target (layers that agree)
    every = made(base, o.replace(target="reachable", swatch_layers="all"))
    for k, g in grams_of(every, every.swatch).items():
        torch.testing.assert_close(every.targets.style[k], g, rtol=1e-5, atol=1e-9)
    # made against G' alone, the randomised layer's swatch gets nearer to it: not pulled back to the painting
    assert reached.report["relu3_2"]["swatch_error"] < every.report["relu3_2"]["swatch_error"]


@pytest.mark.slow
def test_an_old_raw_recipe_reproduces_pixel_for_pixel(content_path, style_path, tmp_path):
    """A recipe written before --target (no target or swatch keys, an explicit start) still gives its image."""
    from eigenstyle.images import save_atomic
    from eigenstyle.recipe import dumps

    made = eigenstyle.stylize(
        content_path, style_path, Options(**FAST), mode="variant", variant_seed=6, target="raw", init="random"
    )
    old = dict(
        made.recipe,
        options={
            k: v for k, v in made.recipe["options"].items() if k not in ("target", "swatch_size", "swatch_iterations")
        },
    )
    path = str(tmp_path / "old.png")
    save_atomic(made.image, path, dumps(old))
    again = eigenstyle.reproduce(path)
    assert again.recipe["options"]["target"] == "raw"
    assert np.array_equal(np.asarray(again.image), np.asarray(made.image))


def _seam_ratio(picture) -> float:
    """Tiled 2x2, the mean |difference| of neighbouring pixels across the seams over that inside the tiles."""
    a = np.asarray(picture.convert("L"), dtype=np.float64)
    n, m = a.shape
    t = np.tile(a, (2, 2))
    dx, dy = np.abs(np.diff(t, axis=1)), np.abs(np.diff(t, axis=0))
    seam = np.concatenate([dx[:, m - 1], dy[n - 1, :]])
    inside = np.concatenate([np.delete(dx, m - 1, axis=1).ravel(), np.delete(dy, n - 1, axis=0).ravel()])
    return float(seam.mean() / inside.mean())


def _border_ratio(picture, band: int = 3) -> float:
    """Mean luminance of the outer ``band`` px over the interior's: a darker frame is below 1."""
    a = np.asarray(picture.convert("L"), dtype=np.float64)
    inner = a[band:-band, band:-band]
    outer = (a.sum() - inner.sum()) / (a.size - inner.size)
    return float(outer / inner.mean())


@pytest.mark.slow
def test_a_circular_swatch_tiles_seamlessly(content_path, style_path):
    """With circular padding the swatch is one period of an endless texture: tiled, its seams have the
    interior's statistics (over three variants: one seam line is a small sample) and its border is as bright
    as its inside. The zero-padded swatches of the same variants (recipes from before) show their seams."""
    o = Options(size=64, iterations=1, seed=1, print_every=0, style_layers=LAYERS, swatch_iterations=40).validate()
    base = problem.prepare(content_path, [style_path], o)
    seams, borders = {}, {}
    for padding in ("circular", "zeros"):
        pictures = [
            made(base, o.replace(mode="variant", variant_seed=v, swatch_padding=padding)).swatch for v in (1, 2, 3)
        ]
        seams[padding] = float(np.mean([_seam_ratio(p) for p in pictures]))
        borders[padding] = float(np.mean([_border_ratio(p) for p in pictures]))
    assert 0.8 < seams["circular"] < 1.3 and 0.93 < borders["circular"] < 1.07, (seams, borders)
    assert seams["zeros"] > 1.5, seams  # the measure sees a seam where there is one


def test_recipes_from_before_the_swatch_padding_option_reproduce_zero_padding():
    old = Options(**FAST).replace(mode="variant", variant_seed=1).to_dict()
    old.pop("swatch_padding")
    assert Options.from_dict(old).swatch_padding == "zeros"
    assert Options.from_dict(Options(**FAST).to_dict()).swatch_padding == "circular"


def test_recipes_from_before_the_swatch_layers_option_take_every_layer_from_the_swatch():
    old = Options(**FAST).replace(mode="variant", variant_seed=1, random_layers=("relu2_1",)).to_dict()
    old.pop("swatch_layers")
    assert Options.from_dict(old).swatch_layers == "all"
    assert Options.from_dict(Options(**FAST).to_dict()).swatch_layers == "randomised"


class _Watch(Observer):
    def __init__(self, phases, stop_at=None):
        self.phases, self.stop_at, self.seen_steps = phases, stop_at, []

    def wants(self, iteration):
        return True

    def seen(self, step):
        self.seen_steps.append((step.phase, step.iteration))
        if self.stop_at == (step.phase, step.iteration):
            return "stopped by the test"
        return None


@pytest.mark.slow
def test_the_swatch_is_a_visible_step_of_the_run(base):
    """Preparing optimises nothing; the runner makes the swatch first, and the observers that watch the
    "swatch" phase see its iterations before the run's (the studio's live previews); the others see the run only."""
    from eigenstyle.engine import run_batch

    o = base.opts.replace(mode="variant", variant_seed=9)
    both, run_only = _Watch(("swatch", "run")), _Watch(("run",))
    (r,) = run_batch([problem.vary(base, o)], observers=[both, run_only])
    n, s = o.iterations, o.swatch_iterations
    assert both.seen_steps == [("swatch", i) for i in range(1, s + 1)] + [("run", i) for i in range(1, n + 1)]
    assert run_only.seen_steps == [("run", i) for i in range(1, n + 1)]
    assert r.swatch is not None and r.recipe["iterations_done"] == n
    assert np.array_equal(np.asarray(r.swatch), np.asarray(made(base, o).swatch))  # the same swatch either way


@pytest.mark.slow
def test_a_stop_during_the_swatch_ends_the_run_before_it_starts(base):
    from eigenstyle.engine import run_batch

    o = base.opts.replace(mode="fantasy", variant_seed=2)
    watch = _Watch(("swatch", "run"), stop_at=("swatch", 3))
    (r,) = run_batch([problem.vary(base, o)], observers=[watch])
    assert watch.seen_steps[-1] == ("swatch", 3) and all(p == "swatch" for p, _ in watch.seen_steps)
    assert r.interrupted and r.recipe["iterations_done"] == 0 and r.recipe["stopped"] == "stopped by the test"


@pytest.mark.slow
def test_an_unmade_swatch_is_never_optimised_against(base, tmp_path):
    """vary gives a randomised style without its swatch (its targets G' alone); the runner completes them
    (swatch.reach: every run goes through it, and it does nothing for a problem that has its swatch), and a
    style file is only written from complete targets: the caller makes the swatch, stylefile only writes."""
    from eigenstyle.stylefile import save_style
    from eigenstyle.swatch import given

    p = problem.vary(base, base.opts.replace(mode="variant", variant_seed=1))
    assert missing(p) and not missing(problem.vary(base, base.opts.replace(mode="none")))
    with pytest.raises(ValueError, match="swatch"):
        save_style(str(tmp_path / "s.safetensors"), p)
    assert os.listdir(tmp_path) == []
    done = reach([p])[0]
    assert not missing(done) and reach([done])[0] is done
    again = given(p, done.swatch)  # a picture made before: the same targets, nothing optimised
    for k in LAYERS:
        assert torch.equal(again.targets.style[k], done.targets.style[k])


@pytest.mark.slow
def test_the_cli_shows_the_swatch_as_its_own_progress(content_path, style_path, tmp_path):
    from conftest import run_cli

    out = run_cli(
        "stylize", content_path, style_path, "--size", "48", "--iterations", "10", "--mode", "variant",
        "--swatch-iterations", "10", "--print-every", "0", "-o", tmp_path / "v.png",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    swatch = [i for i, line in enumerate(lines) if line.startswith("swatch: iteration")]
    run = [i for i, line in enumerate(lines) if line.startswith("iteration ")]
    assert swatch and run and max(swatch) < min(run), out.stderr


def test_the_chroma_blur_cleans_the_swatchs_colour_and_keeps_its_strokes():
    """Against an independent reference: Cb and Cr blurred with a wrapping Gaussian, Y as it was (to 8-bit
    rounding); the colour's high frequencies drop, the luminance's stay."""
    from eigenstyle.swatch import clean_colour

    rng = np.random.default_rng(0)
    picture = Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8), "RGB")
    out = clean_colour(picture, 2.0)
    a = np.asarray(picture.convert("YCbCr"), dtype=np.float64)
    b = np.asarray(out.convert("YCbCr"), dtype=np.float64)
    assert np.abs(a[..., 0] - b[..., 0]).mean() < 1.5  # the strokes (luminance) stay, to rounding
    sigma, r = 2.0, 6
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
    k /= k.sum()
    for c in (1, 2):  # wrapping Gaussian, rows then columns, by rolls
        ref = sum(w * np.roll(a[..., c], s, axis=1) for s, w in zip(range(r, -r - 1, -1), k))
        ref = sum(w * np.roll(ref, s, axis=0) for s, w in zip(range(r, -r - 1, -1), k))
        assert np.abs(b[..., c] - ref).mean() < 1.5
        assert np.diff(b[..., c], axis=1).std() < 0.3 * np.diff(a[..., c], axis=1).std()
    assert clean_colour(picture, 0) is picture


def test_the_chroma_blur_is_auto_for_fantasy_and_random_and_recorded():
    assert Options(mode="fantasy").swatch_chroma_blur_value() == Options(mode="random").swatch_chroma_blur_value() > 0
    assert Options(mode="variant").swatch_chroma_blur_value() == 0
    settled = problem.resolve_seeds(Options(**FAST).replace(mode="fantasy")).settled()  # as vary settles it
    assert settled.swatch_chroma_blur == Options(mode="fantasy").swatch_chroma_blur_value()  # the recipe has it
    old = Options(**FAST).replace(mode="fantasy", variant_seed=1).to_dict()
    old.pop("swatch_chroma_blur")
    assert Options.from_dict(old).swatch_chroma_blur == 0.0  # recipes from before: no blur


@pytest.mark.parametrize(
    "changes, randomised",
    [
        (dict(mode="variant"), ("relu1_1", "relu2_1", "relu3_1")),  # the deep layers keep the painting's forms
        (dict(mode="variant", style_layers=("relu3_2",)), ("relu3_2",)),  # the article's single layer
        (dict(mode="variant", style_layers=("relu4_1", "relu5_1")), ("relu4_1", "relu5_1")),  # none shallow: all
        (dict(mode="variant", random_layers=("relu4_1",)), ("relu4_1",)),  # told: as told
        (dict(mode="fantasy"), ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")),
        (dict(mode="random"), ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")),
    ],
)
def test_the_randomised_layers_are_the_modes_unless_told(changes, randomised):
    assert Options(**changes).validate().random_layers_value() == randomised


def test_a_variant_recipe_from_before_the_auto_random_layers_randomised_every_layer():
    old = Options(mode="variant", variant_seed=1).to_dict()
    old.pop("swatch_layers")
    o = Options.from_dict(old)
    assert o.random_layers_value() == o.style_layers == Options().style_layers
    assert Options.from_dict(Options(mode="variant").to_dict()).random_layers is None  # a new recipe: auto


def test_the_palette_turn_turns_the_chroma_and_keeps_the_luminance_against_a_reference():
    """Against an independent float64 reference (BT.601 YCbCr by hand): each pixel's (Cb, Cr) turned by the
    angle, Y as it was, to 8-bit rounding; a turn and its inverse give the picture back."""
    from eigenstyle.swatch import turn_hue

    rng = np.random.default_rng(1)
    rgb = rng.integers(88, 168, (24, 32, 3)).astype(np.float64)  # turned, still inside the gamut: no clipping
    picture = Image.fromarray(rgb.astype(np.uint8), "RGB")
    y = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    cb, cr = (rgb[..., 2] - y) / 1.772, (rgb[..., 0] - y) / 1.402
    for degrees in (15.0, -40.0, 90.0):
        out = np.asarray(turn_hue(picture, degrees), dtype=np.float64)
        y2 = 0.299 * out[..., 0] + 0.587 * out[..., 1] + 0.114 * out[..., 2]
        cb2, cr2 = (out[..., 2] - y2) / 1.772, (out[..., 0] - y2) / 1.402
        assert np.abs(y2 - y).mean() < 1.0  # the strokes (luminance) stay
        th = np.deg2rad(degrees)
        ref_cb, ref_cr = np.cos(th) * cb - np.sin(th) * cr, np.sin(th) * cb + np.cos(th) * cr
        assert np.abs(cb2 - ref_cb).mean() < 1.0 and np.abs(cr2 - ref_cr).mean() < 1.0
        back = np.asarray(turn_hue(turn_hue(picture, degrees), -degrees), dtype=np.float64)
        assert np.abs(back - rgb).mean() < 1.5
    assert turn_hue(picture, 0) is picture


@pytest.mark.slow
def test_a_single_layer_variants_swatch_is_its_texture_turned_by_its_genomes_angle(base):
    """--palette-turn auto is 15 degrees for variants at one style layer (0 at several, and for plain runs): the
    swatch the run optimises against is the same synthesis turned by the genome's angle, and recorded."""
    from eigenstyle.randomize import genome_turn, palette_turn
    from eigenstyle.swatch import turn_hue

    one = Options(**{**FAST, "style_layers": ("relu3_2",), "random_layers": None}).replace(mode="variant")
    assert one.palette_turn_value() == 15.0 and Options(mode="variant").palette_turn_value() == 0.0
    assert Options(mode="none", style_layers=("relu3_2",)).replace(variant_seed=3).palette_turn_value() == 0.0
    o = one.replace(variant_seed=3, style_layers=LAYERS, random_layers=LAYERS, palette_turn=30.0)
    assert palette_turn(o) == pytest.approx(30.0 * genome_turn({"seed": 3})) and abs(palette_turn(o)) > 10
    turned, still = made(base, o).swatch, made(base, o.replace(palette_turn=0.0)).swatch
    assert np.abs(np.asarray(turned, dtype=np.float64) - np.asarray(still, dtype=np.float64)).mean() > 2
    expected = np.asarray(turn_hue(still, palette_turn(o)), dtype=np.float64)
    assert np.abs(np.asarray(turned, dtype=np.float64) - expected).max() <= 1  # the same texture, turned
    assert problem.resolve_seeds(one).settled().palette_turn == 15.0  # the recipe says it
    old = one.replace(variant_seed=1).to_dict()
    old.pop("palette_turn")
    assert Options.from_dict(old).palette_turn == 0.0  # recipes from before: the swatch's own colours
