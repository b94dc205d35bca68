"""Per-layer style weights (--style-layer-weights): the objective against a float64 reference, whole and in
tiles; a layer at 0 computes nothing; factors on the auto weight are the layers' own balanced weights."""

import numpy as np
import pytest
import torch

from eigenstyle import objective
from eigenstyle.engine import stylize
from eigenstyle.errors import EigenstyleError
from eigenstyle.options import SINGLE_LAYER_STYLE_WEIGHT, Options
from eigenstyle.problem import prepare, vary

from conftest import assert_tiles_equal_whole

FIXED = dict(precision="fp32", conv="direct", print_every=0, seed=3, size=48)
LAYERS = ("relu2_1", "relu3_2", "relu3_3")


@pytest.fixture(scope="module")
def prepared(content_path, style_path):
    return prepare(content_path, [style_path], Options(style_layers=LAYERS, **FIXED).validate())


def test_the_style_term_weighs_each_layer_by_its_factor_in_float64(prepared):
    opts = Options(style_layers=LAYERS, style_weight=40.0, style_layer_weights=(0.5, 2.0, 0.25), **FIXED)
    problem = vary(prepared, opts.validate())
    x = torch.rand(2, 3, 36, 48) * 100
    got = objective.evaluate(problem, x)["style"].double()
    feats = {k: v.double() for k, v in problem.net(x).items()}
    want = 0
    for name, factor in zip(LAYERS, (0.5, 2.0, 0.25)):
        n, c, h, w = feats[name].shape
        flat = feats[name].reshape(n, c, h * w)
        g = flat @ flat.transpose(1, 2) / (c * h * w)
        want = want + 40.0 * factor * ((g - problem.targets.style[name].double()) ** 2).mean(dim=(1, 2))
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=2e-4)


@pytest.mark.slow
def test_tiles_weigh_the_layers_as_the_whole_image_does(prepared):
    problem = vary(prepared, Options(style_layers=LAYERS, style_layer_weights=(3.0, 0.0, 0.5), **FIXED).validate())
    assert_tiles_equal_whole(problem, torch.rand(1, 3, 36, 48) * 50, 32)


def test_a_layer_at_zero_is_not_computed(prepared):
    deep = Options(style_layers=("relu3_2", "relu5_1"), style_layer_weights=(1.0, 0.0), **FIXED).validate()
    problem = vary(prepare(prepared.content, [prepared.content], deep), deep)  # the content as its own style
    assert problem.net.names[-1] == "relu4_2"  # the content layer's: no conv of block 5 runs
    assert set(problem.net(torch.rand(1, 3, 32, 32))) == {"relu4_2", "relu3_2"}
    assert [t.layers for t in objective.terms_of(problem) if t.name == "style"] == [("relu3_2",)]


def test_the_arithmetic_is_timed_on_the_layers_computed(content_path, style_path, monkeypatch):
    """--precision auto times the network a run's iterations compute: a layer at 0 is not in it."""
    from eigenstyle import problem as problems

    timed = []
    real = problems.arithmetic

    def recording(precision, conv, device, weights, layers, *rest):
        timed.append(tuple(layers))
        return real("fp32", "direct", device, weights, layers, *rest)

    monkeypatch.setattr(problems, "arithmetic", recording)
    o = Options(style_layers=("relu3_2", "relu5_1"), style_layer_weights=(1, 0), **{**FIXED, "precision": "auto"})
    problems.prepare(content_path, [style_path], o.validate())
    assert timed == [("relu4_2", "relu3_2")]


def test_factors_on_the_auto_weight_are_the_layers_own_balanced_weights():
    o = Options(style_layers=("relu3_2", "relu3_3"), style_layer_weights=(0.25, 0.75)).settled()
    assert o.layer_weights() == pytest.approx(
        {"relu3_2": 0.25 * SINGLE_LAYER_STYLE_WEIGHT["relu3_2"], "relu3_3": 0.75 * SINGLE_LAYER_STYLE_WEIGHT["relu3_3"]}
    )
    assert o.settled() == o  # settling is idempotent: the recipe's weights are the weights
    given = Options(style_layers=("relu3_2", "relu3_3"), style_weight=50.0, style_layer_weights=(1.0, 2.0)).settled()
    assert given.layer_weights() == {"relu3_2": 50.0, "relu3_3": 100.0}
    # one layer left standing is that layer's run: its single-layer defaults (raw share, palette turn)
    alone = Options(mode="fantasy", style_layers=("relu3_2",)).settled()
    mixed = Options(mode="fantasy", style_layers=("relu3_2", "relu3_3"), style_layer_weights=(1, 0)).settled()
    assert mixed.layer_weights() == alone.layer_weights()
    assert (mixed.keep_top, mixed.palette_turn, mixed.random_layers_value()) == (
        alone.keep_top,
        alone.palette_turn,
        ("relu3_2",),
    )


@pytest.mark.parametrize(
    "factors, match",
    [((1.0,), "has 1 factors for 2 style layers"), ((0.0, 0.0), "must not all be zero"), ((1.0, -1.0), ">= 0")],
)
def test_bad_factors_are_refused(factors, match):
    with pytest.raises(EigenstyleError, match=match):
        Options(style_layers=("relu3_2", "relu3_3"), style_layer_weights=factors).validate()


@pytest.mark.slow
def test_one_layer_at_full_weight_and_one_at_zero_is_that_layers_run(content_path, style_path):
    """relu3_2,relu3_3 at 1,0 paints what relu3_2 alone paints: the same weight, and relu3_3 not computed."""
    common = dict(FIXED, iterations=8, size=64)
    alone = stylize(content_path, style_path, Options(style_layers=("relu3_2",), **common))
    mixed = stylize(
        content_path, style_path, Options(style_layers=("relu3_2", "relu3_3"), style_layer_weights=(1, 0), **common)
    )
    assert np.array_equal(np.asarray(alone.image), np.asarray(mixed.image))
    assert mixed.recipe["options"]["style_layer_weights"] == [SINGLE_LAYER_STYLE_WEIGHT["relu3_2"], 0.0]
