"""Losses against an independent float64 NumPy computation on small tensors."""

import numpy as np
import pytest
import torch
from PIL import Image

from eigenstyle.losses import content_loss, gram, normalize_grad, style_loss, tv_loss
from eigenstyle.network import CAFFE, IMAGENET
from eigenstyle.targets import to_pil, to_tensor

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
