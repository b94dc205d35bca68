"""Morphs (issue 36): the path's targets, frames that start and end on the favourites, clips that carry their
recipe and reproduce, walks that come back, layer morphs, and Ctrl-C keeping the frames made."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from eigenstyle import EigenstyleError, Options, stylize
from eigenstyle import morph as motion
from eigenstyle.cli import main

from conftest import SMALL

FAV = dict(SMALL, size=48, iterations=20, mode="variant")


def pixels(im) -> np.ndarray:
    return np.asarray(im.convert("RGB"), dtype=np.float64)


@pytest.fixture(scope="module")
def favourites(tmp_path_factory, request):
    """Two variants and a plain run of one content and style, 48 px, as files with their recipes."""
    from eigenstyle.demo import sample

    where = tmp_path_factory.mktemp("favourites")
    paths = {}
    for name, extra in (("a", {"variant_seed": 1}), ("b", {"variant_seed": 2}), ("plain", {"mode": "none"})):
        paths[name] = str(where / f"{name}.png")
        stylize(sample("tubingen.jpg"), sample("starry_night.jpg"), Options(**{**FAV, **extra}), output=paths[name])
    return paths


def test_the_path_blends_genomes_and_strengths_and_cross_fades_two_single_layers():
    a = Options(mode="variant", variant_seed=1, strength=1.0)
    b = Options(mode="variant", genome={"mutate": {"seed": 1}, "seed": 5, "amount": 0.2}, strength=0.5)
    o = motion.point(a, b, 0.25)
    assert o.genome == {"between": [{"seed": 1}, b.genome], "t": 0.25} and o.strength == 0.875
    assert o.style_layer_weights is None
    o = motion.point(Options(mode="none"), a, 0.3)  # a plain run is strength 0 of the variant
    assert (o.mode, o.genome, o.strength) == ("variant", {"seed": 1}, 0.3)
    o = motion.point(a, Options(mode="none"), 1.0)
    assert o.strength == 0.0
    la, lb = Options(style_layers=("relu3_2",)), Options(style_layers=("relu3_3",))
    o = motion.point(la, lb, 0.25)
    assert o.style_layers == ("relu3_2", "relu3_3") and o.style_weight == 1.0  # the factors are the weights
    assert o.layer_weights() == pytest.approx(
        {"relu3_2": 0.75 * la.style_weight_value(), "relu3_3": 0.25 * lb.style_weight_value()}
    )
    assert motion.point(la, lb, 0.0).settled().active_style_layers() == ("relu3_2",)  # relu3_3 not computed
    with pytest.raises(EigenstyleError, match="one single style layer to another"):
        motion.point(Options(), lb, 0.5)


def test_a_plan_refuses_what_it_cannot_do(favourites, tmp_path):
    a, b = motion.keys_of([favourites["a"], favourites["b"]])
    with pytest.raises(EigenstyleError, match="frames must be >= 1"):
        motion.Plan([a, b], frames=0)
    with pytest.raises(EigenstyleError, match="give two or more"):
        motion.Plan([a], frames=3)
    with pytest.raises(EigenstyleError, match="plain run"):
        motion.walk_keys(motion.keys_of([favourites["plain"]])[0], 2, 0.2, 1)
    with pytest.raises(EigenstyleError, match="is written as .mp4, .webp, .gif"):
        motion.write_check("clip.avi")
    from eigenstyle.demo import sample

    other = str(tmp_path / "other.png")
    stylize(favourites["a"], sample("starry_night.jpg"), Options(**FAV), output=other)  # another content
    with pytest.raises(EigenstyleError, match="different contents"):
        motion.keys_of([favourites["a"], other])
    with pytest.raises(EigenstyleError, match="is a swatch"):
        motion.keys_of([favourites["a"], favourites["a"][:-4] + ".swatch.png"])


@pytest.mark.parametrize("ext", [".mp4", ".webp", ".gif"])
def test_a_clip_carries_the_morphs_recipe(tmp_path, ext):
    """Every format holds its frames and the recipe (MP4: container metadata; WebP: EXIF; GIF: a comment);
    an odd-sized frame loses its last row and column to H.264's 4:2:0 only."""
    rng = np.random.default_rng(0)
    pics = [Image.fromarray((rng.random((37, 50, 3)) * 255).astype(np.uint8)) for _ in range(5)]
    data = {"format": motion.RECIPE_KEY, "frames": 4, "keys": [{"path": "ä.png"}]}
    path = str(tmp_path / f"clip{ext}")
    motion.write(pics, path, 12, data)
    assert motion.read_recipe(path) == data
    if ext == ".mp4":
        import av

        with av.open(path) as f:
            s = f.streams.video[0]
            assert (s.codec_context.name, s.width, s.height, s.frames) == ("h264", 50, 36, 5)
    else:
        with Image.open(path) as im:
            assert (im.n_frames, im.size) == (5, (50, 37))
    assert [p.name for p in tmp_path.iterdir()] == [f"clip{ext}"]  # written atomically: nothing beside it


@pytest.mark.slow
def test_a_morph_starts_and_ends_on_its_favourites_and_reproduces(favourites, tmp_path):
    a, b = motion.keys_of([favourites["a"], favourites["b"]])
    plan = motion.Plan([a, b], frames=4)
    out = str(tmp_path / "m.webp")
    pics = motion.morph(plan, out, frames_dir=str(tmp_path / "frames"))
    assert len(pics) == 5 and all(p.size == pics[0].size for p in pics)
    assert np.array_equal(pixels(pics[0]), pixels(Image.open(favourites["a"])))  # the favourites themselves
    assert np.array_equal(pixels(pics[-1]), pixels(Image.open(favourites["b"])))
    d = [np.abs(pixels(pics[i + 1]) - pixels(pics[i])).mean() for i in range(4)]
    assert min(d) > 0.05  # every frame moves
    mid = pixels(pics[2])
    assert np.abs(mid - pixels(pics[0])).mean() > 1 and np.abs(mid - pixels(pics[-1])).mean() > 1  # on the way
    data = motion.read_recipe(out)
    assert data["frames_made"] == 5 and data["frame_iterations"] == 4  # 0.2x the favourites' 20
    assert sorted(os.listdir(tmp_path / "frames")) == [f"frame-{i:05d}.png" for i in range(5)]
    again = tmp_path / "again.webp"
    assert main(["reproduce", out, "-o", str(again), "-q"]) == 0
    with Image.open(out) as first, Image.open(again) as second:  # lossless WebP: the frames themselves
        for i in range(5):
            first.seek(i)
            second.seek(i)
            assert np.array_equal(pixels(first), pixels(pics[i])) and np.array_equal(pixels(second), pixels(pics[i]))


@pytest.mark.slow
def test_a_walk_comes_back_to_its_favourite_and_a_plain_run_morphs_into_a_variant(favourites, tmp_path):
    (a,) = motion.keys_of([favourites["a"]])
    keys = motion.walk_keys(a, 2, 0.2, 7)
    assert keys[0] is a and keys[-1] is a
    assert [k.opts.genome for k in keys[1:3]] == [{"mutate": {"seed": 1}, "seed": s, "amount": 0.2} for s in (7, 8)]
    pics = motion.morph(motion.Plan(keys, frames=2, walk={"steps": 2, "amount": 0.2, "seed": 7}))
    assert len(pics) == 7 and np.array_equal(pixels(pics[0]), pixels(pics[-1]))
    assert np.abs(pixels(pics[3]) - pixels(pics[0])).mean() > 0.5  # it went somewhere
    plain, b = motion.keys_of([favourites["plain"], favourites["b"]])
    pics = motion.morph(motion.Plan([plain, b], frames=3))
    assert np.array_equal(pixels(pics[0]), pixels(Image.open(favourites["plain"])))
    assert np.array_equal(pixels(pics[-1]), pixels(Image.open(favourites["b"])))


@pytest.mark.slow
def test_a_layer_morph_cross_fades_two_single_layers(tmp_path):
    from eigenstyle.demo import sample

    paths = []
    for layer in ("relu3_2", "relu3_3"):
        paths.append(str(tmp_path / f"{layer}.png"))
        stylize(sample("tubingen.jpg"), sample("starry_night.jpg"), Options(**{**FAV, "mode": "none"}),
                style_layers=(layer,), output=paths[-1])  # fmt: skip
    pics = motion.morph(motion.Plan(motion.keys_of(paths), frames=3, frame_iterations=10))
    assert len(pics) == 4
    assert np.array_equal(pixels(pics[-1]), pixels(Image.open(paths[1])))
    assert np.abs(pixels(pics[1]) - pixels(pics[0])).mean() > 0.05


def test_bad_morph_requests_are_one_line(favourites, tmp_path, capsys):
    from eigenstyle.demo import sample

    cases = [
        ([], "give the favourites"),
        ([favourites["a"], favourites["b"], "-o", str(tmp_path / "x.avi")], "is written as"),
        ([favourites["a"], sample("tubingen.jpg")], "carries no eigenstyle recipe"),
        ([favourites["a"], str(tmp_path / "missing.png")], "no such file"),
        ([favourites["a"], favourites["b"], "--frames", "0", "-o", str(tmp_path / "x.gif")], "frames must be"),
    ]
    for args, message in cases:
        assert main(["morph", *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_ctrl_c_writes_the_clip_of_the_frames_made(favourites, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "eigenstyle.cli", "morph", favourites["a"], favourites["b"], "--frames", "40",
         "--frame-iterations", "30", "-o", "m.gif"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.time() + 120
        for line in proc.stdout:
            if line.startswith("frame 3/") or time.time() > deadline:
                proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted; kept" in err and "m.gif" in err
    with Image.open(tmp_path / "m.gif") as im:
        assert im.n_frames >= 3
    data = motion.read_recipe(str(tmp_path / "m.gif"))
    assert data["interrupted"] and data["frames_made"] >= 3
    assert sorted(os.listdir(tmp_path)) == ["m.gif"]
