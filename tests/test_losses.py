"""Losses against an independent float64 NumPy computation on small tensors."""

import numpy as np
import pytest
import torch
from PIL import Image

from eigenstyle.losses import chroma_tv_loss, content_loss, gram, normalize_grad, style_loss, tv_loss
from eigenstyle.targets import to_pil, to_tensor
from eigenstyle.vgg.network import CAFFE, IMAGENET

rng = np.random.default_rng(0)


def np_gram(f):
    n, c, h, w = f.shape
    m = f.reshape(n, c, h * w)
    return np.stack([m[i] @ m[i].T for i in range(n)]) / (c * h * w)


def test_gram_matches_float64_reference():
    f = rng.normal(size=(2, 3, 4, 5))
    torch.testing.assert_close(gram(torch.from_numpy(f)), torch.from_numpy(np_gram(f)))


def test_content_and_style_loss_per_image():
    f, t = rng.normal(size=(3, 4, 5, 6)), rng.normal(size=(1, 4, 5, 6))
    expected = ((f - t) ** 2).reshape(3, -1).mean(1)
    torch.testing.assert_close(content_loss(torch.from_numpy(f), torch.from_numpy(t)), torch.from_numpy(expected))
    g, gt = np_gram(f), rng.normal(size=(3, 4, 4))
    expected = np.array([((g[i] - gt[i]) ** 2).mean() for i in range(3)])
    torch.testing.assert_close(style_loss(gram(torch.from_numpy(f)), torch.from_numpy(gt)), torch.from_numpy(expected))


def test_tv_loss_matches_loops():
    x = rng.normal(size=(2, 3, 4, 5))
    expected = np.zeros(2)
    for n in range(2):
        for c in range(3):
            for i in range(4):
                for j in range(5):
                    if j + 1 < 5:
                        expected[n] += abs(x[n, c, i, j + 1] - x[n, c, i, j])
                    if i + 1 < 4:
                        expected[n] += abs(x[n, c, i + 1, j] - x[n, c, i, j])
    torch.testing.assert_close(tv_loss(torch.from_numpy(x)), torch.from_numpy(expected))


@pytest.mark.parametrize("pre", [CAFFE, IMAGENET])
def test_chroma_tv_is_the_tv_of_cb_and_cr_in_0_255_units(pre):
    """The colour-only TV from the RGB picture (float64, BT.601 Cb/Cr), whatever the network's units."""
    a = rng.uniform(0, 255, size=(2, 5, 6, 3))
    r, g, b = a[..., 0], a[..., 1], a[..., 2]
    cb, cr = -0.1687 * r - 0.3313 * g + 0.5 * b, 0.5 * r - 0.4187 * g - 0.0813 * b
    expected = np.zeros(2)
    for n in range(2):
        for c in (cb[n], cr[n]):
            expected[n] += np.abs(np.diff(c, axis=1)).sum() + np.abs(np.diff(c, axis=0)).sum()
    torch.testing.assert_close(chroma_tv_loss(_units(a, pre), pre), torch.from_numpy(expected))
    grey = a[..., :1].repeat(3, axis=3)  # light and dark only
    assert float(chroma_tv_loss(_units(grey, pre), pre).max()) < 1e-9 * float(tv_loss(_units(grey, pre)).min())


def _units(a, pre):
    """[N, H, W, 3] RGB in 0-255 -> network units, built by hand from the preprocessing's definition."""
    x = torch.from_numpy(a).permute(0, 3, 1, 2)
    x = x.flip(1) if pre.bgr else x
    mean, std = (torch.tensor(v, dtype=x.dtype).view(1, 3, 1, 1) for v in (pre.mean, pre.std))
    return (x / 255.0 * pre.scale - mean) / std


def test_normalize_grad_scales_each_image_gradient_to_weight():
    x = torch.from_numpy(rng.normal(size=(2, 3, 4, 4))).requires_grad_(True)
    y = normalize_grad(x, 7.0)
    (y.pow(2) * torch.tensor([1.0, 100.0], dtype=torch.float64).view(2, 1, 1, 1)).sum().backward()
    norms = x.grad.abs().flatten(1).sum(1)
    torch.testing.assert_close(norms, torch.tensor([7.0, 7.0], dtype=torch.float64), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("pre", [CAFFE, IMAGENET])
def test_preprocessing_round_trip(pre):
    a = rng.integers(0, 256, size=(7, 9, 3), dtype=np.uint8)
    im = Image.fromarray(a, "RGB")
    back = to_pil(to_tensor(im, pre), pre)[0]
    assert np.array_equal(np.asarray(back), a)


def test_caffe_convention_bgr_0_255_mean_subtracted():
    im = Image.fromarray(np.array([[[255, 0, 0]]], dtype=np.uint8), "RGB")  # one pure red pixel
    x = to_tensor(im, CAFFE)[0, :, 0, 0]
    torch.testing.assert_close(x, torch.tensor([-103.939, -116.779, 255 - 123.68]))


def np_reduce(a, out_h, out_w):
    """Antialiased bilinear reduction of [N, C, H, W] (PIL's triangle filter, support = the scale), per axis."""

    def weights(n_in, n_out):
        scale, m = n_in / n_out, np.zeros((n_out, n_in))
        for i in range(n_out):
            centre = (i + 0.5) * scale
            lo, hi = max(int(centre - scale + 0.5), 0), min(int(centre + scale + 0.5), n_in)
            j = np.arange(lo, hi)
            w = np.maximum(0.0, 1.0 - np.abs((j + 0.5 - centre) / scale))
            m[i, lo:hi] = w / w.sum()
        return m

    wy, wx = weights(a.shape[2], out_h), weights(a.shape[3], out_w)
    return np.einsum("yi,ncij,xj->ncyx", wy, a, wx)


def np_blur(a, sigma):
    """Separable Gaussian of [N, C, H, W], radius 3 sigma (at most the side - 1), reflected at the edges."""
    for axis in (3, 2):
        r = min(int(3 * sigma + 0.5), a.shape[axis] - 1)
        k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
        k /= k.sum()
        pad = [(0, 0)] * 4
        pad[axis] = (r, r)
        padded = np.pad(a, pad, mode="reflect")
        a = sum(k[i] * np.take(padded, np.arange(i, i + a.shape[axis]), axis=axis) for i in range(2 * r + 1))
    return a


@pytest.mark.parametrize("shape, small", [((9, 12), (3, 4)), ((17, 23), (7, 10)), ((40, 30), (16, 12))])
def test_anchor_loss_compares_the_image_reduced_by_a_triangle_filter(shape, small):
    """Integer and fractional factors: the reduction is PIL's antialiased bilinear, not a box (whose
    zero-mean blocks would cost nothing, docs/render.md), and the difference is blurred by 1 px there."""
    from eigenstyle.losses import anchor_loss

    x, anchor = rng.normal(size=(2, 3) + shape), rng.normal(size=(1, 3) + small)
    expected = (np_blur(np_reduce(x, *small) - anchor, 1.0) ** 2).reshape(2, -1).mean(1)
    torch.testing.assert_close(anchor_loss(torch.from_numpy(x), torch.from_numpy(anchor)), torch.from_numpy(expected))
    # a block the box filter cannot see (zero mean in its 3x3 block) is seen by this one
    block = np.zeros((1, 3, 9, 12))
    block[..., 3:6, 3:6] = [1.0, -2.0, 1.0]
    assert np.allclose(block.reshape(1, 3, 3, 3, 4, 3).mean((3, 5)), 0)
    assert float(anchor_loss(torch.from_numpy(block), torch.zeros(1, 3, 3, 4, dtype=torch.float64))) > 1e-5
