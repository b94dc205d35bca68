"""The Gram randomisation, in float64 on random PSD matrices."""

import numpy as np
import pytest
import torch

from eigenstyle.errors import EigenstyleError
from eigenstyle.randomize import Randomization, decompose, genome_matrix, randomize_gram, rebuild


def psd(c=12, rank=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    f = torch.rand(c, rank or 3 * c, generator=g, dtype=torch.float64)  # non-negative like ReLU features
    return f @ f.T / f.shape[1]


def is_psd(m, tol=1e-9):
    return torch.allclose(m, m.T, atol=1e-12) and float(torch.linalg.eigvalsh(m).min()) > -tol * float(m.abs().max())


@pytest.mark.parametrize(
    "mode, extra",
    [
        ("variant", {}),
        ("fantasy", {}),
        ("fantasy", {"fantasy": "normal"}),
        ("fantasy", {"fantasy": "signed-uniform"}),
        ("random", {"symmetric": True}),
    ],
)
def test_result_is_symmetric_psd(mode, extra):
    out, report = randomize_gram(psd(), "relu3_2", Randomization(mode=mode, genome={"seed": 5}, **extra))
    assert is_psd(out)
    assert 0.0 <= report["negative_fraction"] <= 1.0


def test_plain_random_mode_is_not_symmetric_and_matches_norm():
    g = psd()
    out, _ = randomize_gram(g, "relu3_2", Randomization(mode="random", genome={"seed": 5}))
    assert not torch.allclose(out, out.T)
    torch.testing.assert_close(torch.linalg.matrix_norm(out), torch.linalg.matrix_norm(g))


@pytest.mark.parametrize("scale", ["frobenius", "trace"])
def test_scaling_keeps_the_norm_of_the_original(scale):
    g = psd()
    out, _ = randomize_gram(g, "relu3_1", Randomization(mode="fantasy", scale=scale, genome={"seed": 1}))
    measure = torch.linalg.matrix_norm if scale == "frobenius" else torch.trace
    torch.testing.assert_close(measure(out), measure(g))


def test_spread_one_or_strength_zero_gives_g_back():
    g = psd()
    same, _ = randomize_gram(g, "relu3_1", Randomization(mode="variant", spread=(1.0, 1.0), genome={"seed": 3}))
    torch.testing.assert_close(same, g, rtol=1e-10, atol=1e-12)
    for mode in ("variant", "fantasy", "random"):
        zero, _ = randomize_gram(g, "relu3_1", Randomization(mode=mode, strength=0.0, genome={"seed": 3}))
        torch.testing.assert_close(zero, g, rtol=0, atol=0)


def test_strength_interpolates_linearly():
    g = psd()
    full, _ = randomize_gram(g, "relu3_1", Randomization(mode="variant", genome={"seed": 3}))
    half, _ = randomize_gram(g, "relu3_1", Randomization(mode="variant", strength=0.5, genome={"seed": 3}))
    torch.testing.assert_close(half, 0.5 * g + 0.5 * full)


def test_seeds_are_reproducible_and_distinct_and_layers_independent():
    g = psd()

    def r(s):
        return Randomization(mode="variant", genome={"seed": s})

    a1, _ = randomize_gram(g, "relu3_1", r(1))
    a2, _ = randomize_gram(g, "relu3_1", r(1))
    b, _ = randomize_gram(g, "relu3_1", r(2))
    other_layer, _ = randomize_gram(g, "relu3_2", r(1))
    assert torch.equal(a1, a2)
    assert not torch.allclose(a1, b) and not torch.allclose(a1, other_layer)


def test_multipliers_inside_spread():
    for lo, hi in [(0.1, 1.9), (0.5, 0.6), (-1.0, 1.0)]:
        m = genome_matrix(Randomization(mode="variant", spread=(lo, hi)), {"seed": 9}, "relu3_3", 64)
        assert float(m.min()) >= lo and float(m.max()) < hi
        assert float(m.max() - m.min()) > 0.9 * (hi - lo)  # it really spreads


def test_eigenvector_sign_flips_do_not_change_the_variant():
    g = psd()
    r = Randomization(mode="variant", genome={"seed": 4})
    v, e, _ = decompose(g)
    m = genome_matrix(r, r.genome, "relu3_1", g.shape[0])
    flips = torch.tensor([(-1.0) ** k for k in range(g.shape[0])], dtype=torch.float64)
    torch.testing.assert_close(rebuild(r, g, v, e, m), rebuild(r, g, v * flips, e, m))
    # and the rebuilt plain decomposition is G itself (float64 reference)
    torch.testing.assert_close((v * e) @ v.T, g)


def test_mutation_amount_zero_returns_parent_and_between_endpoints():
    r = Randomization(mode="variant")
    parent = {"seed": 11}
    child = {"mutate": parent, "seed": 5, "amount": 0.0}
    p = genome_matrix(r, parent, "relu3_2", 16)
    torch.testing.assert_close(genome_matrix(r, child, "relu3_2", 16), p, rtol=0, atol=0)
    moved = genome_matrix(r, {"mutate": parent, "seed": 5, "amount": 0.2}, "relu3_2", 16)
    ratio = moved / p
    assert float(ratio.min()) >= 0.8 and float(ratio.max()) <= 1.2 and not torch.allclose(moved, p)
    other = {"seed": 12}
    o = genome_matrix(r, other, "relu3_2", 16)
    torch.testing.assert_close(genome_matrix(r, {"between": [parent, other], "t": 0.0}, "relu3_2", 16), p)
    torch.testing.assert_close(genome_matrix(r, {"between": [parent, other], "t": 1.0}, "relu3_2", 16), o)
    torch.testing.assert_close(
        genome_matrix(r, {"between": [parent, other], "t": 0.3}, "relu3_2", 16), 0.7 * p + 0.3 * o
    )


def test_rank_deficient_and_zero_grams_are_handled():
    low = psd(c=16, rank=2)  # a flat, tiny style image gives such Grams
    out, report = randomize_gram(low, "relu3_1", Randomization(mode="variant", genome={"seed": 1}))
    assert torch.isfinite(out).all() and is_psd(out)
    zero, _ = randomize_gram(
        torch.zeros(8, 8, dtype=torch.float64), "relu3_1", Randomization(mode="fantasy", genome={"seed": 1})
    )
    assert torch.isfinite(zero).all()
    neg = low - 1e-9 * torch.eye(16, dtype=torch.float64)  # tiny negative eigenvalues
    _, _, rep = decompose(neg)
    assert rep["clamped_eigenvalues"] > 0


def test_malformed_genome():
    with pytest.raises(EigenstyleError, match="genome"):
        genome_matrix(Randomization(mode="variant"), {"nothing": 1}, "relu3_1", 4)


def test_levels_map_clip_percentiles_to_0_and_255_per_channel():
    import numpy as np
    from PIL import Image

    from eigenstyle.levels import parse_levels, stretch

    rng = np.random.default_rng(0)
    a = np.stack([rng.integers(60, 140, (40, 50)), rng.integers(0, 30, (40, 50)), np.full((40, 50), 77)], -1).astype(
        np.uint8
    )
    out = np.asarray(stretch(Image.fromarray(a), 2.0)).astype(float)
    for ch in (0, 1):
        lo, hi = np.percentile(a[..., ch].astype(float), [2.0, 98.0])
        mapped = (a[..., ch].astype(float) - lo) / (hi - lo) * 255
        assert np.abs(out[..., ch] - np.clip(np.rint(mapped), 0, 255)).max() <= 1
        assert np.percentile(out[..., ch], 2.0) <= 1 and np.percentile(out[..., ch], 98.0) >= 254
    assert (out[..., 2] == 77).all()  # a flat channel is left alone
    assert parse_levels("auto") == 0.5 and parse_levels("none") is None and parse_levels("1.5") == 1.5
    with pytest.raises(EigenstyleError):
        parse_levels("60")


def test_a_base_gram_is_decomposed_once_and_again_when_it_changes(monkeypatch):
    """A batch of variants shares one style: its Grams are decomposed once, and each variant's target is
    what a fresh decomposition gives; a Gram changed in place is decomposed anew."""
    from eigenstyle import randomize

    calls = []
    decompose_once = randomize.decompose
    monkeypatch.setattr(randomize, "decompose", lambda g: calls.append(1) or decompose_once(g))
    style = {"relu3_2": psd(12, seed=3).float()[None]}
    runs = [Randomization("variant", genome={"seed": s}) for s in (1, 2)]
    firsts = [randomize.randomize_targets(style, ["relu3_2"], r) for r in runs]
    assert len(calls) == 1
    for r, (out, report) in zip(runs, firsts):
        fresh, fresh_report = randomize_gram(style["relu3_2"][0], "relu3_2", r)
        torch.testing.assert_close(out["relu3_2"][0], fresh.float(), rtol=0, atol=0)
        assert report["relu3_2"] == fresh_report
    style["relu3_2"].mul_(2.0)
    calls.clear()
    again, _ = randomize.randomize_targets(style, ["relu3_2"], runs[0])
    assert len(calls) == 1 and not torch.equal(again["relu3_2"], firsts[0][0]["relu3_2"])


def test_the_style_options_are_options_and_randomization_reads_them():
    from eigenstyle.options import FIELDS, Options
    from eigenstyle.randomize import STYLE_OPTIONS

    assert set(STYLE_OPTIONS) <= set(FIELDS)
    o = Options(mode="fantasy", spread=(0.5, 1.5), fantasy="normal", symmetric=True, strength=0.7, variant_seed=4)
    r = Randomization.of(o)
    assert (r.mode, r.spread, r.fantasy, r.symmetric, r.strength, r.scale) == (
        "fantasy",
        (0.5, 1.5),
        "normal",
        True,
        0.7,
        o.gram_scale,
    )
    assert (
        r.genome == {"seed": 4} and Randomization.of(o.replace(genome={"seed": 9, "amount": 0.1})).genome["seed"] == 9
    )


def test_keep_top_leaves_the_largest_eigenvectors_unbent_against_a_numpy_reference():
    """--keep-top K: the K eigenvectors of largest eigenvalue keep their own direction; the rest are bent as the
    article bends them. Checked against numpy's own decomposition and the same draws, in float64."""
    import numpy as np

    g = psd(10)
    r = Randomization(mode="variant", genome={"seed": 7}, keep_top=2, scale="none")
    out, _ = randomize_gram(g, "relu3_2", r)
    e, v = np.linalg.eigh(g.numpy())
    m = genome_matrix(r, r.genome, "relu3_2", 10).numpy().copy()
    m[:, -2:] = 1.0  # numpy's eigh sorts ascending too: the two largest are the last columns
    bent = v * m
    expected = (bent * np.clip(e, 0, None)) @ bent.T
    # eigenvectors are defined up to sign: a flip of a kept column changes nothing, of a bent one nothing either
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-9, atol=1e-12)
    kept, _ = randomize_gram(g, "relu3_2", Randomization(mode="variant", genome={"seed": 7}, keep_top=10))
    torch.testing.assert_close(kept, g, rtol=1e-10, atol=1e-12)  # every eigenvector kept: G itself
    other, _ = randomize_gram(g, "relu3_2", Randomization(mode="variant", genome={"seed": 7}))
    assert not torch.allclose(other, out)


def test_a_genomes_palette_turn_spreads_a_brood_and_follows_its_lineage():
    from eigenstyle.randomize import genome_turn

    brood = [genome_turn({"seed": s}) for s in range(1, 9)]
    assert all(-1 <= t <= 1 for t in brood)
    gaps = np.diff(sorted(brood))
    assert gaps.min() > 0.05  # consecutive seeds spread over the range, none on top of another
    a, b = {"seed": 1}, {"seed": 2}
    for t in (0.0, 0.25, 1.0):  # an in-between turns in proportion
        assert genome_turn({"between": [a, b], "t": t}) == pytest.approx((1 - t) * brood[0] + t * brood[1])
    kids = [genome_turn({"mutate": a, "seed": s, "amount": 0.1}) for s in range(20)]
    assert all(abs(k - brood[0]) <= 0.1 + 1e-12 for k in kids) and len(set(kids)) == 20  # near the parent
    assert genome_turn({"mutate": a, "seed": 3, "amount": 0.0}) == brood[0]
    assert genome_turn({"seed": 2**62 + 5}) != genome_turn({"seed": 2**62 + 6})  # large seeds too


def test_eigenvalue_layers_bend_the_eigenvalues_of_layers_outside_the_randomised_ones(content_path, style_path):
    """--eigenvalue-layers: a variant's deep layers keep their eigenvectors and get other eigenvalues (in float64:
    G' commutes with G, the same directions, and is not G); the randomised layers are bent as before, and a layer
    named in neither is the painting's own. Real Grams of the samples, 32 px."""
    from eigenstyle.options import Options
    from eigenstyle.problem import prepare, vary

    layers = ("relu1_1", "relu4_1", "relu5_1")
    opts = Options(size=32, style_layers=layers, mode="variant", random_layers=("relu1_1",), variant_seed=3)
    problem = prepare(content_path, [style_path], opts.replace(mode="none").validate())
    base = problem.base_style
    before = vary(problem, opts.validate()).targets.style
    after = vary(problem, opts.replace(eigenvalue_layers=("relu4_1",)).validate()).targets.style
    assert torch.equal(after["relu1_1"], before["relu1_1"])  # bent as before
    assert torch.equal(after["relu5_1"], base["relu5_1"])  # in neither: the painting's own
    g, gp = base["relu4_1"][0].double(), after["relu4_1"][0].double()
    scale = float(g.abs().max())
    assert float((gp - g).abs().max()) > 1e-2 * scale  # each component at another strength
    assert float((gp @ g - g @ gp).abs().max()) < 1e-4 * scale**2  # the same eigenvectors (float32 targets)
    plain = vary(problem, opts.replace(mode="none", eigenvalue_layers=("relu4_1",)).validate()).targets.style
    assert torch.equal(plain["relu4_1"], base["relu4_1"])  # a plain run randomises nothing
