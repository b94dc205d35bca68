"""Gram matrices and the losses that the objective's terms weigh (objective.py), batched: every function
takes a batch of N images and returns one value per image, so N variants with N different Gram
targets optimise together while each keeps its own loss (and optimiser state).

Conventions are neural-style's: Gram = F Fᵀ / (C·H·W), MSE for content and
style, total variation = sum of absolute neighbour differences. The anchor (a
render's: each scale held to the coarser image it started from) is eigenstyle's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gram(features: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, C], normalised by C·H·W as neural-style does."""
    n, c, h, w = features.shape
    f = features.reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def guided_grams(features: torch.Tensor, masks: torch.Tensor, support=None) -> torch.Tensor:
    """[N, C, h, w] features, [R, 1, h, w] masks -> [N, R, C, C]: each region's Gram (regions.py), its
    positions weighted by the mask and normalised by its mass (Gatys et al. 2017). ``support``: per region,
    the positions (a LongTensor of flat indices) where its mask is not 0: the same Grams from those alone,
    which costs one Gram's work for regions that do not overlap instead of one per region.

    >>> f = torch.rand(1, 4, 6, 6)
    >>> torch.allclose(guided_grams(f, torch.ones(1, 1, 6, 6))[:, 0], gram(f))  # a mask of ones: the Gram
    True
    """
    n, c = features.shape[:2]
    flat, w = features.reshape(n, c, -1), masks.flatten(1).to(features.dtype)  # [N, C, P], [R, P]
    mass = w.sum(1).clamp_min(1e-12)
    out = []
    for r in range(w.shape[0]):
        if support is None:
            weighted, plain = flat * w[r], flat
        else:
            plain = flat.index_select(2, support[r])
            weighted = plain * w[r].index_select(0, support[r])
        out.append(torch.bmm(weighted, plain.transpose(1, 2)) / (c * mass[r]))
    return torch.stack(out, 1)


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


# Cb and Cr (ITU-R BT.601) of RGB; the offsets cancel in differences.
CHROMA_OF_RGB = ((-0.1687, -0.3313, 0.5), (0.5, -0.4187, -0.0813))


def chroma_tv_loss(x: torch.Tensor, pre) -> torch.Tensor:
    """:func:`tv_loss` of the colour alone, in 0-255 units whatever the network's preprocessing ``pre``:
    x [N, 3, H, W] network input -> [N]. Coloured speckle costs; light and dark strokes are free (a
    luminance TV smooths them too, and brings the photograph back: docs/quality.md).

    >>> from eigenstyle.vgg.network import CAFFE
    >>> grey = torch.rand(1, 1, 8, 8).repeat(1, 3, 1, 1) * 255  # no colour at all
    >>> float(chroma_tv_loss(grey, CAFFE)) < 1e-3
    True
    """
    m = x.new_tensor(CHROMA_OF_RGB)
    if pre.bgr:
        m = m.flip(1)
    m = m * x.new_tensor(pre.std) * (255.0 / pre.scale)  # network units -> 0-255 RGB (the mean cancels)
    return tv_loss(torch.einsum("kc,nchw->nkhw", m, x))


ANCHOR_BLUR = 1.0  # sigma of the anchor's comparison, in the coarser image's pixels


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of [N, C, H, W] (reflect padding; radius 3 sigma, at most the side - 1)."""
    for dim in (3, 2):
        r = min(int(3 * sigma + 0.5), x.shape[dim] - 1)
        if r < 1:
            continue
        k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=x.dtype, device=x.device) / sigma) ** 2)
        k = (k / k.sum()).repeat(x.shape[1], 1).unsqueeze(1)  # one kernel per channel
        pad = (r, r, 0, 0) if dim == 3 else (0, 0, r, r)
        x = F.conv2d(F.pad(x, pad, mode="reflect"), k.unsqueeze(2) if dim == 3 else k.unsqueeze(3), groups=x.shape[1])
    return x


def anchor_loss(x: torch.Tensor, anchor: torch.Tensor, sigma: float = ANCHOR_BLUR) -> torch.Tensor:
    """Mean squared difference per image between ``x`` reduced to ``anchor``'s size and ``anchor`` (a
    coarser scale's image), both blurred by ``sigma`` of its pixels. The reduction is antialiased bilinear
    (PIL's triangle filter): with a box filter, zero-mean blocks cost nothing and the optimiser fills them
    with a pixel grating. The blur leaves the coarser image's finest detail free: matched exactly, the
    reduction would have to be undone (a deconvolution), and the optimiser answers with grain
    (docs/render.md)."""
    small = F.interpolate(x, size=tuple(anchor.shape[-2:]), mode="bilinear", antialias=True, align_corners=False)
    return _blur(small - anchor, sigma).pow(2).flatten(1).mean(1)


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
