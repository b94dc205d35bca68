"""Tiled evaluation gives the untiled losses and gradient: float64 to 1e-10, float32 to float noise."""

import copy
import dataclasses

import pytest
import torch

from eigenstyle import Options
from eigenstyle.loop import evaluate
from eigenstyle.problem import prepare
from eigenstyle.targets import Targets
from eigenstyle.tiled import geometry, grid, losses_and_gradient

LAYERS = ("relu1_1", "relu2_1", "relu3_2", "relu4_1", "relu5_1")


def _problem(content_path, style_path, size, dtype, layers=LAYERS, **kw):
    opts = Options(size=size, style_layers=layers, precision="fp32", conv="direct", seed=1, print_every=0, **kw)
    p = prepare(content_path, [style_path], opts)
    if dtype == torch.float64:
        t = p.targets
        p = dataclasses.replace(
            p,
            net=copy.deepcopy(p.net).double(),  # the prepared network is shared: a copy
            content_tensor=p.content_tensor.double(),
            targets=Targets({k: v.double() for k, v in t.content.items()}, {k: v.double() for k, v in t.style.items()}),
        )
    return p


def _untiled(p, x):
    x = x.detach().requires_grad_(True)
    losses = evaluate(p, x)
    losses["total"].sum().backward()
    return {k: v.detach() for k, v in losses.items()}, x.grad


def test_geometry_of_vgg19():
    p_net = type("Net", (), {})()
    from eigenstyle.layers import LAYER_NAMES

    p_net.names, p_net.wanted = LAYER_NAMES[: LAYER_NAMES.index("relu5_1") + 1], ("relu5_1",)
    geo = geometry(p_net)
    # conv1 2 + pool 1 = 3; conv2 2·2 + pool 2 = 9; conv3 4·4 + pool 4 = 29; conv4 4·8 + pool 8 = 69; conv5_1 16
    assert (geo.halo, geo.align, geo.scale["relu3_2"], geo.scale["relu5_1"]) == (85 + 16, 16, 4, 16)
    tiles = grid(83, 101, 32, 16)
    covered = torch.zeros(83, 101, dtype=torch.int)
    for y0, y1, x0, x1 in tiles:
        covered[y0:y1, x0:x1] += 1
    assert bool((covered == 1).all())  # a partition
    assert all(y0 % 16 == 0 and x0 % 16 == 0 for y0, _, x0, _ in tiles)


@pytest.mark.parametrize(
    "size, tile, layers",
    [
        (80, 16, LAYERS),  # to relu5_1: tiles far smaller than the 101 px halo
        (101, 32, LAYERS),
        (83, 48, LAYERS),
        (96, 1000, LAYERS),  # one tile for the whole image
        (101, 32, ("relu1_1", "relu2_1", "relu3_2")),  # halo 29 px, content relu4_2 (53): crops at offsets
        (83, 24, ("relu1_1", "relu3_2")),
        (160, 64, LAYERS),  # crops at offsets to relu5_1 (27 px in, across)
    ],
)
@pytest.mark.slow
def test_tiled_equals_untiled_in_float64(content_path, style_path, size, tile, layers):
    """Odd sizes, tiles smaller than their halo, crops inside the image and at its edges."""
    p = _problem(content_path, style_path, size, torch.float64, layers=layers)
    g = torch.Generator().manual_seed(0)
    x = (p.content_tensor + 20 * torch.randn(p.content_tensor.shape, generator=g, dtype=torch.float64)).repeat(
        2, 1, 1, 1
    )
    x[1] = x[1].flip(-1)  # two different images in one batch
    want, want_grad = _untiled(p, x)
    got, got_grad = losses_and_gradient(p, x, tile)
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-10, atol=0)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-9, atol=1e-12 * float(want_grad.abs().max()))


@pytest.mark.slow
def test_tiled_equals_untiled_in_float32(content_path, style_path):
    p = _problem(content_path, style_path, 160, torch.float32, tv_weight=1e-3)
    x = p.content_tensor + 20 * torch.randn(p.content_tensor.shape, generator=torch.Generator().manual_seed(1))
    want, want_grad = _untiled(p, x)
    got, got_grad = losses_and_gradient(p, x, 48)
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-4, atol=0)
    err = float((got_grad - want_grad).norm() / want_grad.norm())
    assert err < 1e-4, err


@pytest.mark.slow
def test_a_tiled_run_follows_the_untiled_one_and_records_its_tiles(content_path, style_path, tmp_path):
    import numpy as np

    import eigenstyle

    kw = dict(size=128, iterations=5, style_layers=("relu2_1", "relu3_2"), seed=3, precision="fp32", conv="direct")
    whole = eigenstyle.stylize(content_path, style_path, **kw)
    tiles = eigenstyle.stylize(content_path, style_path, tile=32, **kw)  # crops at offsets: halo 53
    a, b = (np.asarray(r.image, dtype=float) for r in (whole, tiles))
    assert np.abs(a - b).max() <= 2 and np.abs(a - b).mean() < 0.05  # float-level drift over 5 L-BFGS steps
    assert tiles.recipe["options"]["tile"] == 32 and whole.recipe["options"]["tile"] is None
    assert abs(tiles.recipe["losses"]["total"] / whole.recipe["losses"]["total"] - 1) < 1e-3
    with pytest.raises(eigenstyle.EigenstyleError, match="tile must be an integer >= 16"):
        eigenstyle.stylize(content_path, style_path, tile=8, **kw)


@pytest.mark.slow
def test_a_size_too_large_for_the_budget_is_tiled_to_fit(content_path, style_path):
    """--max-memory below the whole image's need: prepare picks the largest tile that fits, says so in
    one line, records it; a budget that the whole image fits leaves the run untiled."""
    import warnings

    from eigenstyle.memory import HEADROOM, RESERVE, split_bytes_per_pixel, tile_for

    opts = Options(
        size=320,
        iterations=1,
        style_layers=("relu2_1", "relu3_2"),
        seed=3,
        precision="fp32",
        conv="direct",
        lbfgs_history=100,
    )
    act, state = split_bytes_per_pixel(("relu4_2", "relu2_1", "relu3_2"), "lbfgs", 100)
    h, w, halo, align = 240, 320, 45 + 8, 8  # relu4_2: radius 45, stride 8 (+ one stride: the pooling offset)
    budget = int((state * h * w + act * (64 + 2 * halo + 0.5) ** 2 + RESERVE) / HEADROOM)  # a 64 px tile, not 72
    assert tile_for(opts, h, w, budget, halo, align) == 64
    assert tile_for(opts, h, w, int(((act + state) * h * w + RESERVE) / HEADROOM) + 1, halo, align) is None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p = prepare(content_path, [style_path], opts.replace(max_memory=budget / 2**30))
    assert p.content.size == (w, h) and p.opts.tile == 64
    assert [str(c.message) for c in caught if "tiles" in str(c.message)] == [
        f"{w}x{h} px does not fit whole in {budget / 2**30:.1f} GiB; evaluating it in 64 px tiles"
    ]
    assert prepare(content_path, [style_path], opts.replace(max_memory=64.0)).opts.tile is None
    # The image-sized state alone is too much: no tiles (the run goes whole, and out of memory its
    # message names a size that fits: test_faults)
    assert tile_for(opts, 4000, 4000, 2**30, halo, align) is None


@pytest.mark.parametrize("size, tile", [(101, 32), (83, 16), (130, 64)])
@pytest.mark.slow
def test_tiled_targets_equal_the_whole_images_in_float64(content_path, style_path, size, tile):
    """Content features assembled from tiles and Grams summed over tiles (a print's targets in the
    memory of one tile) equal one pass over the whole image, to 1e-10 in float64."""
    from eigenstyle.losses import gram
    from eigenstyle.tiled import features, grams

    p = _problem(content_path, style_path, size, torch.float64)
    x = p.content_tensor + 0.1 * torch.randn(
        p.content_tensor.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64
    )
    whole = p.net(x)
    tiled_features = features(p.net, x, ("relu4_2", "relu3_2", "relu1_1"), tile)
    for name, f in tiled_features.items():
        assert f.shape == whole[name].shape
        assert torch.allclose(f, whole[name], rtol=0, atol=1e-10 * float(whole[name].abs().max())), name
    for name, g in grams(p.net, x, LAYERS, tile).items():
        assert torch.allclose(g, gram(whole[name]), rtol=1e-10, atol=1e-12), name


@pytest.mark.slow
def test_a_tiled_run_prepares_the_same_targets(content_path, style_path):
    """--tile also takes the content targets and the style's Grams tile by tile: the same, to float32 noise."""
    whole = _problem(content_path, style_path, 96, torch.float32)
    tiled = _problem(content_path, style_path, 96, torch.float32, tile=32)
    for name, t in whole.targets.content.items():
        assert torch.allclose(tiled.targets.content[name], t, rtol=1e-4, atol=1e-4 * float(t.abs().max()))
    for name, g in whole.targets.style.items():
        assert torch.allclose(tiled.targets.style[name], g, rtol=1e-4, atol=1e-6 * float(g.abs().max()))


@pytest.mark.slow
def test_tiled_equals_untiled_with_an_anchor_in_float64(content_path, style_path):
    """A render's anchor (its coarser scale, kept) is taken on the whole image beside the tiles: exact too."""
    p = _problem(content_path, style_path, 101, torch.float64, anchor_weight=3e4, tv_weight=1e-3)
    g = torch.Generator().manual_seed(2)
    p = dataclasses.replace(p, anchor=torch.randn((1, 3, 37, 51), generator=g, dtype=torch.float64) * 30)
    x = p.content_tensor + 20 * torch.randn(p.content_tensor.shape, generator=g, dtype=torch.float64)
    want, want_grad = _untiled(p, x)
    assert float(want["anchor"]) > 0.1 * float(want["total"])  # a term that matters here
    got, got_grad = losses_and_gradient(p, x, 32)
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=1e-10, atol=0)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-9, atol=1e-12 * float(want_grad.abs().max()))
