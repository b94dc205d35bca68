"""Winograd F(4x4, 3x3) convolutions: VGG's 3x3 layers in a quarter of the multiplications.

Why: on a CPU without fast bf16, the fp32 convolutions set the floor for every style-transfer
tool. oneDNN's direct kernels already run near the FMA peak here, so the only way past the floor
is less arithmetic. Winograd's minimal filtering (Lavin & Gray, "Fast Algorithms for Convolutional
Neural Networks", 2016) makes each 4x4 output tile from 36 element-wise products per channel pair
instead of 144. A layer becomes 36 matrix products over the channels, plus transforms of the
input and output tiles that cost little when there are >= 128 channels. In fp32 the result is
within ~3e-6 (relative) of the exact convolution, against ~1e-6 for the direct kernel (tested
against float64). See docs/benchmarks.md for the figures.

Only the gradient for the input is computed: the weights are frozen. That gradient is again a
3x3 convolution, with the kernel flipped and its channels swapped. The flip is folded into
reversed transform matrices, so the backward pass reuses the forward's transformed weights.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

M = 4          # output tile side: F(4x4, 3x3)
A = M + 2      # input tile side
# Layers with fewer input channels stay direct: their transforms cost more than the products
# they save (conv1_2 and conv2_1 measured slower or equal at 256 px on a 2-core AVX2 CPU).
MIN_CHANNELS = 128

# Cook-Toom matrices for the points 0, 1, -1, 2, -2, inf (Lavin & Gray's F(4,3)).
_BT = ((4, 0, -5, 0, 1, 0), (0, -4, -4, 1, 1, 0), (0, 4, -4, -1, 1, 0),
       (0, -2, -1, 2, 1, 0), (0, 2, -1, -2, 1, 0), (0, 4, 0, -5, 0, 1))
_G = ((1 / 4, 0, 0), (-1 / 6, -1 / 6, -1 / 6), (-1 / 6, 1 / 6, -1 / 6),
      (1 / 24, 1 / 12, 1 / 6), (1 / 24, -1 / 12, 1 / 6), (0, 0, 1))
_AT = ((1, 1, 1, 1, 1, 0), (0, 1, -1, 2, -2, 0), (0, 1, 1, 4, 4, 0), (0, 1, -1, 8, -8, 1))


def transform_weight(weight: torch.Tensor) -> torch.Tensor:
    """[out, in, 3, 3] -> [36, in, out]: G w G^T per channel pair, computed in float64."""
    g = torch.tensor(_G, dtype=torch.float64, device=weight.device)
    u = g @ weight.double() @ g.T                      # [out, in, 6, 6]
    return u.permute(2, 3, 1, 0).reshape(A * A, weight.shape[1], weight.shape[0]).float().contiguous()


def _transforms(device, reverse: bool):
    """B^T and A^T; for the backward pass with the columns of B^T and the rows of A^T reversed,
    which turns the correlation with w into one with w flipped (see the module docstring)."""
    bt = torch.tensor(_BT, dtype=torch.float32, device=device)
    at = torch.tensor(_AT, dtype=torch.float32, device=device)
    return (bt.flip(1), at.flip(0)) if reverse else (bt, at)


def conv3x3(x: torch.Tensor, u: torch.Tensor, bias: torch.Tensor | None = None,
            reverse: bool = False) -> torch.Tensor:
    """A stride-1, padding-1 3x3 convolution of ``x`` [N, C, H, W] with transformed weights
    ``u`` [36, C, Cout] (a transposed view is fine). Returns [N, Cout, H, W], channels-last."""
    n, c, h, w = x.shape
    co = u.shape[2]
    bt, at = _transforms(x.device, reverse)
    th, tw = -(-h // M), -(-w // M)
    t = n * th * tw
    # Tiles of 6x6 that overlap by 2, laid out [6, 6, tiles, C] so each transform is a matmul.
    xp = F.pad(x.permute(0, 2, 3, 1), (0, 0, 1, tw * M + 1 - w, 1, th * M + 1 - h))
    d = xp.unfold(1, A, M).unfold(2, A, M).permute(4, 5, 0, 1, 2, 3).reshape(A, A * t * c)
    d = torch.mm(bt, d).view(A, A, t * c)                                   # B^T d ...
    v = torch.bmm(bt.expand(A, A, A), d).view(A * A, t, c)                  # ... B
    prod = torch.bmm(v, u)                                                  # [36, tiles, Cout]
    y = torch.mm(at, prod.view(A, A * t * co)).view(M, A, t * co)           # A^T m ...
    y = torch.bmm(at.expand(M, M, A), y).view(M, M, n, th, tw, co)          # ... A
    out = torch.empty(n, th, M, tw, M, co, dtype=x.dtype, device=x.device)
    y = y.permute(2, 3, 0, 4, 1, 5)
    if bias is None:
        out.copy_(y)
    else:
        torch.add(y, bias, out=out)
    return out.view(n, th * M, tw * M, co)[:, :h, :w].permute(0, 3, 1, 2)


class _Conv(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, u, bias):
        ctx.save_for_backward(u)
        return conv3x3(x, u, bias)

    @staticmethod
    def backward(ctx, grad):
        (u,) = ctx.saved_tensors
        return conv3x3(grad, u.transpose(1, 2), reverse=True), None, None


class WinogradConv2d(nn.Module):
    """Drop-in for a frozen ``nn.Conv2d(cin, cout, 3, padding=1)``: same outputs (to ~3e-6)."""

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.padding != (1, 1) \
                or conv.dilation != (1, 1) or conv.groups != 1:
            raise ValueError("WinogradConv2d takes only 3x3, stride 1, padding 1 convolutions")
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.register_buffer("u", transform_weight(conv.weight.detach()))
        self.register_buffer("bias", conv.bias.detach().clone() if conv.bias is not None else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != self.u.dtype:
            raise TypeError(f"WinogradConv2d runs in {self.u.dtype}, got {x.dtype}")
        return _Conv.apply(x, self.u, self.bias)
