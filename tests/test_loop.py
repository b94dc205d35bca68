"""The optimisation loop (loop.py): its divergence guard on the real weights, on the CPU and deferred, and --stop-at."""

import numpy as np
import pytest
import torch

import eigenstyle
from eigenstyle import Options, loop, problem

from conftest import SMALL


def test_the_stop_rule_takes_a_rise_for_a_change():
    assert loop.converged([100.0, 50.0], [99.95, 49.99], 0.001)
    assert not loop.converged([100.0, 50.0], [99.95, 49.0], 0.001)  # every image must have settled
    assert not loop.converged([1.22e8], [3.34e8], 0.01)  # L-BFGS climbing (relu3_2 from noise), not converged
    assert not loop.converged([100.0], [99.0], 0.0)  # 0: never


# Normalised gradients break L-BFGS's curvature model at 64 px: a real divergence (at iteration 7), once.
# In fp32 with direct convolutions, which every CPU has: the arithmetic's own choice (bf16 where the CPU has
# it, Winograd on an AVX2 one) diverges at other iterations, or again and again, from this start.
DIVERGING = {**SMALL, "size": 64, "seed": 2, "normalize_gradients": True, "precision": "fp32", "conv": "direct"}


def _diverging(content_path, style_path, iterations=40):
    """The diverging run's problem, for ``iterations``, and its start."""
    opts = problem.resolve_seeds(Options(**{**DIVERGING, "iterations": iterations}).validate())
    p = problem.prepare(content_path, style_path, opts)
    return p, loop.initial_image(p, opts.seed)


@pytest.mark.slow
def test_a_divergence_starts_afresh_from_the_last_sane_image_and_the_recipe_says_where(content_path, style_path):
    kw = {**DIVERGING, "iterations": 40}
    result = eigenstyle.stylize(content_path, style_path, **kw)
    at = result.recipe["restarted_at"]
    assert result.error is None and result.recipe["iterations_done"] == 40 and 1 <= len(at) <= loop.MAX_RESTARTS
    p, x0 = _diverging(content_path, style_path, at[0] - 2)  # the run up to its last sane image
    before = loop.optimise(p, x0)
    assert before.error is None and result.recipe["losses"]["total"] < before.losses["total"][0]  # and on, lower
    again = eigenstyle.stylize(content_path, style_path, **kw)  # a restart is part of the run: it reproduces
    assert again.recipe["restarted_at"] == at and np.array_equal(np.asarray(again.image), np.asarray(result.image))


@pytest.mark.slow
def test_a_run_that_keeps_diverging_stops_with_a_message_and_keeps_the_last_sane_image(
    content_path, style_path, monkeypatch
):
    monkeypatch.setattr(loop, "MAX_RESTARTS", 0)
    p, x0 = _diverging(content_path, style_path)
    out = loop.optimise(p, x0)
    gave_up = f"the loss diverged at iteration {out.done + 1} (after 0 fresh starts); kept the image of iteration"
    assert out.error == f"{gave_up} {out.done}"
    assert 1 < out.done < 40 and all(np.isfinite(v) for v in out.losses["total"])
    p_short, _ = _diverging(content_path, style_path, out.done)
    assert torch.equal(out.x, loop.optimise(p_short, x0).x)  # exactly the image of that iteration


@pytest.mark.slow
def test_deferred_divergence_guard_puts_back_the_same_image(content_path, style_path, monkeypatch):
    """The GPU loop reads the loss back only every few iterations; its on-device guard must put back
    the same image as the CPU's, which checks every iteration: the deferred run is the prompt one
    with the iterations it spent before it saw the divergence."""
    p, x0 = _diverging(content_path, style_path)
    every = loop.optimise(p, x0, sync_every=1)
    (seen,) = every.restarts  # one image
    k = next(k for k in (5, 7, 3) if seen[0] % k)  # a read-back that sees the divergence late
    deferred = loop.optimise(p, x0, sync_every=k)
    (late,) = deferred.restarts
    assert all(t % k == 0 for t in late) and seen[0] < late[0] and every.error is None and deferred.error is None
    lag = late[0] - seen[0]
    p_short, _ = _diverging(content_path, style_path, 40 - lag)
    assert torch.equal(loop.optimise(p_short, x0, sync_every=1).x, deferred.x) or len(late) > 1
    monkeypatch.setattr(loop, "MAX_RESTARTS", 0)  # and where it gives up: the same message and image
    every, deferred = loop.optimise(p, x0, sync_every=1), loop.optimise(p, x0, sync_every=k)
    assert every.error and every.error == deferred.error and every.done == deferred.done < 40
    assert torch.equal(every.x, deferred.x) and every.losses == deferred.losses


@pytest.mark.slow
def test_stop_at_ends_a_run_whose_loss_stopped_falling_records_it_and_reproduces(content_path, style_path, tmp_path):
    """--stop-at: the run ends at the first window of 10 iterations in which every image's total loss changed
    by less than that fraction; the recipe says where, and reproducing it stops there again."""
    totals = {}

    def watch(info):
        totals[info.iteration] = info.loss[0]

    kw = {**SMALL, "iterations": 200, "seed": 2, "print_every": 1, "stop_at": 0.1}
    out = str(tmp_path / "stopped.png")
    r = eigenstyle.stylize(content_path, style_path, output=out, callback=watch, **kw)
    k = r.recipe["iterations_done"]
    assert r.recipe["converged_at"] == k and k % 10 == 0 and 10 < k < 200 and not r.interrupted
    assert abs(totals[k - 10] - totals[k]) < 0.1 * totals[k]  # the rule, from the losses the API reported
    assert all(abs(totals[j - 10] - totals[j]) >= 0.1 * totals[j] for j in range(20, k, 10))  # and not sooner
    again = eigenstyle.reproduce(out)
    assert again.recipe["converged_at"] == k and np.array_equal(np.asarray(again.image), np.asarray(r.image))
    full = eigenstyle.stylize(content_path, style_path, **{**kw, "iterations": k + 10, "stop_at": 0.0})
    assert full.recipe["iterations_done"] == k + 10 and "converged_at" not in full.recipe
