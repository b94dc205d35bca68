"""From a favourite to print: `render` runs a favourite's recipe at another size, coarse to fine from the
favourite itself, with the favourite's style (its swatch, made as it was) at the matching scale."""

import json

import numpy as np
import pytest
import torch
from PIL import Image, ImageFilter

from eigenstyle import Options, cli, memory, printing, problem
from eigenstyle.errors import EigenstyleError
from eigenstyle.images import read_embedded_recipe, swatch_path
from eigenstyle.plan import Preparation
from eigenstyle.printing import render_options, start_of
from eigenstyle.pyramid import for_render as schedule
from eigenstyle.swatch import at_scale, given, network_for, reach, reference
from eigenstyle.targets import image_grams, to_tensor

from conftest import SMALL

LAYERS = ("relu2_1", "relu3_2")
FAVOURITE = dict(SMALL, style_layers=LAYERS, swatch_iterations=8, mode="variant", variant_seed=5)


@pytest.fixture(scope="module")
def favourite(tmp_path_factory, content_path, style_path):
    """A small variant written as an artist keeps it: image, swatch beside it, recipe embedded."""
    import eigenstyle

    path = tmp_path_factory.mktemp("fav") / "fav.png"
    eigenstyle.stylize(content_path, style_path, Options(**FAVOURITE), output=str(path))
    return path


def recipe_of(path):
    return json.loads(read_embedded_recipe(str(path)))


def test_schedule_doubles_from_the_favourite():
    assert schedule(256, 4000) == (500, 1000, 2000)
    assert schedule(256, 2048) == (512, 1024)
    assert schedule(256, 700) == ()  # within a factor of three: the final scale only
    assert schedule(512, 256) == ()  # smaller: straight from the favourite


def test_render_options_keep_the_favourites_style(favourite):
    data = recipe_of(favourite)
    o = render_options(data, start_of(str(favourite), data), 200)
    fav = Options.from_dict(data["options"])
    assert (o.size, o.reference_size, o.scales, o.init) == (200, 48, (100,), str(favourite))
    assert o.lbfgs_history is None  # auto again: chosen for the new size
    same = ("mode", "variant_seed", "genome", "style_layers", "style_weight", "content_weight", "spread", "target")
    assert all(getattr(o, k) == getattr(fav, k) for k in same)
    assert render_options(data, str(favourite), 200, iterations=7, bit_depth=16).iterations == 7


@pytest.mark.slow
def test_the_render_optimises_against_the_favourites_swatch_scaled(favourite, content_path, style_path):
    """Made at the favourite's size, the swatch is the favourite's pixel for pixel; the targets are its Grams
    with the swatch scaled by size / reference size. Synthesised at the new size instead, it would be another
    picture: the style's Grams at another scale give another texture."""
    data = recipe_of(favourite)
    opts = problem.resolve_seeds(render_options(data, str(favourite), 96).replace(scales=None))
    p = given(problem.prepare(content_path, [style_path], opts), reference(content_path, [style_path], opts))
    saved = Image.open(swatch_path(str(favourite))).convert("RGB")
    assert np.array_equal(np.asarray(p.swatch), np.asarray(saved))
    scaled = at_scale(saved, p.opts)
    assert scaled.size == (96, 96)  # 48 px swatch of a 48 px favourite, rendered at 96
    expected = image_grams(network_for(p), to_tensor(scaled, p.pre), LAYERS)
    for k in LAYERS:
        assert torch.allclose(p.targets.style[k], expected[k], rtol=1e-5, atol=1e-9)
    fresh = reach([problem.prepare(content_path, [style_path], opts.replace(reference_size=None))])[0]
    assert not np.array_equal(np.asarray(fresh.swatch), np.asarray(saved))
    with pytest.raises(EigenstyleError, match="reference_size needs the swatch"):
        reach([problem.prepare(content_path, [style_path], opts)])  # never silently another swatch
    planned = Preparation(content_path, [style_path]).problems([opts])[0]  # the studio's and variants' way
    assert np.array_equal(np.asarray(planned.swatch), np.asarray(saved))


@pytest.mark.slow
def test_render_writes_the_print_and_reproduces_it(favourite, tmp_path):
    out = tmp_path / "print.png"
    code = cli.main(
        [
            "render",
            str(favourite),
            "--size",
            "150",
            "--scale-iterations",
            "3",
            "--iterations",
            "4",
            "-o",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    im = Image.open(out)
    assert max(im.size) == 150
    r = recipe_of(out)
    assert r["options"]["scales"] == [75] and r["options"]["reference_size"] == 48
    assert r["init"]["path"] == str(favourite) and len(r["init"]["sha256"]) == 64  # which favourite it started from
    assert r["iterations_done"] == 4 and not r["interrupted"]
    assert Image.open(swatch_path(str(out))).size == (48, 48)  # the favourite's swatch travels with the print
    scale = tmp_path / "print_75px.png"  # each finished scale is kept: a favourite to resume from
    assert max(Image.open(scale).size) == 75 and recipe_of(scale)["options"]["size"] == 75
    again = tmp_path / "again.png"
    assert cli.main(["reproduce", str(out), "-o", str(again), "-q"]) == 0
    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(im))
    moved = tmp_path / "fav-moved.png"  # the favourite it started from is part of the recipe
    favourite.rename(moved)
    try:
        assert cli.main(["reproduce", str(out), "-o", str(tmp_path / "third.png"), "-q"]) == 2
    finally:
        moved.rename(favourite)


def test_render_refuses_what_it_cannot_do(favourite, tmp_path, capsys):
    assert cli.main(["render", str(favourite), "-o", str(tmp_path / "x.png")]) == 2
    assert "--size" in capsys.readouterr().err
    plain = tmp_path / "plain.png"
    Image.new("RGB", (64, 64)).save(plain)
    assert cli.main(["render", str(plain), "--size", "128", "-o", str(tmp_path / "y.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no eigenstyle recipe" in err
    assert not (tmp_path / "y.png").exists()


def test_history_shrinks_only_where_it_would_dominate_the_memory():
    o = Options()
    gib = 2**30
    assert memory.history_for(o, 256 * 192, 20 * gib) == 100  # a normal size: neural-style's 100
    shorter = memory.history_for(o, 2048 * 1536, 3 * gib)
    assert 5 <= shorter < 100
    state = (2 * shorter + 6) * 12 * 2048 * 1536  # bytes of the image-sized L-BFGS state
    assert state <= memory.STATE_SHARE * memory.HEADROOM * 3 * gib
    assert memory.history_for(o, 4096 * 3072, 1 * gib) == memory.MIN_HISTORY
    assert memory.history_for(o.replace(lbfgs_history=100), 2048 * 1536, 3 * gib) == 100  # asked for: kept
    assert memory.history_for(o.replace(optimizer="adam"), 2048 * 1536, 3 * gib) == 100  # no history to keep


def test_a_tight_budget_records_the_history_it_chose(content_path, style_path):
    opts = Options(size=96, style_layers=LAYERS, max_memory=0.02, seed=1, print_every=0)
    with pytest.warns(UserWarning, match="L-BFGS correction pairs"):
        p = problem.prepare(content_path, [style_path], opts)
    assert 5 <= p.opts.lbfgs_history < 100  # settled, so the recipe records it
    loose = problem.prepare(content_path, [style_path], opts.replace(max_memory=None))
    assert loose.opts.lbfgs_history == 100


def test_each_scale_shows_its_place_and_the_runs_eta(content_path, style_path, capfd):
    import eigenstyle

    eigenstyle.stylize(
        content_path, style_path, size=64, scales=(32,), iterations=3, style_layers=LAYERS, progress=True, seed=1
    )
    err = capfd.readouterr().err
    assert "scale 1/2 (32x24 px): iteration 3/3" in err and "scale 2/2 (64x48 px): iteration 3/3" in err
    assert "all scales done in ~" in err


def test_the_eta_of_the_2048_px_render_in_the_docs():
    """The schedule's ETA from the first scale's pace, for the default 2048 px render measured in
    docs/render.md (scales 512, 1024, 2048 px; 100, 100, 50 iterations; 1.08 s an iteration at the
    first, 2184 s in all): within 10 %, where a cost linear in pixels said 23 min."""
    from eigenstyle.pyramid import Pyramid

    schedule = Pyramid.of(Options(size=2048, scales=(512, 1024), scale_iterations=100, iterations=50))
    eta = schedule.left(0, 10, 10 * 1.08) + 10 * 1.08
    assert abs(eta / 2184 - 1) < 0.1, eta
    assert schedule.fraction(0, 0) == 0 and schedule.fraction(2, 50) == 1
    assert 0.04 < schedule.fraction(1, 0) < 0.06  # the first scale: 108 s of 2184
    assert 0.25 < schedule.fraction(2, 0) < 0.32  # both coarser scales: 636 s of 2184


def test_an_observers_stop_at_a_coarse_scale_ends_the_whole_run(content_path, style_path):
    """A reason to stop (the studio's cancel) at a coarse scale keeps that scale's image, marked interrupted
    with the reason, and prepares no finer scale (at print sizes one more scale is an hour)."""
    import eigenstyle
    from eigenstyle.loop import Observer

    class Cancel(Observer):
        sizes = []

        def wants(self, iteration):
            return True

        def seen(self, step):
            self.sizes.append(step.problem.opts.size)
            return "cancelled" if step.iteration == 2 else None

    watch = Cancel()
    r = eigenstyle.stylize(
        content_path, style_path, size=64, scales=(32,), iterations=4, style_layers=LAYERS, seed=1, observers=[watch]
    )
    assert set(watch.sizes) == {32} and max(r.image.size) == 32
    assert r.interrupted and r.recipe["stopped"] == "cancelled" and r.recipe["stopped_at_coarse_scale"] == 32
    assert r.recipe["iterations_done"] == 2


@pytest.mark.slow
def test_a_render_keeps_the_favourite_it_started_from(favourite, tmp_path):
    """Held to the favourite at the favourite's size (--anchor-weight, on by default in a render), the print
    reduced to that size and blurred stays the favourite; free (0), the finer scales repaint it."""
    import eigenstyle

    fav = Image.open(favourite).convert("RGB")
    blurred = np.asarray(fav.filter(ImageFilter.GaussianBlur(1)), dtype=np.float64)  # compared as the anchor is
    errors = {}
    for weight in (None, 0.0):
        extra = {} if weight is None else {"anchor_weight": weight}
        r = eigenstyle.render(str(favourite), 150, scale_iterations=10, iterations=10, print_every=0, **extra)
        small = r.image.resize(fav.size, Image.BILINEAR).filter(ImageFilter.GaussianBlur(1))
        errors[weight] = float(np.mean((np.asarray(small, dtype=np.float64) - blurred) ** 2))
        if weight is None:
            assert r.recipe["options"]["anchor_weight"] == printing.ANCHOR_WEIGHT and r.recipe["losses"]["anchor"] > 0
        else:
            assert r.recipe["losses"]["anchor"] == 0
    assert errors[None] < 0.85 * errors[0.0], errors  # measured: 0.73 (10 iterations a scale)


def test_the_apis_render_stays_the_function_once_its_module_is_imported():
    """``eigenstyle.render`` is the API's function even after ``import eigenstyle.printing`` (a module named
    like the function would replace it as the package's attribute on import)."""
    import eigenstyle
    import eigenstyle.printing

    assert eigenstyle.render is eigenstyle.printing.render


@pytest.mark.slow
def test_a_bf16_tile_renders_in_a_worker_thread_within_a_deadline(content_path, style_path, tmp_path):
    """The studio renders in a worker thread. A 48 px bf16 variant rendered to 144 px there once stalled before
    its first iteration on an AMX CPU (docs/benchmarks.md); it must finish, in bf16, well inside a deadline."""
    import threading

    import eigenstyle
    from eigenstyle.vgg.speed import hardware_bf16

    tile = tmp_path / "tile.png"
    eigenstyle.stylize(content_path, style_path, Options(**FAVOURITE, precision="bf16"), output=str(tile))
    out, done = tmp_path / "large.png", {}
    side = 144 if hardware_bf16(torch.device("cpu")) else 96  # emulated bf16 (no bf16 units) is ~20x slower

    def work():
        try:
            done["result"] = printing.render(str(tile), side, str(out), iterations=3, scale_iterations=3)
        except BaseException as e:  # seen by the test's thread, not lost in the worker's
            done["error"] = e

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout=90)
    assert not worker.is_alive(), "the bf16 render stalled in its worker thread"
    assert "error" not in done, done.get("error")
    assert recipe_of(out)["options"]["precision"] == "bf16" and Image.open(out).size[0] == side
