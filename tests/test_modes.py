"""Modes: the registry, a new mode declared in one place, and a mode of one's own registered from this
module, run through the command line, sweep, reproduce and the studio."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from eigenstyle import cli, modes, recipe
from eigenstyle.errors import EigenstyleError
from eigenstyle.modes import Mode
from eigenstyle.options import Options
from eigenstyle.printing import reproduce
from eigenstyle.randomize import Randomization, randomize_gram
from eigenstyle.studio.app import create_app
from eigenstyle.sweep import Grid

from studio_live import client as client_of

FAST = [
    "--size",
    "48",
    "--iterations",
    "4",
    "--swatch-iterations",
    "4",
    "-q",
    "--precision",
    "fp32",
    "--conv",
    "direct",
]


def psd(c=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    f = torch.rand(c, 3 * c, generator=g, dtype=torch.float64)
    return f @ f.T / f.shape[1]


def reversed_rebuild(g, v, e, rand, r):
    """The eigenvalues in reverse order: the strongest direction gets the weakest energy."""
    return (v * e.flip(0)) @ v.T


@pytest.fixture
def reversed_mode():
    mode = modes.register(
        Mode("reversed", "eigenvalues in reverse order", lambda rng, c, r: rng.uniform(c), reversed_rebuild)
    )
    yield mode
    modes.unregister("reversed")


def test_the_registry_is_what_every_list_of_modes_reads():
    assert list(modes.NAMES)[:4] == ["none", "variant", "fantasy", "random"] and "eigenvalues" in modes.NAMES
    modes.register(Mode("mine", "a test's", lambda rng, c, r: rng.uniform(c), reversed_rebuild, target="raw"))
    try:
        assert "mine" in modes.NAMES and "`mine`" in modes.table()
        assert Options(mode="mine").validate().settled().target == "raw"  # its defaults settle auto options
        assert Grid.of(modes="mine,none").modes == ("mine", "none")
    finally:
        modes.unregister("mine")
    with pytest.raises(EigenstyleError, match="mode must be one of"):
        Options(mode="mine").validate()
    with pytest.raises(EigenstyleError, match="both draw and rebuild"):
        modes.register(Mode("half", "no draw", None, reversed_rebuild))


def test_the_eigenvalues_mode_against_a_float64_reference():
    g = psd()
    r = Randomization(mode="eigenvalues", spread=(0.5, 1.5), scale="none", genome={"seed": 4})
    out, _ = randomize_gram(g, "relu3_1", r)
    from eigenstyle.randomize import genome_matrix

    m = genome_matrix(r, r.genome, "relu3_1", 10).diagonal().numpy()
    assert 0.5 <= m.min() and m.max() <= 1.5
    e, v = np.linalg.eigh(g.numpy())
    np.testing.assert_allclose(out.numpy(), (v * (e * m)) @ v.T, rtol=1e-10, atol=1e-12)
    assert np.allclose(np.linalg.eigh(out.numpy())[0], np.sort(e * m), rtol=1e-9)  # same eigenvectors, new energies


def test_a_registered_mode_is_used_as_declared(reversed_mode):
    g = psd()
    out, _ = randomize_gram(g, "relu3_2", Randomization(mode="reversed", scale="none", genome={"seed": 1}))
    e, v = np.linalg.eigh(g.numpy())
    np.testing.assert_allclose(out.numpy(), (v * e[::-1]) @ v.T, rtol=1e-10, atol=1e-12)


@pytest.mark.slow
def test_a_mode_registered_here_runs_through_the_cli_and_reproduces(reversed_mode, tmp_path, content_path, style_path):
    out = str(tmp_path / "rev.png")
    assert cli.main(["stylize", content_path, style_path, "--mode", "reversed", *FAST, "-o", out]) == 0
    data = recipe.read_recipe(out)
    assert data["options"]["mode"] == "reversed" and data["options"]["target"] == "reachable"
    assert os.path.isfile(str(tmp_path / "rev.swatch.png"))  # a randomised style's picture, as every mode's
    again = reproduce(out)
    assert np.array_equal(np.asarray(again.image), np.asarray(Image.open(out).convert("RGB")))
    sheet = str(tmp_path / "sweep")
    assert cli.main(["sweep", content_path, style_path, "--modes", "reversed,variant", "--seeds", "1", *FAST,
                     "-o", sheet]) == 0  # fmt: skip
    assert sorted(f for f in os.listdir(sheet) if "reversed" in f and f.endswith(".png") and ".swatch" not in f)


@pytest.mark.slow
def test_the_studio_offers_and_runs_a_registered_mode(reversed_mode, tmp_path):
    app = create_app(str(tmp_path / "ws"), preview_every=2)
    with client_of(app) as client:
        config = client.get("/api/config").json()
        assert "reversed" in config["modes"] and config["mode_help"]["reversed"] == "eigenvalues in reverse order"
        ins = {i["name"]: i["id"] for i in client.get("/api/inputs").json()["inputs"]}
        body = {"content": ins["tubingen.jpg"], "style": ins["starry_night.jpg"], "mode": "reversed", "count": 1,
                "size": 48, "iterations": 4, "swatch_size": 32, "swatch_iterations": 4}  # fmt: skip
        r = client.post("/api/generate", json=body)
        assert r.status_code == 202, r.text
        client.get(f"/api/jobs/{r.json()['job']['id']}/events")  # to the job's end
        (rec,) = client.get("/api/results?mode=reversed").json()["results"]
        assert rec["status"] == "done"
        png = tmp_path / "dl.png"
        png.write_bytes(client.get(rec["image_url"] + "?download=1").content)
        assert recipe.read_recipe(str(png))["options"]["mode"] == "reversed"


@pytest.mark.slow
def test_a_mode_in_a_file_of_ones_own_through_EIGENSTYLE_MODES(tmp_path, content_path, style_path):
    mine = tmp_path / "mine.py"
    mine.write_text(
        "from eigenstyle.modes import Mode, register\n"
        "register(Mode('transposed', 'the Gram of V transposed', lambda rng, c, r: rng.uniform(c),\n"
        "              lambda g, v, e, rand, r: (v.T * e) @ v))\n"
    )
    env = {**os.environ, "EIGENSTYLE_MODES": str(mine)}
    out = str(tmp_path / "t.png")
    cmd = [sys.executable, "-m", "eigenstyle.cli", "stylize", content_path, style_path, "--mode", "transposed"]
    r = subprocess.run([*cmd, *FAST, "-o", out], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    with pytest.raises(EigenstyleError, match="mode must be one of"):  # its recipe needs its mode
        recipe.read_recipe(out)
    modes.load(str(mine))
    try:
        assert recipe.read_recipe(out)["options"]["mode"] == "transposed"
    finally:
        modes.unregister("transposed")
    bad = tmp_path / "bad.py"
    bad.write_text("raise ValueError('oops')\n")
    r = subprocess.run([*cmd, "-o", out], env={**env, "EIGENSTYLE_MODES": str(bad)}, capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"eigenstyle: error: EIGENSTYLE_MODES: cannot load {bad}: ValueError: oops"
    ]
