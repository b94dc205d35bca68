"""The sweep: its grid from flags or a TOML/JSON file, the distinct runs it makes, and the command's
images and sheets (one per pair of axes that vary), through the local executor."""

import json
import os

import pytest
from PIL import Image

from eigenstyle import read_recipe
from eigenstyle.errors import EigenstyleError
from eigenstyle.options import Options
from eigenstyle.sweep import Grid, sweep_options

from conftest import run_cli, said


def test_axes_from_flags():
    g = Grid.of(modes="variant,fantasy", seeds="1-3,7", layers="relu3_2,all", weights="500,1e3")
    assert g.modes == ("variant", "fantasy") and g.seeds == (1, 2, 3, 7)
    assert g.layers == ("relu3_2", None) and g.weights == (500.0, 1000.0)
    assert g.varying() == ["mode", "seed", "layer", "weight"] and len(g.cells()) == 2 * 4 * 2 * 2
    assert Grid.of().varying() == [] and len(Grid.of().cells()) == 1


@pytest.mark.parametrize(
    "axes, message",
    [
        (dict(modes="variant,dream"), "is not one of none, variant, fantasy, random"),
        (dict(seeds="1-x"), "'1-x' is not a seed or a range"),
        (dict(seeds="1-5000"), "between 1 and 1000 seeds"),
        (dict(layers="relu3_2,relu9_9"), "relu9_9"),
        (dict(weights="100,-5"), "every style weight must be > 0"),
        (dict(weights="a lot"), "are not numbers"),
        (dict(mixes="1:x"), "is not factors like 1:0.5"),
        (dict(mixes="0:0"), "not all 0"),
    ],
)
def test_bad_axes_are_one_clear_error(axes, message):
    with pytest.raises(EigenstyleError, match=message.replace("(", r"\(")):
        Grid.of(**axes)


def test_axes_from_a_file_flags_win(tmp_path):
    toml = tmp_path / "g.toml"
    toml.write_text('modes = ["variant", "fantasy"]\nseeds = "1-2"\nweights = [100, 200]\n')
    assert Grid.read(str(toml)) == Grid.of(modes="variant,fantasy", seeds="1-2", weights="100,200")
    assert Grid.read(str(toml), seeds="5").seeds == (5,)
    js = tmp_path / "g.json"
    js.write_text(json.dumps({"layers": ["relu3_1", "relu3_3"], "seeds": [4, 9]}))
    assert Grid.read(str(js)) == Grid.of(layers="relu3_1,relu3_3", seeds="4,9")
    for text, message in (("{nope", "not valid JSON"), ('{"colours": [1]}', "expected the keys")):
        js.write_text(text)
        with pytest.raises(EigenstyleError, match=message):
            Grid.read(str(js))
    with pytest.raises(EigenstyleError, match="cannot read"):
        Grid.read(str(tmp_path / "missing.toml"))


def test_a_mix_axis_cross_fades_the_layers():
    g = Grid.of(mixes="1:0,0.5:0.5,0:1")
    assert g.mixes == ((1.0, 0.0), (0.5, 0.5), (0.0, 1.0)) and g.varying() == ["mix"]
    base = Options(mode="none", style_layers=("relu3_2", "relu3_3"), seed=1)
    runs, cells = sweep_options(base, Grid.of(modes="none", mixes="1:0,0.5:0.5,0:1"))
    assert [o.style_layer_weights for o, _ in runs] == [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]
    assert [label for _, label in runs] == ["1:0", "0.5:0.5", "0:1"]
    with pytest.raises(EigenstyleError, match="has 3 factors for 2 style layers"):
        sweep_options(base, Grid.of(mixes="1:1:1"))


def test_a_weight_axis_per_layer_runs_every_combination(tmp_path):
    g = Grid.of(layer_weights=["relu3_2=1,0.5", "relu3_3=0,1"])
    assert g.varying() == ["mix"] and len(g.cells()) == 4
    base = Options(mode="none", style_layers=("relu3_2", "relu3_3", "relu4_1"), seed=1)
    runs, _ = sweep_options(base, g)
    assert [o.style_layer_weights for o, _ in runs] == [(1, 0, 1), (1, 1, 1), (0.5, 0, 1), (0.5, 1, 1)]
    assert runs[2][1] == "relu3_2×0.5 relu3_3×0"
    toml = tmp_path / "g.toml"
    toml.write_text("layer_weights = {relu3_2 = [1, 0.5], relu3_3 = [0, 1]}\n")
    assert Grid.read(str(toml)) == g
    for axes, message in (
        (dict(layer_weights=["relu3_2"]), "give LAYER=F1,F2"),
        (dict(layer_weights=["relu9_9=1"]), "relu9_9"),
        (dict(layer_weights=["relu3_2=0"]), "all its layers at 0"),
        (dict(layer_weights=["relu3_2=1"], mixes="1:0"), "not both"),
    ):
        with pytest.raises(EigenstyleError, match=message):
            Grid.of(**axes)
    with pytest.raises(EigenstyleError, match="relu5_1 not among the style layers"):
        sweep_options(base, Grid.of(layer_weights=["relu5_1=1,2"]))


def test_the_same_picture_runs_once_and_labels_are_unique():
    grid = Grid.of(modes="none,variant", seeds="1-3", layers="relu3_2,relu3_3")
    runs, cells = sweep_options(Options(seed=4), grid)
    assert len(cells) == 12 and len(runs) == 2 + 6  # a plain run is the same at every variant seed
    labels = [label for _, label in runs]
    assert len(set(labels)) == len(labels)
    assert {o.seed for o, _ in runs} == {4}  # every cell starts from the same noise
    by = {label: o for o, label in runs}
    assert by["variant s2 relu3_3"].variant_seed == 2 and by["variant s2 relu3_3"].style_layers == ("relu3_3",)
    # a single layer without a weight gets its balanced one, as `eigenstyle layers` gives it
    assert by["variant s2 relu3_3"].style_weight_value() == Options(style_layers=("relu3_3",)).settled().style_weight
    plain = [o for o, _ in runs if o.mode == "none"]
    assert len(plain) == 2 and all(o.variant_seed is None for o in plain)
    # every cell points at its run; both plain cells of a layer at the same one
    none_32 = {i for c, i in cells if c["mode"] == "none" and c["layer"] == "relu3_2"}
    assert len(none_32) == 1


@pytest.mark.slow
def test_sweep_writes_each_run_and_a_sheet_per_pair_of_axes(content_path, style_path, tmp_path):
    out = tmp_path / "sw"
    r = run_cli(
        "sweep", content_path, style_path, "--modes", "variant,none", "--seeds", "1-2", "--layers", "relu3_1,relu3_2",
        "--size", "48", "--iterations", "8", "--seed", "3", "--swatch-size", "32", "--swatch-iterations", "4",
        "-o", out, "-q",
    )  # fmt: skip
    assert r.returncode == 0 and said(r.stderr) == [], r.stderr
    assert "sweep: 2 modes x 2 seeds x 2 layers = 8 cells, 6 distinct runs" in r.stdout
    pictures = sorted(n for n in os.listdir(out) if n.endswith(".png") and "." not in n[:-4])
    assert len(pictures) == 6, pictures
    recipe = read_recipe(str(out / "tubingen-starry_night-variant-s2-relu3_2.png"))
    assert recipe["options"]["variant_seed"] == 2 and recipe["options"]["style_layers"] == ["relu3_2"]
    sheets = sorted(n for n in os.listdir(out) if n.endswith(".jpg"))
    assert sheets == [
        "tubingen-starry_night-sweep-mode-x-layer.jpg",
        "tubingen-starry_night-sweep-mode-x-seed.jpg",
        "tubingen-starry_night-sweep-seed-x-layer.jpg",
    ]
    for name in sheets:  # 2 x 2 tiles, 256 px wide each, labelled
        w, h = Image.open(out / name).size
        assert w == 2 * 256 + 3 * 6 and h == 2 * (192 + 22 + 6) + 6, (name, w, h)
