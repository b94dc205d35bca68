"""Recipes: written into every output, read back, and re-run to the same image."""

import json

import numpy as np
import pytest
import torch
from PIL import Image, PngImagePlugin

import eigenstyle
from eigenstyle import recipe
from eigenstyle.errors import EigenstyleError

from conftest import SMALL


@pytest.fixture(scope="module")
def made(tmp_path_factory, content_path, style_path):
    out = tmp_path_factory.mktemp("recipe") / "out.png"
    result = eigenstyle.stylize(content_path, style_path, output=str(out), **{**SMALL, "seed": None})
    return out, result


def test_recipe_carries_everything(made, content_path, style_path):
    out, result = made
    data = eigenstyle.read_recipe(str(out))
    assert data == json.loads(json.dumps(result.recipe))
    assert data["options"]["size"] == SMALL["size"] and data["options"]["iterations"] == SMALL["iterations"]
    assert isinstance(data["options"]["seed"], int)  # the drawn seed is recorded
    assert data["eigenstyle"] == eigenstyle.__version__ and data["torch"] == torch.__version__
    assert data["weights"]["model"] == "vgg19-caffe-q8" and len(data["weights"]["sha256"]) == 64
    assert data["content"]["path"] == content_path and len(data["content"]["sha256"]) == 64
    assert data["styles"][0]["path"] == style_path
    assert data["iterations_done"] == SMALL["iterations"] and data["interrupted"] is False
    assert data["losses"]["total"] > 0 and data["device"] == "cpu"
    assert data["precision"] == data["options"]["precision"] in ("fp32", "bf16")  # --precision auto, settled
    assert data["conv"] == data["options"]["conv"] and data["arithmetic"]["chosen_by"] == "timing"
    assert 50 < data["peak_memory_mb"] < 24 * 1024


@pytest.mark.slow
def test_reproduce_gives_the_same_image(made, tmp_path):
    out, _ = made
    again = tmp_path / "again.png"
    eigenstyle.reproduce(str(out), str(again))
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(again)))


@pytest.mark.slow
def test_jpeg_output_carries_the_recipe(content_path, style_path, tmp_path):
    out = tmp_path / "out.jpg"
    eigenstyle.stylize(content_path, style_path, output=str(out), **{**SMALL, "iterations": 2})
    assert Image.open(out).format == "JPEG"
    assert eigenstyle.read_recipe(str(out))["options"]["iterations"] == 2


def _png_with_text(path, text):
    info = PngImagePlugin.PngInfo()
    info.add_itxt("eigenstyle-recipe", text)
    Image.new("RGB", (4, 4)).save(path, pnginfo=info)


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", "not valid JSON"),
        ('{"format": "something-else"}', "not an eigenstyle recipe"),
        ('{"format": "eigenstyle-recipe", "version": 99, "eigenstyle": "9.0"}', "newer eigenstyle"),
        ('{"format": "eigenstyle-recipe", "version": 1}', "missing its"),
        ('{"format": "eigenstyle-recipe", "version": 1, "options": {"size": -3}, "content": {}, "styles": []}', "size"),
        (
            '{"format": "eigenstyle-recipe", "version": 1, "options": {"warp": 1}, "content": {}, "styles": []}',
            "does not know",
        ),
    ],
)
def test_bad_recipes_are_refused_clearly(tmp_path, text, message):
    path = tmp_path / "r.png"
    _png_with_text(path, text)
    with pytest.raises(EigenstyleError, match=message):
        eigenstyle.read_recipe(str(path))


def test_image_without_recipe(tmp_path):
    path = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(path)
    with pytest.raises(EigenstyleError, match="carries no eigenstyle recipe"):
        eigenstyle.read_recipe(str(path))


def test_changed_input_is_detected(made, tmp_path, style_path):
    out, _ = made
    data = eigenstyle.read_recipe(str(out))
    changed = tmp_path / "content.png"
    Image.new("RGB", (64, 48), "red").save(changed)
    with pytest.raises(EigenstyleError, match="sha256 mismatch"):
        eigenstyle.reproduce(str(out), str(tmp_path / "x.png"), content=str(changed))
    assert not (tmp_path / "x.png").exists()
    assert data["content"]["sha256"] != recipe.identity_of_file(str(changed))["sha256"]


def test_outputs_are_ordinary_files_not_private_temporaries(made):
    import os
    import stat

    out, _ = made
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o666 & ~mask
