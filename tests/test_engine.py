"""End-to-end behaviour of the optimisation on the real weights, at tiny sizes."""

import dataclasses
import io

import numpy as np
import pytest
import torch

import eigenstyle
from eigenstyle import Options, loop, problem
from eigenstyle.errors import EigenstyleError
from eigenstyle.progress import PlainProgress, progress_bar
from eigenstyle.targets import Targets

from conftest import SMALL


@pytest.mark.slow
def test_short_run_lowers_the_loss_by_a_large_factor(content_path, style_path):
    opts = Options(**{**SMALL, "iterations": 30}).validate()
    p = problem.prepare(content_path, style_path, opts)
    x0 = loop.initial_image(p, seed=1)
    before = loop.evaluate(p, x0)["total"].item()
    out = loop.optimise(p, x0)
    after = loop.evaluate(p, out.x)["total"].item()
    assert out.done == 30 and not out.interrupted and out.error is None
    assert after < before / 10, (before, after)


def test_stylize_api_returns_image_of_requested_size_and_calls_back(content_path, style_path):
    seen = []
    result = eigenstyle.stylize(content_path, style_path, callback=lambda info: seen.append(info.iteration), **SMALL)
    assert seen == list(range(1, SMALL["iterations"] + 1))
    assert max(result.image.size) == SMALL["size"] and result.image.mode == "RGB"
    assert result.recipe["iterations_done"] == SMALL["iterations"]


def test_callback_returning_false_stops_early(content_path, style_path):
    result = eigenstyle.stylize(content_path, style_path, callback=lambda info: info.iteration < 4, **SMALL)
    assert result.recipe["iterations_done"] == 4


def test_progress_off_a_terminal_is_plain_lines(content_path, style_path, capsys):
    """stderr not a TTY (a log, CI): a plain line per 10 % of the run, no carriage-return frames;
    where a loss line (--print-every, on stdout) was printed, no progress line repeats it."""
    eigenstyle.stylize(content_path, style_path, size=32, iterations=5, seed=1, print_every=2, progress=True)
    out, err = capsys.readouterr()
    assert "\r" not in err and "\r" not in out
    assert [line.split("  ")[0] for line in out.splitlines()] == ["iteration 2/5", "iteration 4/5"]
    assert [line.split("  ")[0] for line in err.splitlines()] == [
        "iteration 1/5 (20%)",
        "iteration 3/5 (60%)",
        "iteration 5/5 (100%)",
    ]
    assert all(" loss " in f" {line}" and line.endswith(" s") for line in err.splitlines()), err


def test_plain_progress_steps_are_tenths_of_the_run_and_a_terminal_gets_tqdm():
    stream = io.StringIO()
    bar = progress_bar(45, True, stream)
    assert isinstance(bar, PlainProgress)
    for it in range(1, 46):
        bar.update(1)
        bar.set_postfix_str(f"loss {it}")
    bar.close()
    lines = stream.getvalue().splitlines()
    assert [line.split("  ")[:2] for line in lines] == [
        [f"iteration {n}/45 ({100 * n // 45}%)", f"loss {n}"] for n in range(5, 46, 5)
    ]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    bar = progress_bar(45, True, Terminal())
    assert not isinstance(bar, PlainProgress)
    bar.close()


@pytest.mark.slow
def test_batch_with_per_image_gram_targets_equals_single_evaluations(content_path, style_path):
    """Features, Grams and losses work on N images with N different style targets."""
    opts = Options(**SMALL).validate()
    p = problem.prepare(content_path, style_path, opts)
    torch.manual_seed(0)
    x = torch.randn(2, *p.content_tensor.shape[1:]) * 20
    base = p.targets
    other = {k: g * 1.7 for k, g in base.style.items()}  # a second, different style target
    p.targets = Targets(base.content, {k: torch.cat([base.style[k], other[k]]) for k in base.style})
    batched = loop.evaluate(p, x)
    singles = []
    for i, style in enumerate([base.style, other]):
        p.targets = Targets(base.content, style)
        singles.append(loop.evaluate(p, x[i : i + 1]))
    for key in ("total", "content", "style", "tv"):
        torch.testing.assert_close(batched[key], torch.cat([s[key] for s in singles]), rtol=1e-4, atol=1e-3)
    assert batched["style"][0] != batched["style"][1]


def test_blend_weights_mix_the_grams(content_path, style_path):
    opts = Options(**SMALL).validate()
    one = problem.prepare(content_path, [style_path], opts).targets.style
    mixed = problem.prepare(
        content_path, [style_path, content_path], opts.replace(style_blend_weights=(3.0, 1.0))
    ).targets.style
    as_style = problem.prepare(content_path, [content_path], opts).targets.style
    for k in one:
        torch.testing.assert_close(mixed[k], 0.75 * one[k] + 0.25 * as_style[k], rtol=1e-4, atol=1e-6)
    with pytest.raises(EigenstyleError, match="blend"):
        problem.prepare(content_path, [style_path], opts.replace(style_blend_weights=(1.0, 2.0)))


@pytest.mark.parametrize(
    "overrides",
    [
        dict(optimizer="adam", learning_rate=5.0),
        dict(normalize_gradients=True, optimizer="adam", learning_rate=5.0),
        dict(pooling="avg", style_scale=0.75, init="image"),
    ],
)
@pytest.mark.slow
def test_options_change_the_run_and_still_descend(content_path, style_path, overrides):
    opts = Options(**{**SMALL, "iterations": 20, **overrides}).validate()
    p = problem.prepare(content_path, style_path, opts)
    x0 = loop.initial_image(p, seed=1)
    before = loop.evaluate(p, x0)["total"].item()
    x = loop.optimise(p, x0).x
    assert loop.evaluate(p, x)["total"].item() < before


@pytest.mark.slow
def test_init_from_a_file_and_original_colors(content_path, style_path):
    result = eigenstyle.stylize(content_path, style_path, init=content_path, original_colors=True, **SMALL)
    content = eigenstyle.images.resize(eigenstyle.images.load_rgb(content_path), result.image.size)
    ycc_out = np.asarray(result.image.convert("YCbCr"), dtype=float)
    ycc_content = np.asarray(content.convert("YCbCr"), dtype=float)
    # chroma comes from the content (up to YCbCr round-trip rounding), luminance from the optimisation
    assert np.abs(ycc_out[..., 1:] - ycc_content[..., 1:]).mean() < 2.0
    assert np.abs(ycc_out[..., 0] - ycc_content[..., 0]).mean() > 2.0


@pytest.mark.slow
def test_same_seed_same_image_different_seed_different_image(content_path, style_path):
    a = np.asarray(eigenstyle.stylize(content_path, style_path, **SMALL).image)
    b = np.asarray(eigenstyle.stylize(content_path, style_path, **SMALL).image)
    c = np.asarray(eigenstyle.stylize(content_path, style_path, **{**SMALL, "seed": 4}).image)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_image_too_small_for_the_deepest_layer(content_path, style_path):
    with pytest.raises(EigenstyleError, match="needs at least 16 px"):
        eigenstyle.stylize(content_path, style_path, size=16, iterations=1, style_scale=0.5)


def test_bf16_path_is_close_to_fp32(content_path, style_path):
    """bf16 autocast for the convolutions only: losses within 2 % of fp32 at the same image."""
    opts = Options(**{**SMALL, "style_layers": ("relu2_1", "relu3_1"), "precision": "fp32"}).validate()
    fp32 = problem.prepare(content_path, style_path, opts)
    bf16 = problem.prepare(content_path, style_path, opts.replace(precision="bf16"))
    assert bf16.net.bf16 and not fp32.net.bf16
    x = fp32.content_tensor + 10 * torch.randn_like(fp32.content_tensor)
    a, b = loop.evaluate(fp32, x), loop.evaluate(bf16, x)
    assert b["total"].dtype == torch.float32
    for key in ("content", "style"):
        assert abs(float(b[key]) / float(a[key]) - 1) < 0.02, key
    assert bf16.targets.style["relu3_1"].dtype == torch.float32  # Grams stay fp32 from bf16 features


@pytest.mark.slow
def test_multi_scale_output_has_the_requested_size_and_reproduces(content_path, style_path, tmp_path):
    out = tmp_path / "ms.png"
    seen = []
    result = eigenstyle.stylize(
        content_path,
        style_path,
        output=str(out),
        scales=(32, 40),
        scale_iterations=4,
        callback=lambda info: seen.append(info.iteration),
        **SMALL,
    )
    assert result.image.size == (48, 36) and seen == list(range(1, SMALL["iterations"] + 1))
    assert result.recipe["options"]["scales"] == [32, 40] and result.recipe["options"]["scale_iterations"] == 4
    single = eigenstyle.stylize(content_path, style_path, **SMALL)
    assert not np.array_equal(np.asarray(result.image), np.asarray(single.image))  # the coarse start mattered
    again = tmp_path / "again.png"
    eigenstyle.reproduce(str(out), str(again))
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(out)))


@pytest.mark.parametrize("scales", [(40, 24), (48,), (8,)])
def test_bad_scales(content_path, style_path, scales):
    with pytest.raises(EigenstyleError, match="^scales must be"):  # ascending, below size, >= 16
        eigenstyle.stylize(content_path, style_path, scales=scales, **SMALL)


@pytest.mark.slow
def test_batched_network_pass_agrees_with_the_split_pass(content_path, style_path):
    """The GPU's way (one network pass and one L-BFGS for the whole batch) against the
    CPU's (each image on its own): same first step, to float tolerance."""
    from eigenstyle.explore import variant_options
    from eigenstyle.swatch import reach
    from eigenstyle.targets import Targets

    base = Options(**{**SMALL, "iterations": 2, "style_layers": ("relu3_2",), "variant_seed": 5}).validate()
    runs = [o for o, _ in variant_options(base, 3)]
    prepared = problem.prepare(content_path, style_path, runs[0])
    singles = reach([problem.vary(prepared, o) for o in runs])
    stacked = dataclasses.replace(
        prepared,
        targets=Targets(
            prepared.targets.content,
            {k: torch.cat([p.targets.style[k] for p in singles]) for k in prepared.targets.style},
        ),
    )
    x0 = loop.initial_image(stacked, 2, batch=3)
    split = loop.optimise(stacked, x0, split_batch=True)
    joint = loop.optimise(stacked, x0, split_batch=False)
    assert split.done == joint.done == 2 and split.error is None and joint.error is None
    for a, b in zip(split.losses["total"], joint.losses["total"]):
        assert abs(a - b) <= 1e-3 * abs(a)
    assert len(set(split.losses["total"])) == 3


@pytest.mark.slow
def test_winograd_run_follows_the_direct_run_and_is_recorded(content_path, style_path):
    """Same start, same objective: the first iterations' losses agree to 1e-4 (before L-BFGS's
    early spike amplifies float-level differences); the recipe names the algorithm used.
    At 96 px conv3_2..conv3_4 have enough tiles for Winograd (the deeper layers fall back)."""
    runs, losses = {}, {}
    for c in ("direct", "winograd", "auto"):
        seen = losses[c] = []
        runs[c] = eigenstyle.stylize(
            content_path,
            style_path,
            callback=lambda info, seen=seen: seen.append(info.loss[0]),
            **{**SMALL, "size": 96, "iterations": 2, "conv": c, "precision": "fp32"},
        )
    assert runs["direct"].recipe["conv"] == "direct" and runs["winograd"].recipe["conv"] == "winograd"
    a, b = losses["direct"], losses["winograd"]
    assert len(a) == len(b) == 2 and all(abs(x - y) <= 1e-4 * abs(x) for x, y in zip(a, b))
    assert a != b  # really another arithmetic, not the same kernels
    chosen = runs["auto"].recipe["conv"]  # auto: the faster of the two here (vgg/speed.py), settled in the options
    assert runs["auto"].recipe["options"]["conv"] == chosen and losses["auto"] == losses[chosen]


@pytest.mark.slow
def test_a_winograd_image_reproduces_pixel_for_pixel(content_path, style_path, tmp_path):
    out, again = tmp_path / "w.png", tmp_path / "again.png"
    first = eigenstyle.stylize(
        content_path, style_path, output=str(out), **{**SMALL, "size": 96, "iterations": 4, "conv": "winograd"}
    )
    assert first.recipe["conv"] == "winograd"
    eigenstyle.reproduce(str(out), str(again))
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(out)))


def test_recipes_from_before_the_conv_option_reproduce_with_direct():
    opts = Options().to_dict()
    del opts["conv"]
    assert Options.from_dict(opts).conv == "direct"
    assert Options.from_dict({**opts, "conv": "winograd"}).conv == "winograd"


def test_a_margin_is_painted_on_the_reflected_photograph_and_cut_away(content_path, style_path, tmp_path):
    """--margin: the run's canvas is the photograph with its own pixels mirrored m px out (checked against
    numpy's reflection of the 8-bit photograph), every image the run shows or writes is the picture without
    it, and its recipe reproduces."""
    m = 4
    opts = Options(**{**SMALL, "margin": m, "init": "image"})
    p = problem.prepare(content_path, [style_path], opts)
    photo = np.asarray(p.content, dtype=np.float64)  # the photograph at the run's size, H×W×3
    canvas = np.pad(photo, ((m, m), (m, m), (0, 0)), mode="reflect")
    pre = p.pre
    shown = p.content_tensor[0].double().permute(1, 2, 0).cpu().numpy()
    mean, std = np.asarray(pre.mean, dtype=np.float64), np.asarray(pre.std, dtype=np.float64)
    expected = ((canvas[..., ::-1] if pre.bgr else canvas) / 255.0 * pre.scale - mean) / std
    assert shown.shape == canvas.shape and np.abs(shown - expected).max() < 1e-3
    assert tuple(p.visible(p.content_tensor).shape[2:]) == (p.content.height, p.content.width)
    seen = []
    out = tmp_path / "m.png"
    result = eigenstyle.stylize(content_path, style_path, opts, output=str(out), callback=lambda i: seen.append(i))
    assert result.image.size == p.content.size and result.recipe["options"]["margin"] == m
    assert all(tuple(i.images()[0].size) == p.content.size for i in seen[-1:])
    without = eigenstyle.stylize(content_path, style_path, opts.replace(margin=0))
    assert not np.array_equal(np.asarray(result.image), np.asarray(without.image))  # the margin was painted
    again = tmp_path / "again.png"
    eigenstyle.reproduce(str(out), str(again))
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(again)), np.asarray(Image.open(out)))


@pytest.mark.parametrize("extra", [{"margin": 13}, {"margin": 4, "scales": (32,)}])
def test_a_margin_too_wide_or_with_scales_is_refused(content_path, style_path, extra):
    with pytest.raises(EigenstyleError, match="^margin "):
        eigenstyle.stylize(content_path, style_path, **{**SMALL, **extra})
