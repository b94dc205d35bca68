"""The per-image L-BFGS against torch.optim.LBFGS (lr 1, no line search, as neural-style runs it)."""

import pytest
import torch

from eigenstyle.optim import LBFGS


def history_lengths(opt) -> torch.Tensor:
    """How many (s, y) pairs each image of an LBFGS currently holds (a slot's age is -1 while empty)."""
    return (opt.age >= 0).sum(1)


def problem(b, dim=20, seed=0):
    """A smooth non-quadratic test function: ||A x - b||^2 + 0.1 * sum(x^4)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(dim, dim, generator=g, dtype=torch.float64) / dim**0.5
    return lambda x: ((x @ a.T - b) ** 2).sum(-1) + 0.1 * (x**4).sum(-1)


def run_reference(f, x0, steps, history):
    x = x0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([x], lr=1, max_iter=1, history_size=history, tolerance_grad=-1, tolerance_change=-1)

    def closure():
        opt.zero_grad()
        loss = f(x)
        loss.backward()
        return loss

    for _ in range(steps):
        opt.step(closure)
    return x.detach()


def run_ours(f, x0, steps, history):
    x = x0.clone().requires_grad_(True)
    opt = LBFGS(x, lr=1, history=history)
    for _ in range(steps):
        x.grad = None
        f(x).sum().backward()
        opt.step(x.grad)
    return x.detach()


@pytest.mark.parametrize("history", [3, 100])
def test_matches_torch_lbfgs(history):
    b = torch.linspace(-1, 1, 20, dtype=torch.float64)
    f = problem(b)
    x0 = torch.full((20,), 0.5, dtype=torch.float64)
    for steps in (1, 2, 5, 40):
        ref = run_reference(f, x0, steps, history)
        ours = run_ours(lambda x: f(x), x0.unsqueeze(0), steps, history)[0]
        torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-9)
    assert f(ref) < 0.5 * f(x0)  # the problem is actually being solved


def test_batch_equals_separate_runs():
    """Each image keeps its own history and step sizes."""
    bs = torch.stack([torch.linspace(-1, 1, 20), torch.linspace(2, 0, 20), torch.zeros(20)]).double()
    x0 = torch.stack([torch.full((20,), v) for v in (0.5, -0.3, 1.0)]).double()
    f_batch = problem(bs)  # row i of the batch uses b_i
    together = run_ours(f_batch, x0, 30, 10)
    for i in range(3):
        alone = run_ours(problem(bs[i]), x0[i : i + 1], 30, 10)
        torch.testing.assert_close(together[i : i + 1], alone, rtol=1e-10, atol=1e-10)


def test_history_is_bounded():
    x = torch.zeros(1, 20, dtype=torch.float64, requires_grad=True)
    opt = LBFGS(x, history=4)
    f = problem(torch.ones(20, dtype=torch.float64))
    for _ in range(12):
        x.grad = None
        f(x).sum().backward()
        opt.step(x.grad)
    assert history_lengths(opt).tolist() == [4]


def test_skipped_pairs_match_torch_lbfgs():
    """A non-convex problem where a pair fails the curvature test (yᵀs <= 1e-10)
    and is left out of the history, as torch.optim.LBFGS leaves it out."""
    g = torch.Generator().manual_seed(1)
    a = torch.randn(20, 20, generator=g, dtype=torch.float64) / 20**0.5

    def f(x):
        return torch.cos(6 * (x @ a.T)).sum(-1) + 0.05 * (x**2).sum(-1)

    x0 = torch.linspace(-1, 1, 20, dtype=torch.float64)
    x = x0[None].clone().requires_grad_(True)
    opt, lengths = LBFGS(x, history=5), []
    for _ in range(10):
        x.grad = None
        f(x).sum().backward()
        opt.step(x.grad)
        lengths.append(int(history_lengths(opt)[0]))
    assert any(b == a_ < 5 for a_, b in zip(lengths[1:], lengths[2:])), lengths  # a pair was skipped
    # Later steps of this chaotic problem amplify round-off, so compare the first ten.
    torch.testing.assert_close(x.detach()[0], run_reference(f, x0, 10, 5), rtol=1e-9, atol=1e-9)


def test_step_never_waits_for_the_host():
    """No .item()/float()/bool() on a tensor and no data-dependent shapes inside
    a step: on a GPU each of those would stall the launch queue."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Record(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.add(str(func.overloadpacket))
            return func(*args, **(kwargs or {}))

    f = problem(torch.stack([torch.linspace(-1, 1, 20), torch.zeros(20)]).double())
    x = torch.full((2, 20), 0.5, dtype=torch.float64, requires_grad=True)
    opt = LBFGS(x, history=3)
    rec = Record()
    for _ in range(8):  # past the point where the ring buffer wraps
        x.grad = None
        f(x).sum().backward()
        with rec:
            opt.step(x.grad)
    syncing = {"aten._local_scalar_dense", "aten.nonzero", "aten.masked_select", "aten.unique"}
    assert "aten.bmm" in rec.ops and not (rec.ops & syncing), rec.ops & syncing


def test_without_history_torchs_full_step_but_an_image_started_afresh_grows_its_steps():
    """Where no pair has passed the curvature test yet, torch takes the full gradient step (lr 1), and
    so do we (neural-style's runs reproduce). From a tiny first step a bf16 gradient's change is
    round-off, the pair fails, and that full step blew studio tiles up (loss 2e8 -> 1.8e19): an image
    the loop starts afresh (forget) instead steps 10x further each time, from the first step's length."""
    g = torch.linspace(1, 40, 20, dtype=torch.float64)[None]  # |g|_1 = 410: the first step is g / 410
    unit = -g / g.abs().sum()

    ref = torch.zeros(20, dtype=torch.float64, requires_grad=True)
    torch_opt = torch.optim.LBFGS([ref], lr=1, max_iter=1, history_size=5, tolerance_grad=-1, tolerance_change=-1)

    def closure():
        ref.grad = g[0].clone()
        return torch.zeros((), dtype=torch.float64)

    x = torch.zeros(1, 20, dtype=torch.float64)
    opt = LBFGS(x, history=5)
    positions = []
    for _ in range(2):  # the same gradient twice: y = 0, the pair fails (yᵀs = 0)
        opt.step(g)
        torch_opt.step(closure)
        positions.append(x.clone())
    assert history_lengths(opt).tolist() == [0]
    torch.testing.assert_close(x[0], ref.detach(), rtol=1e-12, atol=0)  # torch's steps, exactly
    torch.testing.assert_close(positions[1] - positions[0], -g, rtol=1e-12, atol=0)  # the full step

    opt.forget(torch.tensor([True]))
    steps = []
    for _ in range(4):
        before = x.clone()
        opt.step(g)
        steps.append(x - before)
    for k, step in enumerate(steps[:3]):  # first, 10x, 100x the first step's length ...
        torch.testing.assert_close(step, unit * 10**k, rtol=1e-12, atol=0)
    torch.testing.assert_close(steps[3], -g, rtol=1e-12, atol=0)  # ... never more than lr's full step


def test_forget_starts_one_image_afresh_and_leaves_the_others_alone():
    """The loop's restart after a divergence: the image put back steps as a new optimiser would from
    there; its neighbour in the batch goes on exactly as if nothing happened."""
    bs = torch.stack([torch.linspace(-1, 1, 20), torch.linspace(2, 0, 20)]).double()
    f = problem(bs)
    x0 = torch.stack([torch.full((20,), 0.5), torch.full((20,), -0.3)]).double()
    x = x0.clone().requires_grad_(True)
    opt = LBFGS(x, history=10)
    for _ in range(8):
        x.grad = None
        f(x).sum().backward()
        opt.step(x.grad)
    with torch.no_grad():
        x[0] = x0[0]  # image 0 put back at its start
    opt.forget(torch.tensor([True, False]))
    for _ in range(6):
        x.grad = None
        f(x).sum().backward()
        opt.step(x.grad)
    fresh = run_ours(problem(bs[0]), x0[0:1], 6, 10)
    torch.testing.assert_close(x.detach()[0:1], fresh, rtol=1e-10, atol=1e-10)
    undisturbed = run_ours(problem(bs[1]), x0[1:2], 14, 10)
    torch.testing.assert_close(x.detach()[1:2], undisturbed, rtol=1e-10, atol=1e-10)
