"""Optimisers that treat each image of a batch as its own problem.

:class:`LBFGS` follows ``torch.optim.LBFGS`` without line search (lr 1, as
neural-style runs it), step for step: same first-step scaling
``min(1, 1/|g|_1)``, same curvature test ``yᵀs > 1e-10``, same history
eviction and initial Hessian ``yᵀs / yᵀy``. The difference is that every image
in the batch keeps its own history and step, so a batch of N variants gives the
same N results as N single runs.
"""
from __future__ import annotations

import torch


class LBFGS:
    """Per-image L-BFGS. Call :meth:`step` with the batch's per-image losses'
    gradient (``x.grad``), it updates ``x`` in place."""

    def __init__(self, x: torch.Tensor, lr: float = 1.0, history: int = 100):
        self.x, self.lr, self.history = x, lr, history
        n = x.shape[0]
        self.s = [[] for _ in range(n)]    # steps taken
        self.y = [[] for _ in range(n)]    # gradient changes
        self.rho = [[] for _ in range(n)]  # 1 / yᵀs
        self.h_diag = [1.0] * n
        self.prev_grad = None
        self.prev_step = None              # t * d of the last update, [N, D]
        self.n_iter = 0

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        g = grad.detach().reshape(grad.shape[0], -1)
        n = g.shape[0]
        self.n_iter += 1
        d = torch.empty_like(g)
        t = torch.full((n,), self.lr, dtype=g.dtype, device=g.device)
        for i in range(n):
            gi = g[i]
            if self.n_iter == 1:
                d[i] = -gi
                t[i] = min(1.0, 1.0 / float(gi.abs().sum().clamp_min(1e-30))) * self.lr
                continue
            yi = gi - self.prev_grad[i]
            si = self.prev_step[i]
            ys = float(yi.dot(si))
            if ys > 1e-10:
                if len(self.s[i]) == self.history:
                    self.s[i].pop(0), self.y[i].pop(0), self.rho[i].pop(0)
                self.s[i].append(si.clone())
                self.y[i].append(yi)
                self.rho[i].append(1.0 / ys)
                self.h_diag[i] = ys / float(yi.dot(yi))
            d[i] = self._two_loop(i, gi)
            if float(gi.dot(d[i])) >= 0:  # not a descent direction (round-off): restart from steepest descent
                self.s[i].clear(), self.y[i].clear(), self.rho[i].clear()
                self.h_diag[i] = 1.0
                d[i] = -gi
                t[i] = min(1.0, 1.0 / float(gi.abs().sum().clamp_min(1e-30))) * self.lr
        self.prev_grad = g.clone()
        self.prev_step = d * t[:, None]
        self.x.add_(self.prev_step.view_as(self.x))

    def _two_loop(self, i: int, g: torch.Tensor) -> torch.Tensor:
        q = -g
        alphas = []
        for s, y, rho in zip(reversed(self.s[i]), reversed(self.y[i]), reversed(self.rho[i])):
            a = float(s.dot(q)) * rho
            alphas.append(a)
            q = q.add(y, alpha=-a)
        r = q * self.h_diag[i]
        for s, y, rho, a in zip(self.s[i], self.y[i], self.rho[i], reversed(alphas)):
            b = float(y.dot(r)) * rho
            r = r.add(s, alpha=a - b)
        return r


class Adam:
    """torch's Adam; elementwise, hence per-image by construction."""

    def __init__(self, x: torch.Tensor, lr: float = 1.0):
        self.opt = torch.optim.Adam([x], lr=lr)

    def step(self, grad: torch.Tensor) -> None:
        self.opt.step()


def make_optimizer(name: str, x: torch.Tensor, lr: float, history: int):
    return LBFGS(x, lr=lr, history=history) if name == "lbfgs" else Adam(x, lr=lr)
