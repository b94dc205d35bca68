"""The optimisation loop (loop.py): its divergence guard on the real weights, on the CPU and deferred, and --stop-at."""

import math

import numpy as np
import pytest
import torch

import eigenstyle
from eigenstyle import Options, loop, objective, problem

from conftest import SMALL


def test_the_stop_rule_takes_a_rise_for_a_change():
    assert loop.converged([100.0, 50.0], [99.95, 49.99], 0.001)
    assert not loop.converged([100.0, 50.0], [99.95, 49.0], 0.001)  # every image must have settled
    assert not loop.converged([1.22e8], [3.34e8], 0.01)  # L-BFGS climbing (relu3_2 from noise), not converged
    assert not loop.converged([100.0], [99.0], 0.0)  # 0: never


class Diverges(objective.Term):
    """A divergence made on purpose, whatever the CPU's arithmetic: the loss and its gradient are NaN at the
    chosen evaluations of a loop (counted from 1; the loop evaluates once an iteration, and its last,
    forward-only check of the image it returns is not counted). Elsewhere the term adds exactly 0."""

    name = "diverges"

    def __init__(self, at):
        super().__init__(1.0)
        self.at, self.calls = set(at), 0

    def __call__(self, x, feats, problem):
        if torch.is_grad_enabled():
            self.calls += 1
        poisoned = torch.is_grad_enabled() and self.calls in self.at
        return x.sum(dim=(1, 2, 3)) * (math.nan if poisoned else 0.0)


RUN = {**SMALL, "iterations": 20}


def _problem(content_path, style_path, iterations=20, at=()):
    """The run's problem for ``iterations`` (diverging at evaluations ``at``), and its start."""
    opts = problem.resolve_seeds(Options(**{**RUN, "iterations": iterations}).validate())
    p = problem.prepare(content_path, style_path, opts, terms=[Diverges(at)])
    return p, loop.initial_image(p, opts.seed)


def _sane(content_path, style_path, x0):
    """The image of iteration 4 (4 steps from ``x0``), the last whose loss was sane when evaluation 6 diverges."""
    return loop.optimise(_problem(content_path, style_path, 4)[0], x0).x


@pytest.mark.slow
def test_a_divergence_starts_afresh_from_the_last_sane_image_and_the_recipe_says_where(content_path, style_path):
    """The loss at evaluation 6 (of the image after 5 steps) is NaN: the run goes back to the image of
    iteration 4, its last with a finite loss, and goes on from there with a fresh L-BFGS (whose first step is
    a new optimiser's first step), down to a lower loss."""
    result = eigenstyle.stylize(content_path, style_path, terms=[Diverges({6})], **RUN)
    assert result.error is None and result.recipe["iterations_done"] == 20 and result.recipe["restarted_at"] == [6]
    again = eigenstyle.stylize(content_path, style_path, terms=[Diverges({6})], **RUN)  # a restart reproduces
    assert again.recipe["restarted_at"] == [6] and np.array_equal(np.asarray(again.image), np.asarray(result.image))
    p, x0 = _problem(content_path, style_path, 7, at={6})
    out, sane = loop.optimise(p, x0), _sane(content_path, style_path, x0)
    first = loop.optimise(_problem(content_path, style_path, 1)[0], sane)
    assert out.restarts == [[6]] and torch.equal(out.x, first.x)
    p, _ = _problem(content_path, style_path, 5)
    assert result.recipe["losses"]["total"] < loop.optimise(p, x0).losses["total"][0]  # the sane image's


@pytest.mark.slow
def test_a_run_that_keeps_diverging_stops_with_a_message_and_keeps_the_last_sane_image(
    content_path, style_path, monkeypatch
):
    p, x0 = _problem(content_path, style_path, at={6, 9, 12, 15})
    out = loop.optimise(p, x0)  # three fresh starts, then the fourth divergence gives up
    assert out.restarts == [[6, 9, 12]] and out.done == 13 and all(np.isfinite(v) for v in out.losses["total"])
    assert out.error == "the loss diverged at iteration 14 (after 3 fresh starts); kept the image of iteration 13"
    monkeypatch.setattr(loop, "MAX_RESTARTS", 0)
    p, x0 = _problem(content_path, style_path, at={6})
    out = loop.optimise(p, x0)
    assert out.error == "the loss diverged at iteration 5 (after 0 fresh starts); kept the image of iteration 4"
    assert out.done == 4 and torch.equal(out.x, _sane(content_path, style_path, x0))


@pytest.mark.slow
def test_deferred_divergence_guard_puts_back_the_same_image(content_path, style_path, monkeypatch):
    """The GPU loop reads the loss back only every few iterations; its on-device guard must put back
    the same image as the CPU's, which checks every iteration: the deferred run is the prompt one
    with the iterations it spent before it saw the divergence."""
    p, x0 = _problem(content_path, style_path, 18, at={6})
    every = loop.optimise(p, x0, sync_every=1)
    p, _ = _problem(content_path, style_path, 20, at={6})
    deferred = loop.optimise(p, x0, sync_every=4)  # reads at 4, 8, ...: sees the divergence at 8, two late
    assert every.restarts == [[6]] and deferred.restarts == [[8]] and every.error is None is deferred.error
    assert torch.equal(every.x, deferred.x)
    monkeypatch.setattr(loop, "MAX_RESTARTS", 0)  # and where it gives up: the same message and image
    (p1, _), (p2, _) = _problem(content_path, style_path, at={6}), _problem(content_path, style_path, at={6})
    every, deferred = loop.optimise(p1, x0, sync_every=1), loop.optimise(p2, x0, sync_every=4)
    assert every.error and every.error == deferred.error and every.done == deferred.done == 4
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
