"""Regions (--mask, --region): guided Grams against a float64 reference, whole and in tiles; soft masks;
each region's own target; bad masks refused in one line before any computation; a run's recipe reproduces."""

import numpy as np
import pytest
import torch
from PIL import Image

from eigenstyle import objective, regions, swatch
from eigenstyle.engine import stylize
from eigenstyle.errors import EigenstyleError
from eigenstyle.options import Options
from eigenstyle.printing import reproduce
from eigenstyle.problem import prepare

from conftest import assert_tiles_equal_whole, main_in_process, said

FIXED = dict(precision="fp32", conv="direct", print_every=0, seed=4, size=64)


@pytest.fixture(scope="module")
def masks(content_path, tmp_path_factory):
    """Two ways to say the same two regions of the content (512x384): the top third red, the rest blue; and
    a grey mask of the top."""
    folder = tmp_path_factory.mktemp("masks")
    a = np.zeros((384, 512, 3), np.uint8)
    a[:128] = (255, 0, 0)
    a[128:] = (0, 0, 255)
    a[120:136, 250:262] = (128, 0, 128)  # an edge's antialiasing: goes to the nearest region
    Image.fromarray(a).save(folder / "colours.png")
    grey = np.zeros((384, 512), np.uint8)
    grey[:128] = 255
    Image.fromarray(grey).save(folder / "top.png")
    Image.fromarray(grey[:, :300]).save(folder / "narrow.png")  # another aspect
    Image.fromarray(np.full((384, 512, 3), 90, np.uint8)).save(folder / "flat.png")
    (folder / "text.png").write_text("not a picture")
    return folder


def test_guided_grams_against_float64():
    f, m = torch.rand(2, 5, 6, 7, dtype=torch.float64), torch.rand(3, 1, 6, 7, dtype=torch.float64)
    got = regions.guided_grams(f, m)
    for n in range(2):
        for r in range(3):
            want = sum(
                float(m[r, 0, y, x]) * torch.outer(f[n, :, y, x], f[n, :, y, x]) for y in range(6) for x in range(7)
            ) / (5 * float(m[r].sum()))
            assert torch.allclose(got[n, r], want, rtol=1e-10)
    m[0, :, :3] = 0  # regions that leave positions out: the Grams from their support alone are the same
    m[1, :, 3:] = 0
    support = [torch.nonzero(x.flatten() > 0).flatten() for x in m]
    assert torch.allclose(regions.guided_grams(f, m, support), regions.guided_grams(f, m), rtol=1e-12)


def test_soft_masks_share_every_pixel_and_blur_only_the_border():
    hard = np.zeros((2, 40, 40), np.float32)
    hard[0, :20], hard[1, 20:] = 1, 1
    m = regions.soft(hard, 2.0)
    assert m.shape == (2, 1, 40, 40) and torch.allclose(m.sum(0), torch.ones(1, 40, 40))
    column = m[0, 0, :, 5]
    assert column[:12].min() > 0.99 and column[28:].max() < 0.01  # interiors whole
    assert 0.3 < column[19] < 0.7 and 0.3 < column[20] < 0.7  # the border shared


def test_a_mask_picture_names_its_flat_colours_and_grey_masks_their_files(masks):
    o = Options(mask=(str(masks / "colours.png"),), region=("red=none", "blue=plain"), size=64)
    names, hard = regions.read(o, (512, 384))
    assert names == ["red", "blue"] or names == ["blue", "red"]
    assert hard.shape == (2, 48, 64) and np.allclose(hard.sum(0), 1)
    top = hard[names.index("red")]
    assert top[:15].min() == 1 and top[17:].max() == 0  # the antialiased patch went to its nearest
    o = Options(mask=(f"sky={masks / 'top.png'}",), region=("sky=none", "rest=plain"), size=64)
    names, hard = regions.read(o, (512, 384))
    assert names == ["sky", "rest"] and np.allclose(hard.sum(0), 1, atol=1e-6)


@pytest.fixture(scope="module")
def problem(content_path, style_path, masks):
    o = Options(
        mask=(str(masks / "colours.png"),),
        region=("red=variant:3", "blue=none"),
        style_layers=("relu2_1", "relu3_2"),
        swatch_size=32,
        swatch_iterations=5,
        **FIXED,
    ).validate()
    return swatch.reach([prepare(content_path, [style_path], o)])[0]


def test_each_layer_position_is_its_majoritys_unless_a_shared_edge_is_asked(problem, content_path, style_path):
    for m in problem.masks.layers.values():  # --mask-blur 0: wholly one region (or an exact tie, shared)
        assert set(torch.unique(m).tolist()) <= {0.0, 0.5, 1.0} and torch.allclose(m.sum(0), torch.ones_like(m[0]))
    shared = prepare(content_path, [style_path], problem.opts.replace(mask_blur=3.0, mode="none"))
    m = shared.masks.layers["relu2_1"]
    assert ((m > 0.05) & (m < 0.95)).any() and torch.allclose(m.sum(0), torch.ones_like(m[0]))


def test_the_style_term_is_each_regions_own_in_float64(problem):
    x = torch.rand(1, 3, 48, 64) * 100
    got = objective.evaluate(problem, x)["style"].double()
    feats = {k: v.double() for k, v in problem.net(x).items()}
    want = 0
    for r, region in enumerate(problem.regions):
        for name, w in region.problem.opts.layer_weights().items():
            f, m = feats[name][0], problem.masks.layers[name][r, 0].double()  # [C, h, w], [h, w]
            c = f.shape[0]
            g = torch.einsum("chw,dhw,hw->cd", f, f, m) / (c * m.sum())
            want = want + w * float(m.mean()) * ((g - region.problem.targets.style[name][0].double()) ** 2).mean()
    np.testing.assert_allclose(float(got), float(want), rtol=2e-4)
    # the content's own look is the "none" region's target: the photograph itself costs nothing there
    blue = [r.spec.name for r in problem.regions].index("blue")
    none, variant = problem.regions[blue].problem, problem.regions[1 - blue].problem
    assert problem.regions[blue].spec.kind == "none"
    assert float(regions.loss_in(problem, problem.content_tensor, blue, none)) < 1e-6 * float(
        regions.loss_in(problem, problem.content_tensor, blue, variant)
    )


def test_regions_in_tiles_equal_the_whole_image(problem):
    assert_tiles_equal_whole(problem, torch.rand(1, 3, 48, 64) * 50, 32)


def test_each_randomised_region_gets_its_own_swatch(problem):
    variant = problem.regions[[r.spec.name for r in problem.regions].index("red")].problem
    assert variant.swatch is not None and variant.opts.mode == "variant" and variant.opts.variant_seed == 3
    assert problem.swatch is None and not swatch.missing(problem)


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--mask", "{m}/narrow.png", "--region", "top=none", "--region", "rest=plain"],
            "give a mask of the content's shape",
        ),
        (["--mask", "{m}/flat.png", "--region", "grey=none"], "has no regions: it is one flat colour"),
        (["--mask", "{m}/colours.png", "--region", "red=none"], "region blue has no style"),
        (
            ["--mask", "{m}/colours.png", "--region", "red=none", "--region", "blue=none", "--region", "sky=none"],
            "no region sky in the mask",
        ),
        (["--mask", "{m}/text.png", "--region", "a=none"], "cannot read"),
        (["--mask", "{m}/missing.png", "--region", "a=none"], "no such file"),
        (["--region", "sky=fantasy:7"], "--region needs --mask"),
        (["--mask", "{m}/colours.png", "--region", "red=fantasy"], "give the variant seed"),
        (["--mask", "{m}/colours.png", "--region", "red"], "give NAME=STYLE"),
        (["--mask", "{m}/colours.png", "--region", "red=nowhere.jpg"], "red=nowhere.jpg: no such file"),
        (["--mask", "{m}/top.png", "--mask", "{m}/top.png", "--region", "top=none"], "two masks have the same name"),
    ],
)
def test_bad_masks_are_one_line_and_exit_2_before_any_computation(
    args, message, masks, content_path, style_path, tmp_path, capsys, monkeypatch
):
    from eigenstyle import problem as problems

    def no_network(*a, **k):
        raise AssertionError("the network was built before the mask was checked")

    monkeypatch.setattr(problems, "network_of", no_network)
    out = tmp_path / "out.png"
    argv = [a.replace("{m}", str(masks)) for a in args]
    code, err = main_in_process(["stylize", content_path, style_path, *argv, "--size", "64", "-o", str(out)], capsys)
    lines = said(err)
    assert code == 2 and len(lines) == 1 and message in lines[0], err
    assert not out.exists()


@pytest.mark.slow
def test_a_run_with_regions_records_them_and_reproduces(content_path, style_path, masks, tmp_path):
    o = Options(
        mask=(f"sky={masks / 'top.png'}",),
        region=("sky=fantasy:7", "rest=none"),
        style_layers=("relu3_2",),
        iterations=6,
        swatch_size=32,
        swatch_iterations=5,
        **FIXED,
    )
    made = stylize(content_path, style_path, o)
    path = str(tmp_path / "regions.png")
    made.save(path)
    rec = made.recipe
    assert rec["options"]["region"] == ["sky=fantasy:7", "rest=none"] and rec["mask"][0]["sha256"]
    assert [(r["name"], r["mode"], r.get("genome")) for r in rec["regions"]] == [
        ("sky", "fantasy", {"seed": 7}),
        ("rest", "none", None),
    ]
    again = reproduce(path)
    assert np.array_equal(np.asarray(again.image), np.asarray(made.image))
    with open(str(masks / "top.png"), "ab") as f:  # the mask changed since: refused, as a changed style is
        f.write(b"\0")
    with pytest.raises(EigenstyleError, match="mask image .* differs from the one the recipe used"):
        reproduce(path)


@pytest.mark.slow
def test_regions_go_coarse_to_fine_in_tiles_and_render_larger(content_path, style_path, masks, tmp_path):
    """The mask scales with the picture: at every scale of a coarse-to-fine run, in exact tiles, and in a
    render of a favourite, whose variant region keeps the swatch it was made with (made at its size)."""
    from eigenstyle.printing import render

    o = Options(
        mask=(str(masks / "colours.png"),),
        region=("red=variant:3", "blue=none"),
        style_layers=("relu3_2",),
        iterations=3,
        swatch_size=32,
        swatch_iterations=4,
        **FIXED,
    )
    fav = stylize(content_path, style_path, o.replace(scales=(32,), scale_iterations=2, tile=32))
    assert fav.image.size == (64, 48) and fav.recipe["options"]["tile"] == 32 and not fav.interrupted
    path = str(tmp_path / "fav.png")
    fav.save(path)
    big = render(path, 96, iterations=2, scale_iterations=2)
    assert big.image.size == (96, 72) and not big.interrupted
    assert big.recipe["options"]["reference_size"] == 64 and [r["name"] for r in big.recipe["regions"]] == [
        r["name"] for r in fav.recipe["regions"]
    ]


def test_a_morph_blends_each_regions_style_and_keeps_the_others(masks):
    from eigenstyle import morph

    mask = (str(masks / "colours.png"),)
    a = Options(mask=mask, region=("red=variant:3", "blue=none"))
    b = Options(mask=mask, region=("red=variant:5", "blue=none"))
    o = morph.point(a, b, 0.25)
    red = [s for s in regions.specs_of(o) if s.name == "red"][0]
    assert red.kind == "mode" and red.genome == {"between": [{"seed": 3}, {"seed": 5}], "t": 0.25}
    assert "blue=none" in o.region and o.mask == mask
    with pytest.raises(EigenstyleError, match="one mask and the same regions"):
        morph.point(a, Options(mask=mask, region=("red=variant:3", "blue=none", "green=none")), 0.5)
    with pytest.raises(EigenstyleError, match="region blue: a morph blends randomised styles"):
        morph.point(a, Options(mask=mask, region=("red=variant:3", "blue=fantasy:2")), 0.5)
