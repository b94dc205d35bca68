"""Reachable targets and swatches: the randomised style as a picture, and its Grams as the target."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

import eigenstyle
from eigenstyle import Options, problem
from eigenstyle.images import name_taken, read_embedded_recipe, swatch_path
from eigenstyle.losses import gram
from eigenstyle.recipe import parse
from eigenstyle.stylefile import load_style
from eigenstyle.targets import to_tensor
from eigenstyle.values import cli_spelling

from conftest import SMALL

LAYERS = ("relu2_1", "relu3_2")
FAST = dict(SMALL, style_layers=LAYERS, swatch_iterations=8)


@pytest.fixture(scope="module")
def base(content_path, style_path):
    return problem.prepare(content_path, [style_path], Options(**FAST).validate())


def grams_of(problem, im):
    with torch.no_grad():
        feats = problem.net(to_tensor(im, problem.pre))
    return {k: gram(feats[k]) for k in problem.opts.style_layers}


def test_reachable_targets_are_the_grams_of_the_swatch_picture(base):
    p = problem.vary(base, base.opts.replace(mode="variant", variant_seed=4, target="reachable"))
    assert p.swatch.size == (48, 48)  # auto: --size, at most 128
    own = grams_of(p, p.swatch)
    for k in LAYERS:  # the 8-bit picture's own Grams: the swatch PNG, given as a style image, gives the same
        torch.testing.assert_close(p.targets.style[k], own[k], rtol=1e-5, atol=1e-9)
        assert 0 < p.report[k]["swatch_error"] < 2
    raw = problem.vary(base, base.opts.replace(mode="variant", variant_seed=4, target="raw"))
    for k in LAYERS:  # reachable targets are a real image's Grams, not G'
        assert not torch.allclose(raw.targets.style[k], p.targets.style[k], rtol=1e-2)
        assert float(raw.targets.style[k].min()) < 0 <= float(p.targets.style[k].min())


def test_raw_targets_are_g_prime_and_still_come_with_a_swatch(base):
    from eigenstyle.randomize import Randomization, randomize_targets

    o = base.opts.replace(mode="fantasy", variant_seed=2, target="raw", swatch_size=32)
    p = problem.vary(base, o)
    expected, _ = randomize_targets(base.base_style, LAYERS, Randomization("fantasy", genome={"seed": 2}))
    for k in LAYERS:
        torch.testing.assert_close(p.targets.style[k], expected[k])
    assert p.swatch.size == (32, 32)


def test_the_swatch_depends_on_the_genome_only(base):
    a = problem.vary(base, base.opts.replace(mode="variant", variant_seed=7, seed=1))
    b = problem.vary(base, base.opts.replace(mode="variant", variant_seed=7, seed=99))
    c = problem.vary(base, base.opts.replace(mode="variant", variant_seed=8, seed=1))
    assert np.array_equal(np.asarray(a.swatch), np.asarray(b.swatch))
    assert not np.array_equal(np.asarray(a.swatch), np.asarray(c.swatch))
    plain = problem.vary(base, base.opts.replace(mode="none"))
    assert plain.swatch is None


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


def test_random_layers_leave_the_others_alone_unless_the_swatch_sets_them(base):
    o = base.opts.replace(mode="variant", variant_seed=5, random_layers=("relu3_2",))
    raw = problem.vary(base, o.replace(target="raw"))
    assert torch.equal(raw.targets.style["relu2_1"], base.base_style["relu2_1"])
    assert not torch.allclose(raw.targets.style["relu3_2"], base.base_style["relu3_2"], rtol=1e-2)
    # only the randomised layer has a randomisation report; every layer says how far the swatch got
    assert "negative_fraction" in raw.report["relu3_2"] and "negative_fraction" not in raw.report["relu2_1"]
    assert all("swatch_error" in raw.report[k] for k in LAYERS)
    reach = problem.vary(base, o.replace(target="reachable"))
    own = grams_of(reach, reach.swatch)  # every layer from the one swatch: layers that agree with each other
    for k in LAYERS:
        torch.testing.assert_close(reach.targets.style[k], own[k], rtol=1e-5, atol=1e-9)


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
