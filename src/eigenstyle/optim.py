"""Optimisers that treat each image of a batch as its own problem.

:class:`LBFGS` follows ``torch.optim.LBFGS`` without line search (lr 1, as
neural-style runs it), step for step: same first-step scaling
``min(1, 1/|g|_1)``, same curvature test ``yᵀs > 1e-10``, same history
eviction and initial Hessian ``γ = yᵀs / yᵀy``. Three differences:

* every image of the batch keeps its own history and step, so a batch of N
  variants gives the same N results as N single runs;
* the direction comes from the *compact* form of the L-BFGS matrix (Byrd,
  Nocedal & Schnabel 1994) instead of the two-loop recursion. The two-loop
  walks the history pair by pair: with 100 pairs that is ~400 tiny kernels and,
  in a naive port, a host sync per pair. The compact form needs two passes over
  the stacked history, one matrix product each, plus a few 100×100 triangular
  solves, with no ``.item()`` anywhere, so on a GPU the step is a handful of
  launches and never waits for the host. In exact arithmetic both give the
  same direction; the tests check it against torch.optim.LBFGS in float64;
* :meth:`forget` starts images afresh (the loop's restart after a divergence);
  such an image's steps without history grow tenfold from the first step's
  length, where torch takes the full gradient step: after neural-style's tiny
  first step a bf16 gradient's change is round-off, the pair fails, and that
  full step is what blew the image up.

The history lives in one tensor ``[B, 2m, D]``: rows ``0..m-1`` are the steps
``s``, rows ``m..2m-1`` the gradient changes ``y``, used as a ring buffer. The
small products ``SᵀY`` and ``YᵀY`` are kept up to date one row and column per
step (float64, they are tiny), so the big tensor is read twice per step: once
for ``[S Y]ᵀ[g s y]`` and once for the direction.
"""

from __future__ import annotations

import torch

CURVATURE_EPS = 1e-10  # torch.optim.LBFGS's test for a usable (s, y) pair


class LBFGS:
    """Per-image L-BFGS. Call :meth:`step` with the batch's gradient (``x.grad``);
    it updates ``x`` in place without synchronising with the host."""

    def __init__(self, x: torch.Tensor, lr: float = 1.0, history: int = 100):
        self.x, self.lr, self.m = x, lr, history
        b, dim = x.shape[0], x[0].numel()
        dev, small = x.device, dict(dtype=torch.float64, device=x.device)
        self.hist = torch.zeros(b, 2 * history, dim, dtype=x.dtype, device=dev)  # [S; Y] per image
        self.sy = torch.zeros(b, history, history, **small)  # sy[i, j] = s_i·y_j (slot order)
        self.yy = torch.zeros(b, history, history, **small)  # yy[i, j] = y_i·y_j
        self.age = torch.full((b, history), -1, dtype=torch.long, device=dev)  # step that filled a slot, -1 empty
        self.gamma = torch.ones(b, **small)  # initial inverse Hessian scale γ
        self.blind = torch.zeros(b, **small)  # steps in a row taken without history (see step)
        self.careful = torch.zeros(b, dtype=torch.bool, device=dev)  # started afresh (forget): see step
        self.prev_grad = None
        self.prev_step = None  # t·d of the last update, [B, D]
        self.n_iter = 0
        self._rows = torch.arange(b, device=dev)

    @torch.no_grad()
    def step(self, grad: torch.Tensor) -> None:
        g = grad.detach().reshape(grad.shape[0], -1)
        self.n_iter += 1
        d = -g if self.n_iter == 1 else self._direction(g, self._remember(g))
        # Not a descent direction (round-off in a long history): forget the
        # history and take a steepest-descent step, as at the start.
        empty = (self.age < 0).all(1)
        restart = (g * d).sum(1) >= 0
        self.age.masked_fill_(restart[:, None], -1)
        self.gamma.masked_fill_(restart, 1.0)
        d = torch.where(restart[:, None], -g, d)
        first = torch.clamp(1.0 / g.abs().sum(1).clamp_min(1e-30), max=1.0) * self.lr
        full = torch.full_like(first, self.lr)
        if self.n_iter == 1:
            t = first
        else:
            # Without history (every pair so far failed the curvature test) torch takes the full
            # gradient step, lr, as neural-style does: an image started afresh after a divergence
            # (forget) instead steps ten times further each time, from the first step's length up
            # to lr, until a pair passes (in bf16 a tiny step's gradient change is round-off).
            careful = torch.clamp(first * 10.0**self.blind, max=self.lr)
            t = torch.where(restart, first, torch.where(empty & self.careful, careful, full))
        self.blind = torch.where(empty, self.blind + 1, 0)
        self.prev_grad = g.clone()
        self.prev_step = d * t[:, None].to(d.dtype)
        self.x.add_(self.prev_step.view_as(self.x))

    @torch.no_grad()
    def forget(self, rows: torch.Tensor) -> None:
        """Start ``rows`` (a [B] mask) afresh: no history, and no pair from the step just taken
        (their images were put back), so their next step is a scaled steepest descent."""
        self.age.masked_fill_(rows[:, None], -1)
        self.gamma.masked_fill_(rows, 1.0)
        self.blind.masked_fill_(rows, 0.0)
        self.careful |= rows
        if self.prev_step is not None:
            self.prev_step.masked_fill_(rows[:, None], 0.0)  # s = 0: the next pair fails the curvature test
            self.prev_grad.masked_fill_(rows[:, None], 0.0)

    def _remember(self, g: torch.Tensor) -> torch.Tensor:
        """Add the last step's pair (s, y) where its curvature is positive,
        replacing the oldest pair when the history is full. Returns ``[S Y]ᵀg``,
        read in the same pass over the history."""
        m, rows = self.m, self._rows
        s, y = self.prev_step, g - self.prev_grad
        ys = (y.double() * s.double()).sum(1)
        accept = ys > CURVATURE_EPS
        slot = self.age.argmin(1)  # an empty slot (-1) first, else the oldest
        keep = accept[:, None]
        self.hist[rows, slot] = torch.where(keep, s, self.hist[rows, slot])
        self.hist[rows, m + slot] = torch.where(keep, y, self.hist[rows, m + slot])
        self.age[rows, slot] = torch.where(accept, torch.full_like(slot, self.n_iter), self.age[rows, slot])
        # One pass over the history: every slot against the new s and y, and g.
        prods = torch.bmm(self.hist, torch.stack([s, y, g], 1).mT).double()  # [B, 2m, 3]
        # (vectors stacked as rows, then transposed: BLAS reads that layout twice as fast)
        s_y, y_s, y_y = prods[:, :m, 1], prods[:, m:, 0], prods[:, m:, 1]
        col = torch.zeros_like(self.sy).scatter_(2, slot[:, None, None].expand(-1, m, 1), 1.0).bool()
        upd = col & keep[:, :, None]  # column `slot` of images that accepted
        self.sy = torch.where(upd, s_y[:, :, None], self.sy)  # s_i·y_new
        self.sy = torch.where(upd.transpose(1, 2), y_s[:, None, :], self.sy)  # s_new·y_j
        self.yy = torch.where(upd, y_y[:, :, None], self.yy)
        self.yy = torch.where(upd.transpose(1, 2), y_y[:, None, :], self.yy)
        yy_new = (y.double() * y.double()).sum(1)
        self.gamma = torch.where(accept, ys / yy_new.clamp_min(1e-300), self.gamma)
        return prods[:, :, 2]

    def _direction(self, g: torch.Tensor, sg_yg: torch.Tensor) -> torch.Tensor:
        """d = -H g with H = γI + [S γY] W [S γY]ᵀ (the compact L-BFGS matrix),
        given ``[S Y]ᵀg``."""
        m = self.m
        valid = self.age >= 0
        vf = valid.double()
        a, b = sg_yg[:, :m] * vf, sg_yg[:, m:] * vf * self.gamma[:, None]
        # Chronological order makes R = triu(SᵀY) upper triangular; empty
        # slots get a unit diagonal and zero products, so they drop out.
        order = torch.where(valid, self.age, torch.full_like(self.age, -1)).argsort(1)

        def take(v):
            return v.gather(1, order)

        def take2(mat):
            return mat.gather(1, order[:, :, None].expand(-1, m, m)).gather(2, order[:, None, :].expand(-1, m, m))

        vo = take(vf)
        pair = vo[:, :, None] * vo[:, None, :]
        sy, yy = take2(self.sy) * pair, take2(self.yy) * pair
        eye = torch.eye(m, dtype=sy.dtype, device=sy.device)
        r = sy.triu() + eye * (1 - vo)[:, :, None]
        dm = torch.diagonal(sy, dim1=1, dim2=2)
        u = torch.linalg.solve_triangular(r, take(a)[:, :, None], upper=True)
        rhs = dm[:, :, None] * u + self.gamma[:, None, None] * torch.bmm(yy, u) - take(b)[:, :, None]
        p = torch.linalg.solve_triangular(r.transpose(1, 2), rhs, upper=False)
        coef = torch.zeros(g.shape[0], 2 * m, dtype=torch.float64, device=g.device)
        coef[:, :m].scatter_(1, order, p.squeeze(2))
        coef[:, m:].scatter_(1, order, -self.gamma[:, None] * u.squeeze(2))
        hg = torch.bmm(coef.to(g.dtype)[:, None, :], self.hist).squeeze(1)  # the second pass
        return -(self.gamma[:, None].to(g.dtype) * g + hg)


class Adam:
    """torch's Adam; elementwise, hence per-image by construction."""

    def __init__(self, x: torch.Tensor, lr: float = 1.0):
        self.opt = torch.optim.Adam([x], lr=lr)

    def step(self, grad: torch.Tensor) -> None:
        self.opt.step()

    @torch.no_grad()
    def forget(self, rows: torch.Tensor) -> None:
        """Start ``rows`` (a [B] mask) afresh: their moments cleared."""
        for state in self.opt.state.values():
            for k in ("exp_avg", "exp_avg_sq"):
                if k in state:
                    state[k][rows] = 0


def make_optimizer(name: str, x: torch.Tensor, lr: float, history: int):
    return LBFGS(x, lr=lr, history=history) if name == "lbfgs" else Adam(x, lr=lr)
