"""One L-BFGS step with a full history: eigenstyle's compact form against torch.optim.LBFGS.

    python benchmarks/lbfgs_step.py [--size 256] [--history 100] [--device auto]

torch.optim.LBFGS (which neural-style-pt and pastiche use) runs the two-loop recursion: per
step about four operations per history pair, each a kernel launch on a GPU, and host syncs
(``.item()``) in its bookkeeping. eigenstyle's step reads the stacked history twice. Prints
the time per step and the number of tensor operations dispatched per step (device-independent:
on a GPU each is at least one kernel launch) and whether any of them waits for the host.
"""

import argparse
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from eigenstyle.optim import LBFGS

SYNCS = {"aten._local_scalar_dense", "aten.nonzero", "aten.masked_select"}


class Count(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops, self.syncs = 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops += 1
        self.syncs += str(func.overloadpacket) in SYNCS
        return func(*args, **(kwargs or {}))


def problem(dim, device):
    """An ill-conditioned quartic: it keeps every (s, y) pair (positive curvature) and does not converge."""
    g = torch.Generator().manual_seed(0)
    c = (10 ** (-4 * torch.rand(dim, generator=g))).to(device)
    return lambda x: (c * x**2).sum() + 1e-3 * (x**4).sum()


def bench(kind, dim, history, device, warm, timed):
    f = problem(dim, device)
    x = torch.randn(1, dim, generator=torch.Generator().manual_seed(1)).to(device).requires_grad_(True)
    if kind == "torch.optim.LBFGS":
        opt = torch.optim.LBFGS([x], lr=1, max_iter=1, history_size=history, tolerance_grad=-1, tolerance_change=-1)

        def step():
            def closure():
                opt.zero_grad()
                loss = f(x)
                loss.backward()
                return loss

            opt.step(closure)
    else:
        opt = LBFGS(x, history=history)

        def step():
            x.grad = None
            f(x).backward()
            opt.step(x.grad)

    for _ in range(warm):
        step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    t = time.perf_counter()
    for _ in range(timed):
        step()
    sync()
    per_step = (time.perf_counter() - t) / timed
    count = Count()
    with count:
        step()
    return per_step, count


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256, help="image side; the problem has 3·size·(3/4)·size unknowns")
    ap.add_argument("--history", type=int, default=100)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    dim = 3 * args.size * (args.size * 3 // 4)
    print(
        f"| L-BFGS step, history {args.history} full, {dim} unknowns, {device.type} | ms/step "
        "(incl. the test function) | ops dispatched per step | host syncs per step |"
    )
    print("|---|---:|---:|---:|")
    for kind in ("torch.optim.LBFGS", "eigenstyle LBFGS"):
        per_step, c = bench(kind, dim, args.history, device, warm=args.history + 5, timed=20)
        print(f"| {kind} | {per_step * 1e3:.1f} | {c.ops} | {c.syncs} |")


if __name__ == "__main__":
    main()
