"""The optimisation loop: one plain loop for every run (a single image, a batch, a swatch).

The loop only optimises: evaluate, guard against a non-finite loss, step. Everything a person
sees or keeps along the way (the progress display and loss lines, intermediate saves, the
studio's previews, the API's callback) is an :class:`Observer`, so the loop has one way to
report and one result, an :class:`Outcome`. On a GPU the loop reads values back only every
``SYNC_EVERY`` iterations and where an observer asks for them, so the GPU never waits for Python.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Sequence, Union

import torch

from . import images, tiled
from .errors import is_out_of_memory
from .memory import available_bytes, out_of_memory_error
from .objective import evaluate
from .optim import make_optimizer
from .targets import Targets, to_tensor

if TYPE_CHECKING:
    from .problem import Problem

SYNC_EVERY = 20  # on a GPU, iterations between reads of the loss (the divergence guard's latency)
BLOW_UP = 1e6  # a loss this many times an image's lowest is a divergence (overshoots of 1e4x came back by themselves)
MAX_RESTARTS = 3  # fresh starts from the last sane image before a diverging run gives up
STOP_WINDOW = 10  # --stop-at: the iterations over which the loss's change is measured (a rise is no convergence)


@dataclass
class Step:
    """One iteration as observers see it. ``values`` (per-image losses of the image the step
    started from, lists by 'total' and each term's name: objective.names) are ``None`` where not read back."""

    iteration: int
    iterations: int
    values: Optional[dict]
    x: torch.Tensor  # the image after the step (detached, live: copy what you keep)
    elapsed: float
    problem: Problem
    phase: str = "run"  # or "swatch": the synthesis of a randomised style's swatch, before its run


class Observer:
    """Watches the loop. ``wants(it)``: iteration ``it``'s values must be read back (on a GPU a
    sync, so ask only where needed). ``seen(step)`` comes every iteration and may end the run where
    values were read (the guard has checked that image): ``False`` ends it as done, a string as
    interrupted, for that reason. ``phases``: the loops it watches, the run's only unless it says
    "swatch" too (the swatch's synthesis: the new style appearing, what the studio shows first)."""

    phases = ("run",)

    def wants(self, iteration: int) -> bool:
        return False

    def seen(self, step: Step) -> Union[None, bool, str]:
        return None

    def stopping(self) -> Optional[str]:
        """A reason to end the run where no step is at hand (while it is prepared, its arithmetic timed:
        stopping.checkpoint), or None."""
        return None

    def close(self) -> None:
        pass

    def tile(self, done: int, total: int) -> None:
        """A tiled evaluation's progress within an iteration (``done`` of ``total`` tile passes): at
        print sizes one iteration takes minutes, and this is how a display shows it is alive."""


@dataclass
class Outcome:
    """What the loop made: the image, the per-image losses of it (lists; None if none were
    read), the iterations done, and how it ended (Ctrl-C, an error kept the last good image, or
    an observer's reason)."""

    x: torch.Tensor
    losses: Optional[dict] = None
    done: int = 0
    interrupted: bool = False
    error: Optional[str] = None
    stopped: Optional[str] = None
    converged: Optional[int] = None  # --stop-at: the iteration the run ended at, its loss no longer changing
    restarts: Optional[list] = None  # per image, the iterations it diverged at and started afresh from


def evaluate_and_backward(
    problem: Problem, x: torch.Tensor, singles: Optional[list] = None, backward: bool = True, on_tile=None
) -> dict:
    """Losses at ``x`` (detached) with their gradient accumulated into ``x.grad``
    (``backward=False``: the losses only).

    With ``singles`` (one problem per image), each image goes through the network
    on its own: the same kernels as its single run, so a batch reproduces its
    single runs bit for bit, and only one image's activations are alive at a
    time. A CPU gains no throughput from a batched pass at useful sizes (measured:
    0.93x at 256 px), so that is the CPU's way; a GPU batches the pass. ``on_tile(done, total)``
    follows a tiled evaluation."""
    pieces = [(problem, x)] if singles is None else [(p, x[i : i + 1]) for i, p in enumerate(singles)]
    out, row = [], 0
    for p, xi in pieces:
        if p.opts.tile:  # exact, in bounded memory (tiled.py)
            parts, grad = tiled.losses_and_gradient(p, xi.detach(), p.opts.tile, backward=backward, on_tile=on_tile)
            if backward:
                if x.grad is None:
                    x.grad = torch.zeros_like(x)
                x.grad[row : row + xi.shape[0]] += grad
        else:
            parts = evaluate(p, xi)
            if backward:
                parts["total"].sum().backward()
        row += xi.shape[0]
        out.append(parts)
    return {k: torch.cat([o[k].detach() for o in out]) for k in out[0]}


def per_image(problem: Problem, n: int) -> list:
    """The batch's problem split into one problem per image (views of its Gram targets)."""
    t = problem.targets
    return [
        dataclasses.replace(problem, targets=Targets(t.content, {k: v[i : i + 1] for k, v in t.style.items()}))
        for i in range(n)
    ]


def initial_image(problem: Problem, seed: int, batch: int = 1) -> torch.Tensor:
    """neural-style's starts: small noise (randn·0.001, drawn on the CPU so every
    device starts alike), the content, or another image."""
    init = problem.opts.init
    if init == "random":
        g = torch.Generator().manual_seed(seed)
        x = torch.randn((1,) + tuple(problem.content_tensor.shape[1:]), generator=g) * 0.001
        return x.repeat(batch, 1, 1, 1).to(problem.device)  # every image starts as its single run would
    if init == "image":
        return problem.content_tensor.repeat(batch, 1, 1, 1)
    im = images.reflected(images.resize(images.load_rgb(init, "init image"), problem.content.size), problem.opts.margin)
    return to_tensor(im, problem.pre, problem.device).repeat(batch, 1, 1, 1)


class _Guard:
    """The divergence guard, kept on the device, per image: the last image whose loss was sane
    (finite, and under BLOW_UP times the lowest loss the image had reached), its losses and
    iteration, and whether a divergence was seen since the image's last restart; no read-back."""

    def __init__(self, x: torch.Tensor):
        n = x.shape[0]
        self.last_good = x.detach().clone()
        self.losses = None  # [K, N] losses of each image's last sane iteration (set at iteration 1)
        self.good = torch.zeros(n, dtype=torch.long, device=x.device)
        self.bad = torch.zeros(n, dtype=torch.bool, device=x.device)
        self.best = torch.full((n,), math.inf, device=x.device)
        self.restarts: list = [[] for _ in range(n)]  # the iterations each image was restarted at

    @torch.no_grad()
    def record(self, it: int, x: torch.Tensor, now: torch.Tensor) -> None:
        total = now[0]
        self.bad |= ~torch.isfinite(total) | (total > BLOW_UP * self.best)
        self.best = torch.where(self.bad, self.best, torch.minimum(self.best, total))
        rows = self.bad.view(-1, *([1] * (x.dim() - 1)))
        self.last_good = torch.where(rows, self.last_good, x.detach())
        self.losses = now if it == 1 else torch.where(self.bad, self.losses, now)
        self.good = torch.where(self.bad, self.good, it - 1)

    def diverged(self) -> Optional[list]:
        """The images that diverged since their last restart (a host read), or None."""
        return self.bad.nonzero().flatten().tolist() if bool(self.bad.any()) else None

    @torch.no_grad()
    def restart(self, x: torch.Tensor, rows: list, it: int, optimisers: list) -> None:
        """Put ``rows`` back at their last sane image; their optimisers forget them (a fresh start there)."""
        mask = torch.zeros_like(self.bad)
        mask[rows] = True
        x[rows] = self.last_good[rows]
        for opt, part in optimisers:
            opt.forget(mask[part])
        self.bad &= ~mask
        for r in rows:
            self.restarts[r].append(it)

    @torch.no_grad()
    def fall_back(self, x: torch.Tensor, out: Outcome, keys) -> None:
        """An image diverged once more than MAX_RESTARTS: keep every image's last sane one, its losses and iteration."""
        out.done = int(self.good.min())
        out.losses = dict(zip(keys, self.losses.tolist())) if out.done else None
        out.error = (
            f"the loss diverged at iteration {out.done + 1} (after {MAX_RESTARTS} fresh starts); "
            f"kept the image of iteration {out.done}"
        )
        x.copy_(self.last_good)


def optimise(
    problem: Problem,
    x0: torch.Tensor,
    observers: Sequence[Observer] = (),
    *,
    sync_every: Optional[int] = None,
    split_batch: Optional[bool] = None,
    phase: str = "run",
) -> Outcome:
    """Run the loop from ``x0``, telling ``observers`` that watch ``phase`` about every iteration.

    Ctrl-C ends the loop and keeps the current image; a non-finite loss ends it
    and keeps the last image whose loss was finite; running out of memory keeps
    the image made so far (or, before the first step, raises with a size that fits).
    A CPU computes synchronously anyway, so it checks every iteration (``sync_every`` 1).
    """
    observers = [ob for ob in observers if phase in ob.phases]
    x = x0.detach().clone().requires_grad_(True)
    out, guard = Outcome(x), _Guard(x)
    if split_batch is None:  # see evaluate_and_backward
        split_batch = x.device.type == "cpu"
    singles = per_image(problem, x.shape[0]) if split_batch and x.shape[0] > 1 else None
    if sync_every is None:
        sync_every = 1 if x.device.type == "cpu" else SYNC_EVERY
    free = available_bytes(x.device)
    try:
        _iterate(problem, x, singles, observers, sync_every, guard, out, phase)
    except KeyboardInterrupt:
        out.interrupted = True
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        oom = out_of_memory_error(
            problem.opts, x.shape[2] * x.shape[3], x.shape[0], x.device, problem.net.min_side(), free
        )
        del exc
        x.grad = None
        if not out.done:
            raise oom from None  # nothing made yet: just the message
        out.error = f"{oom}; kept the image of iteration {out.done}"
    finally:
        for ob in observers:
            ob.close()
    out.restarts = guard.restarts if any(guard.restarts) else None
    _last_check(problem, x, singles, guard, out)
    out.x = x.detach()
    return out


def _optimisers(problem: Problem, x: torch.Tensor, singles: Optional[list]) -> list:
    """(optimiser, rows) pairs. Split batches get one L-BFGS per image: its reductions then run
    on the same shapes as in a single run (a [8, D] sum splits work across threads differently
    from a [1, D] one), which keeps a batch bit-identical."""
    o = problem.opts
    if singles is not None and o.optimizer == "lbfgs":
        return [
            (make_optimizer(o.optimizer, x[i : i + 1], o.learning_rate, o.lbfgs_history), slice(i, i + 1))
            for i in range(x.shape[0])
        ]
    return [(make_optimizer(o.optimizer, x, o.learning_rate, o.lbfgs_history), slice(None))]


def _iterate(problem, x, singles, observers, sync_every: int, guard: _Guard, out: Outcome, phase: str) -> None:
    """The iterations, filling in ``out``; returns early on divergence or an observer's stop."""
    n, start, stop_at = problem.opts.iterations, time.perf_counter(), problem.opts.stop_at
    optimisers = _optimisers(problem, x, singles)
    before = None  # --stop-at: each image's total loss STOP_WINDOW iterations ago

    def on_tile(done: int, total: int) -> None:
        for ob in observers:
            ob.tile(done, total)

    for it in range(1, n + 1):
        x.grad = None
        parts = evaluate_and_backward(problem, x, singles, on_tile=on_tile if problem.opts.tile else None)
        now = torch.stack(list(parts.values())).detach()  # [K, N]: total, then each term (objective.names)
        guard.record(it, x, now)
        values = None
        window = stop_at > 0 and it % STOP_WINDOW == 0
        diverged = None
        if any(ob.wants(it) for ob in observers) or it % sync_every == 0 or it == n or window:
            diverged = guard.diverged()
            if diverged and any(len(guard.restarts[r]) >= MAX_RESTARTS for r in diverged):
                guard.fall_back(x, out, parts)
                return
            values = out.losses = dict(zip(parts, guard.losses.tolist()))  # a diverged image's: its last sane
        for opt, rows in optimisers:
            opt.step(x.grad[rows])
        if diverged:  # back to its last sane image, with a fresh optimiser there
            guard.restart(x, diverged, it, optimisers)
        out.done = it
        step = Step(it, n, values, x.detach(), time.perf_counter() - start, problem, phase)
        answers = [ob.seen(step) for ob in observers]
        stop = next((a for a in answers if a is False or isinstance(a, str)), None)
        if stop is not None and values is not None:
            out.stopped = stop or None
            return
        if window and it < n:
            total = values["total"]
            if before is not None and converged(before, total, stop_at):
                out.converged = it
                return
            before = total


def converged(before: list, now: list, stop_at: float) -> bool:
    """--stop-at's rule: every image's total loss changed by less than ``stop_at`` of its value over the
    window. A rise counts as a change: L-BFGS without a line search is not monotone, and from noise at one
    style layer it can climb 2.7x within 10 iterations before it falls 100x (docs/benchmarks.md).

    >>> converged([100.0, 50.0], [99.9, 49.99], 0.002), converged([100.0], [270.0], 0.002)
    (True, False)
    """
    return all(abs(b - t) < stop_at * abs(t) for b, t in zip(before, now))


@torch.no_grad()
def _last_check(problem, x: torch.Tensor, singles, guard: _Guard, out: Outcome) -> None:
    """One more forward pass: the loss of the image actually returned (the last step's result
    was never evaluated), and a last guard against divergence."""
    if not out.interrupted and out.error is None and out.done:
        final = {k: v.tolist() for k, v in evaluate_and_backward(problem, x.detach(), singles, backward=False).items()}
        if all(math.isfinite(v) for v in final["total"]):
            out.losses = final
            return
        out.error = f"the loss became {final['total']} after the last step; kept the image of iteration {out.done - 1}"
        out.done -= 1
        x.copy_(guard.last_good)
    elif not bool(torch.isfinite(x).all()):
        x.copy_(guard.last_good)
