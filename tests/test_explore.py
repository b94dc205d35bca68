"""Variants, mutation, in-betweens and layer sheets, end to end with the real weights."""

import os

import numpy as np
import pytest
from PIL import Image

import eigenstyle
from eigenstyle.options import SINGLE_LAYER_STYLE_WEIGHT

from conftest import main_in_process, run_cli

pytestmark = pytest.mark.slow  # every test here runs the network or a server for seconds

# a short swatch: what these tests check (files, recipes, batches, reproduction) does not depend on its length
TINY = [
    "--size",
    "48",
    "--iterations",
    "6",
    "--seed",
    "2",
    "--swatch-iterations",
    "20",
    "--style-layers",
    "relu3_2",
    "-q",
]


def results_in(folder):
    """The result images in a folder, without their .swatch.png companions."""
    return sorted(f for f in os.listdir(folder) if f.endswith(".png") and not f.endswith(".swatch.png"))


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB"))


def caption_has_text(sheet, index, columns, n_rows_h):
    """The caption strip under tile ``index`` holds dark (text) pixels."""
    a = np.asarray(sheet.convert("L"))
    x = 6 + (index % columns) * 262
    y0 = 6 + (index // columns) * (n_rows_h + 6) + n_rows_h - 22
    return (a[y0 : y0 + 22, x : x + 256] < 100).sum() > 20


@pytest.fixture(scope="module")
def variants_dir(tmp_path_factory, content_path, style_path):
    out = tmp_path_factory.mktemp("variants")
    r = run_cli("variants", content_path, style_path, "--count", "3", "--variant-seed", "5", "-o", out, *TINY)
    assert r.returncode == 0, r.stderr
    return out


def test_n_variants_with_recipes_and_a_labelled_sheet(variants_dir):
    files = results_in(variants_dir)
    assert files == [f"tubingen-starry_night-variant-seed-{s}.png" for s in (5, 6, 7)]
    assert all(os.path.isfile(variants_dir / f.replace(".png", ".swatch.png")) for f in files)
    recipes = [eigenstyle.read_recipe(str(variants_dir / f)) for f in files]
    assert [r["options"]["variant_seed"] for r in recipes] == [5, 6, 7]
    assert all(r["options"]["mode"] == "variant" and r["options"]["seed"] == 2 for r in recipes)
    assert all(r["options"]["style_weight"] == SINGLE_LAYER_STYLE_WEIGHT["relu3_2"] for r in recipes)
    assert all("negative_fraction" in r["randomization"]["relu3_2"] for r in recipes)
    imgs = [pixels(variants_dir / f) for f in files]
    assert not np.array_equal(imgs[0], imgs[1]) and not np.array_equal(imgs[1], imgs[2])
    sheet = Image.open(variants_dir / "tubingen-starry_night-sheet.jpg")
    tile_h = round(36 * 256 / 48) + 22
    assert sheet.size == (3 * 262 + 6, tile_h + 12)
    assert all(caption_has_text(sheet, i, 3, tile_h) for i in range(3))


def test_a_variant_reproduces_from_its_recipe(variants_dir, tmp_path):
    src = variants_dir / "tubingen-starry_night-variant-seed-6.png"
    again = tmp_path / "again.png"
    eigenstyle.reproduce(str(src), str(again))
    assert np.array_equal(pixels(src), pixels(again))


def test_mutation_with_amount_zero_is_the_parent_and_children_differ(variants_dir, tmp_path):
    parent = variants_dir / "tubingen-starry_night-variant-seed-5.png"
    r = run_cli("variants", "--mutate", parent, "--amount", "0", "--count", "1", "-o", tmp_path / "same", "-q")
    assert r.returncode == 0, r.stderr
    (child,) = results_in(tmp_path / "same")
    assert np.array_equal(pixels(tmp_path / "same" / child), pixels(parent))
    r = run_cli("variants", "--mutate", parent, "--amount", "0.5", "--count", "2", "-o", tmp_path / "kids", "-q")
    assert r.returncode == 0, r.stderr
    kids = results_in(tmp_path / "kids")
    assert len(kids) == 2
    data = eigenstyle.read_recipe(str(tmp_path / "kids" / kids[0]))
    assert data["options"]["genome"]["mutate"] == {"seed": 5} and data["options"]["genome"]["amount"] == 0.5
    assert not np.array_equal(pixels(tmp_path / "kids" / kids[0]), pixels(parent))
    again = tmp_path / "kid-again.png"
    eigenstyle.reproduce(str(tmp_path / "kids" / kids[0]), str(again))
    assert np.array_equal(pixels(again), pixels(tmp_path / "kids" / kids[0]))


def test_between_endpoint_is_the_first_parent(variants_dir, tmp_path):
    a = variants_dir / "tubingen-starry_night-variant-seed-5.png"
    b = variants_dir / "tubingen-starry_night-variant-seed-7.png"
    r = run_cli("variants", "--between", a, b, "--t", "0", "--count", "1", "-o", tmp_path, "-q")
    assert r.returncode == 0, r.stderr
    (mid,) = results_in(tmp_path)
    assert np.array_equal(pixels(tmp_path / mid), pixels(a))


def test_fantasy_gets_levels_and_keeps_the_raw_image(content_path, style_path, tmp_path):
    # 20 iterations: at 6 the raw image is still flat grey (std < 1 level), and
    # stretching that only amplifies rounding.
    r = run_cli(
        "variants",
        content_path,
        style_path,
        "--mode",
        "fantasy",
        "--count",
        "1",
        "--variant-seed",
        "1",
        "-o",
        tmp_path,
        *TINY,
        "--iterations",
        "20",
    )
    assert r.returncode == 0, r.stderr
    files = sorted(os.listdir(tmp_path))
    assert "tubingen-starry_night-fantasy-seed-1.png" in files
    assert "tubingen-starry_night-fantasy-seed-1.raw.png" in files
    leveled = pixels(tmp_path / "tubingen-starry_night-fantasy-seed-1.png").reshape(-1, 3)
    assert (np.percentile(leveled, 0.5, axis=0) <= 2).all() and (np.percentile(leveled, 99.5, axis=0) >= 253).all()
    assert eigenstyle.read_recipe(str(tmp_path / files[0]))["levels"] == 0.5


def test_layer_sheet(content_path, style_path, tmp_path):
    r = run_cli("layers", content_path, style_path, "--layers", "relu3_2,relu3_3", "-o", tmp_path, *TINY[:-3], "-q")
    assert r.returncode == 0, r.stderr
    pngs = sorted(f for f in os.listdir(tmp_path) if f.endswith(".png"))
    assert len(pngs) == 2
    weights = {
        eigenstyle.read_recipe(str(tmp_path / f))["options"]["style_layers"][0]: eigenstyle.read_recipe(
            str(tmp_path / f)
        )["options"]["style_weight"]
        for f in pngs
    }
    assert weights == {k: SINGLE_LAYER_STYLE_WEIGHT[k] for k in ("relu3_2", "relu3_3")}
    assert any(f.endswith("sheet.jpg") for f in os.listdir(tmp_path))


@pytest.mark.parametrize(
    "args, message",
    [
        (["--count", "0"], "--count must be"),
        (["--spread", "1.5,0.5"], "lo <= hi"),
        (["--strength", "2"], "--strength must be in [0, 1]"),
        (["--random-layers", "relu4_1"], "not among --style-layers"),
        (["--levels", "bright"], "--levels must be"),
    ],
)
def test_bad_variant_input(content_path, style_path, tmp_path, args, message, capsys):
    code, err = main_in_process(["variants", content_path, style_path, "-o", str(tmp_path / "o"), *TINY, *args], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_style_file_round_trips_bit_exactly_and_restyles_identically(content_path, style_path, tmp_path):
    import torch

    from eigenstyle import Options
    from eigenstyle.problem import prepare, resolve_seeds
    from eigenstyle.stylefile import load_style
    from eigenstyle.swatch import reach

    sf = tmp_path / "v.safetensors"
    kw = dict(
        size=48,
        iterations=6,
        seed=2,
        style_layers=("relu3_2", "relu3_3"),
        mode="variant",
        variant_seed=9,
        print_every=0,
    )
    first = eigenstyle.stylize(content_path, style_path, save_style=str(sf), **kw)
    problem = reach([prepare(content_path, style_path, resolve_seeds(Options(**kw).validate()))])[0]
    grams, meta = load_style(str(sf))
    for k in ("relu3_2", "relu3_3"):
        assert torch.equal(grams[k], problem.targets.style[k].float())
    assert meta["mode"] == "variant" and meta["variant_seed"] == 9 and meta["layers"] == ["relu3_2", "relu3_3"]
    assert meta["styles"][0]["sha256"] == first.recipe["styles"][0]["sha256"]
    assert first.recipe["options"]["init"] == "random"  # auto: noise, a randomised style's too (docs/quality.md)
    reused = eigenstyle.stylize(
        content_path,
        [],
        style_file=str(sf),
        size=48,
        iterations=6,
        seed=2,
        print_every=0,
        init="random",
        style_weight=first.recipe["options"]["style_weight"],
        output=str(tmp_path / "r.png"),
    )
    assert np.array_equal(np.asarray(reused.image), np.asarray(first.image))
    assert reused.recipe["style_file"]["sha256"] and reused.recipe["options"]["style_layers"] == ["relu3_2", "relu3_3"]
    again = tmp_path / "again.png"
    eigenstyle.reproduce(str(tmp_path / "r.png"), str(again))
    assert np.array_equal(pixels(again), pixels(tmp_path / "r.png"))


def test_bad_style_files(content_path, tmp_path):
    import torch
    from safetensors.torch import save_file

    from eigenstyle.errors import EigenstyleError
    from eigenstyle.stylefile import load_style

    good = tmp_path / "good.safetensors"
    eigenstyle.stylize(
        content_path,
        sample_style(),
        save_style=str(good),
        size=48,
        iterations=1,
        seed=1,
        style_layers=("relu2_1",),
        print_every=0,
    )
    raw = good.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(raw[: len(raw) // 2])
    header = {"eigenstyle-style": '{"format": "eigenstyle-style", "version": 1, "layers": ["relu2_1"]}'}
    save_file({"relu2_1": torch.zeros(64, 64)}, tmp_path / "shape.safetensors", metadata=header)
    save_file({"relu2_1": torch.full((128, 128), float("nan"))}, tmp_path / "nan.safetensors", metadata=header)
    save_file({"relu2_1": torch.zeros(128, 128)}, tmp_path / "nometa.safetensors")
    for name, message in [
        ("trunc", "not a readable"),
        ("shape", "has shape"),
        ("nan", "non-finite"),
        ("nometa", "not a readable"),
        ("missing", "no such file"),
    ]:
        with pytest.raises(EigenstyleError, match=message):
            load_style(str(tmp_path / f"{name}.safetensors"))
    r = run_cli("stylize", content_path, "--style-file", tmp_path / "nan.safetensors", "-o", tmp_path / "o.png", "-q")
    assert r.returncode == 2 and "non-finite" in r.stderr and not (tmp_path / "o.png").exists()


def sample_style():
    from eigenstyle.demo import sample

    return sample("starry_night.jpg")


def test_batched_variants_compute_what_single_runs_compute(content_path, style_path):
    """Each image of a batch keeps its targets, start and L-BFGS state. On the CPU each image
    goes through the network on its own, so the batch reproduces its single runs exactly; the
    batched network pass (a GPU's way) gives the same per-image loss and gradient to float
    tolerance (L-BFGS's early spike can amplify such differences over many steps)."""
    import dataclasses

    import torch

    from eigenstyle import Options
    from eigenstyle.engine import run_batch
    from eigenstyle.explore import variant_options
    from eigenstyle.loop import evaluate, initial_image
    from eigenstyle.problem import prepare, vary
    from eigenstyle.targets import Targets

    base = Options(size=64, iterations=15, seed=2, style_layers=("relu3_2",), print_every=0, variant_seed=5,
                   swatch_iterations=20)  # fmt: skip
    runs = [o for o, _ in variant_options(base.validate(), 3)]
    problem = prepare(content_path, style_path, runs[0])
    singles = [vary(problem, o) for o in runs]
    batch = run_batch(singles)
    alone = [run_batch([p])[0] for p in singles]
    for b, a in zip(batch, alone):
        assert np.array_equal(np.asarray(b.image), np.asarray(a.image))
        assert b.recipe["losses"] == a.recipe["losses"]
        assert b.recipe["batch"]["size"] == 3 and "batch" not in a.recipe
    assert len({r.recipe["losses"]["total"] for r in batch}) == 3  # three different targets, three results
    assert torch.equal(initial_image(problem, 2, batch=3)[2], initial_image(problem, 2)[0])
    # gradients at a generic point (near the blank start, ReLUs sit at 0 and flip on round-off)
    x0 = problem.content_tensor.repeat(3, 1, 1, 1)
    xb = x0.clone().requires_grad_(True)
    stacked = dataclasses.replace(
        problem,
        targets=Targets(
            problem.targets.content,
            {k: torch.cat([p.targets.style[k] for p in singles]) for k in problem.targets.style},
        ),
    )
    evaluate(stacked, xb)["total"].sum().backward()
    for i, p in enumerate(singles):
        xi = x0[i : i + 1].clone().requires_grad_(True)
        evaluate(p, xi)["total"].sum().backward()
        # float32 Gram reductions of a 1e9 loss: the batch's convolutions may sum in another order
        assert float((xb.grad[i : i + 1] - xi.grad).norm() / xi.grad.norm()) < 1e-4


def test_variants_command_with_batch_size(content_path, style_path, tmp_path):
    r = run_cli(
        "variants",
        content_path,
        style_path,
        "--count",
        "3",
        "--batch-size",
        "2",
        "--variant-seed",
        "5",
        "-o",
        tmp_path,
        *TINY,
    )
    assert r.returncode == 0, r.stderr
    pngs = results_in(tmp_path)
    assert len(pngs) == 3
    sizes = [eigenstyle.read_recipe(str(tmp_path / f)).get("batch", {}).get("size", 1) for f in pngs]
    assert sizes == [2, 2, 1]


def test_coarse_to_fine_variants_run_their_scales_and_reproduce(content_path, style_path, tmp_path):
    """A variant's recipe says which scales ran, and the variants command runs them: each variant goes
    through its scales as stylize does (not in a batch at the final size only), so it reproduces."""
    tiny = [a if a != "48" else "64" for a in TINY]
    r = run_cli(
        "variants", content_path, style_path, "--count", "2", "--batch-size", "2", "--variant-seed", "5",
        "--scales", "32", "-o", tmp_path, *tiny,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    pngs = results_in(tmp_path)
    assert len(pngs) == 2
    for name in pngs:
        data = eigenstyle.read_recipe(str(tmp_path / name))
        assert data["options"]["scales"] == [32] and "batch" not in data
        again = tmp_path / f"again-{name}"
        eigenstyle.reproduce(str(tmp_path / name), str(again))
        assert np.array_equal(pixels(tmp_path / name), pixels(again))


@pytest.mark.slow
def test_variants_of_a_style_file_take_its_layers_and_their_weight(content_path, style_path, tmp_path):
    """Auto values are settled once, after the style source is read: a style file's layers are the runs' (a
    randomised batch of a relu3_2 style file used to fail with KeyError 'relu1_1'), at their balanced weight."""
    from eigenstyle import cli, recipe

    small = ["--size", "48", "--iterations", "2", "--swatch-iterations", "2", "-q", "--precision", "fp32"]
    sf = str(tmp_path / "s.safetensors")
    assert cli.main(["stylize", content_path, style_path, *small, "--style-layers", "relu3_2", "--save-style", sf,
                     "-o", str(tmp_path / "a.png")]) == 0  # fmt: skip
    out = tmp_path / "v"
    assert cli.main(["variants", content_path, "--style-file", sf, "--mode", "variant", "--count", "2", *small,
                     "-o", str(out)]) == 0  # fmt: skip
    made = [f for f in os.listdir(out) if f.endswith(".png") and ".swatch" not in f and "sheet" not in f]
    assert len(made) == 2
    for f in made:
        o = recipe.read_recipe(str(out / f))["options"]
        assert o["style_layers"] == ["relu3_2"] and o["style_weight"] == 2500.0
