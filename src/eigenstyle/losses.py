"""Gram matrices and the three losses, batched: every function takes a batch of
N images and returns one value per image, so N variants with N different Gram
targets optimise together while each keeps its own loss (and optimiser state).

Conventions are neural-style's: Gram = F Fᵀ / (C·H·W), MSE for content and
style, total variation = sum of absolute neighbour differences.
"""

from __future__ import annotations

import torch


def gram(features: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, C], normalised by C·H·W as neural-style does."""
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared feature difference per image; target is [1 or N, C, H, W]."""
    return (features - target).pow(2).flatten(1).mean(1)


def style_loss(g: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared Gram difference per image; target is [1 or N, C, C]."""
    return (g - target).pow(2).flatten(1).mean(1)


def tv_loss(x: torch.Tensor) -> torch.Tensor:
    """Anisotropic total variation per image (sum of |horizontal| + |vertical| differences)."""
    dx = (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().flatten(1).sum(1)
    dy = (x[:, :, 1:, :] - x[:, :, :-1, :]).abs().flatten(1).sum(1)
    return dx + dy


class _NormalizeGrad(torch.autograd.Function):
    """Identity forward; backward rescales each image's gradient to L1 norm
    ``weight`` (neural-style's -normalize_gradients), so no single loss term
    dominates the step just because its raw gradient is large."""

    @staticmethod
    def forward(ctx, x, weight):
        ctx.weight = weight
        return x.view_as(x)

    @staticmethod
    def backward(ctx, g):
        norm = g.abs().flatten(1).sum(1).clamp_min(0).add(1e-8).view(-1, *([1] * (g.dim() - 1)))
        return g / norm * ctx.weight, None


def normalize_grad(x: torch.Tensor, weight: float) -> torch.Tensor:
    return _NormalizeGrad.apply(x, weight)
