"""Winograd F(4x4, 3x3) convolutions: VGG's 3x3 layers in a quarter of the multiplications.

Why: on a CPU without fast bf16, the fp32 convolutions set the floor for every style-transfer
tool. oneDNN's direct kernels already run near the FMA peak here, so the only way past the floor
is less arithmetic. Winograd's minimal filtering (Lavin & Gray, "Fast Algorithms for Convolutional
Neural Networks", 2016) makes each 4x4 output tile from 36 element-wise products per channel pair
instead of 144. A layer becomes 36 matrix products over the channels, plus transforms of the
input and output tiles that cost little when there are >= 256 channels. In fp32 the result is
within a few 1e-6 (relative) of the exact convolution, as the direct kernel's is (tested against
float64). See docs/benchmarks.md for the figures.

Only the gradient for the input is computed: the weights are frozen. That gradient is again a
3x3 convolution, with the kernel flipped and its channels swapped. The flip is folded into
reversed transform matrices, so the backward pass reuses the forward's transformed weights.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

M = 4  # output tile side: F(4x4, 3x3)
A = M + 2  # input tile side
# Where Winograd pays, measured on a 2-core AVX2 CPU (benchmarks/winograd.py): with fewer input
# channels the transforms cost about what the products save, and below MIN_TILES 4x4 tiles an
# image the fixed cost of a dozen small operations exceeds the direct kernel's time.
MIN_CHANNELS = 256
MIN_TILES = 12
CHUNK = 1 << 20  # floats of transformed tiles per band (4 MiB)

# Cook-Toom matrices for the points 0, 1, -1, 2, -2, inf (Lavin & Gray's F(4,3)).
_BT = (
    (4, 0, -5, 0, 1, 0),
    (0, -4, -4, 1, 1, 0),
    (0, 4, -4, -1, 1, 0),
    (0, -2, -1, 2, 1, 0),
    (0, 2, -1, -2, 1, 0),
    (0, 4, 0, -5, 0, 1),
)
_G = (
    (1 / 4, 0, 0),
    (-1 / 6, -1 / 6, -1 / 6),
    (-1 / 6, 1 / 6, -1 / 6),
    (1 / 24, 1 / 12, 1 / 6),
    (1 / 24, -1 / 12, 1 / 6),
    (0, 0, 1),
)
_AT = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1))


def transform_weight(weight: torch.Tensor) -> torch.Tensor:
    """[out, in, 3, 3] -> [36, in, out]: G w G^T for every channel pair, as one matmul with
    G (x) G (fp32 rounding here adds ~1e-7, well under the method's own ~1e-6)."""
    co, ci = weight.shape[:2]
    g = torch.tensor(_G, dtype=weight.dtype, device=weight.device)
    pairs = weight.transpose(0, 1).reshape(ci * co, 9)  # rows in [in, out] order
    return (torch.kron(g, g) @ pairs.T).view(A * A, ci, co)


def _transforms(device, reverse: bool):
    """B^T and A^T; for the backward pass with the columns of B^T and the rows of A^T reversed,
    which turns the correlation with w into one with w flipped (see the module docstring)."""
    bt = torch.tensor(_BT, dtype=torch.float32, device=device)
    at = torch.tensor(_AT, dtype=torch.float32, device=device)
    return (bt.flip(1), at.flip(0)) if reverse else (bt, at)


def wrapped(x: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """``x`` [N, H, W, C] (channels last) with a one-pixel border that wraps round, as [N, rows, cols, C]
    (rows >= H + 2, cols >= W + 2; zeros beyond): six copies along whole rows of channels, where
    ``F.pad(mode="circular")`` on a channels-last tensor makes a dozen strided ones."""
    n, h, w, c = x.shape
    out = x.new_zeros(n, rows, cols, c)
    out[:, 1 : h + 1, 1 : w + 1] = x
    out[:, 0, 1 : w + 1] = x[:, h - 1]
    out[:, h + 1, 1 : w + 1] = x[:, 0]
    out[:, : h + 2, 0] = out[:, : h + 2, w]
    out[:, : h + 2, w + 1] = out[:, : h + 2, 1]
    return out


def unwrapped(g: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """The adjoint of :func:`wrapped`: the border's gradient folded back onto the pixels it copies."""
    g = g[:, : h + 2, : w + 2].clone()
    g[:, : h + 2, w] += g[:, : h + 2, 0]
    g[:, : h + 2, 1] += g[:, : h + 2, w + 1]
    g[:, h, 1 : w + 1] += g[:, 0, 1 : w + 1]
    g[:, 1, 1 : w + 1] += g[:, h + 1, 1 : w + 1]
    return g[:, 1 : h + 1, 1 : w + 1]


class _Wrap(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.hw = x.shape[2:]
        return wrapped(x.permute(0, 2, 3, 1), x.shape[2] + 2, x.shape[3] + 2).permute(0, 3, 1, 2)

    @staticmethod
    def backward(ctx, grad):
        return unwrapped(grad.permute(0, 2, 3, 1), *ctx.hw).permute(0, 3, 1, 2)


def conv3x3(
    x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor | None = None, reverse: bool = False, circular: bool = False
) -> torch.Tensor:
    """A stride-1, padding-1 3x3 convolution of ``x`` [N, C, H, W] with transformed weights
    ``u`` [36, C, Cout] (a transposed view is fine). Returns [N, Cout, H, W], channels-last.
    ``circular``: the one-pixel border wraps round instead of being zeros (``x`` as one period of
    an endless tiling; its gradient is again circular).

    Works through bands of tile rows small enough for the cache (CHUNK floats of transformed
    tiles each): in one piece, a 256 px image's 128-channel layers spent most of their time
    waiting for memory."""
    n, c, h, w = x.shape
    co = u.shape[2]
    bt, at = _transforms(x.device, reverse)
    th, tw = -(-h // M), -(-w // M)
    if circular:  # the halo wraps round; the tiles' remainder is zeros, outside every kept output
        xp = wrapped(x.permute(0, 2, 3, 1), th * M + 2, tw * M + 2)
    else:
        xp = F.pad(x.permute(0, 2, 3, 1), (0, 0, 1, tw * M + 1 - w, 1, th * M + 1 - h))
    out = torch.empty(n, th, M, tw, M, co, dtype=x.dtype, device=x.device)
    band = max(1, min(th, CHUNK // (A * A * n * tw * max(c, co))))
    for r0 in range(0, th, band):
        r1 = min(th, r0 + band)
        t = n * (r1 - r0) * tw
        # 6x6 tiles overlapping by 2, laid out [6, 6, tiles, C] so that each transform is a matmul
        d = xp[:, r0 * M : r1 * M + 2].unfold(1, A, M).unfold(2, A, M)
        d = d.permute(4, 5, 0, 1, 2, 3).reshape(A, A * t * c)
        d = torch.mm(bt, d).view(A, A, t * c)  # B^T d ...
        v = torch.bmm(bt.expand(A, A, A), d).view(A * A, t, c)  # ... B
        prod = torch.bmm(v, u)  # [36, tiles, Cout]
        y = torch.mm(at, prod.view(A, A * t * co)).view(M, A, t * co)  # A^T m ...
        y = torch.bmm(at.expand(M, M, A), y).view(M, M, n, r1 - r0, tw, co)  # ... A
        y = y.permute(2, 3, 0, 4, 1, 5)
        if bias is None:
            out[:, r0:r1].copy_(y)
        else:
            torch.add(y, bias, out=out[:, r0:r1])
    return out.view(n, th * M, tw * M, co)[:, :h, :w].permute(0, 3, 1, 2)


class _Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, u, bias, circular):
        ctx.save_for_backward(u)
        ctx.circular = circular
        return conv3x3(x, u, bias, circular=circular)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return conv3x3(grad, u.transpose(1, 2), reverse=True, circular=ctx.circular), None, None, None


class WinogradConv2d(nn.Module):
    """Drop-in for a frozen ``nn.Conv2d(cin, cout, 3, padding=1)``: same outputs (to ~3e-6).
    Inputs with fewer than MIN_TILES tiles (a coarse scale, a tiny test image) go through the
    direct kernel. The transformed weights (4x the memory of the weights) are made on the first
    input large enough to need them, so small runs never pay for them."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if (
            conv.kernel_size != (3, 3)
            or conv.stride != (1, 1)
            or conv.padding != (1, 1)
            or conv.dilation != (1, 1)
            or conv.groups != 1
        ):
            raise ValueError("WinogradConv2d takes only 3x3, stride 1, padding 1 convolutions")
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.register_buffer("weight", conv.weight.detach().clone())
        self.register_buffer("bias", conv.bias.detach().clone() if conv.bias is not None else None)
        self.register_buffer("u", None, persistent=False)

    def forward(self, x: torch.Tensor, circular: bool = False) -> torch.Tensor:
        """``circular``: ``x`` is one period of an endless tiling (see :func:`conv3x3`)."""
        if -(-x.shape[2] // M) * -(-x.shape[3] // M) < MIN_TILES:
            return direct(x, self.weight, self.bias, circular)
        if x.dtype != self.weight.dtype:
            raise TypeError(f"WinogradConv2d runs in {self.weight.dtype}, got {x.dtype}")
        if self.u is None or self.u.device != self.weight.device:
            self.u = transform_weight(self.weight)
        return _Conv.apply(x, self.u, self.bias, circular)


def direct(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, circular: bool = False) -> torch.Tensor:
    """The library's 3x3 convolution, padding 1: zeros, or (``circular``) wrapping round, computed on
    the wrapped input without padding, so no work is spent outside the period."""
    if circular:
        return F.conv2d(_Wrap.apply(x), weight, bias)
    return F.conv2d(x, weight, bias, padding=1)
