"""From pictures to optimisation targets: content features and style Grams.

A :class:`Targets` holds the content activations ([1, C, H, W] per content
layer) and the style Grams ([1 or N, C, C] per style layer). A leading 1
broadcasts over the batch; N per-image Grams are how a batch of variants
gets N different styles (the randomisation builds on exactly this).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from . import images
from .errors import EigenstyleError
from .losses import gram
from .values import option_name
from .vgg.network import VGG, Preprocessing


@dataclass
class Targets:
    content: dict  # layer -> [1, C, H, W]
    style: dict  # layer -> [1 or N, C, C]


def to_tensor(im: Image.Image, pre: Preprocessing, device="cpu") -> torch.Tensor:
    """PIL RGB -> [1, 3, H, W] network input."""
    x = torch.from_numpy(images.to_array(im)).permute(2, 0, 1)
    if pre.bgr:
        x = x.flip(0)
    x = x * pre.scale
    mean = torch.tensor(pre.mean).view(3, 1, 1)
    std = torch.tensor(pre.std).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0).to(device)


def _pixels(x: torch.Tensor, pre: Preprocessing) -> np.ndarray:
    """[N, 3, H, W] network input -> [N, H, W, 3] RGB in [0, 1] units (not clipped yet)."""
    x = x.detach().float().cpu()
    mean = torch.tensor(pre.mean).view(1, 3, 1, 1)
    std = torch.tensor(pre.std).view(1, 3, 1, 1)
    x = (x * std + mean) / pre.scale
    if pre.bgr:
        x = x.flip(1)
    return x.permute(0, 2, 3, 1).numpy()


def to_pil(x: torch.Tensor, pre: Preprocessing) -> list[Image.Image]:
    """[N, 3, H, W] network input -> N PIL RGB images (clipped to the valid range)."""
    a = _pixels(x, pre)
    return [images.from_array(np.ascontiguousarray(a[i])) for i in range(a.shape[0])]


def to_floats(x: torch.Tensor, pre: Preprocessing) -> list[np.ndarray]:
    """[N, 3, H, W] network input -> N float32 HxWx3 arrays in [0, 1]: the image before any
    8-bit rounding, for 16-bit outputs (``to_pil`` is these, rounded)."""
    a = _pixels(x, pre)
    return [np.clip(np.ascontiguousarray(a[i], dtype=np.float32), 0.0, 1.0) for i in range(a.shape[0])]


def check_size(im_size: tuple[int, int], net: VGG, what: str) -> None:
    need = net.min_side()
    if min(im_size) < need:
        raise EigenstyleError(
            f"{what} is {im_size[0]}x{im_size[1]} px after resizing; layer {net.names[-1]} "
            f"needs at least {need} px on the short side (raise {option_name('size')} or "
            f"{option_name('style_scale')})"
        )


@torch.no_grad()
def content_targets(net: VGG, content: torch.Tensor, layers, tile: int | None = None) -> dict:
    """The content's features (``tile``: assembled tile by tile, for print sizes; the same features)."""
    if tile:
        from .tiled import features

        return features(net, content, tuple(layers), tile)
    feats = net(content)
    return {name: feats[name].detach() for name in layers}


@torch.no_grad()
def image_grams(net: VGG, im: torch.Tensor, layers, tile: int | None = None) -> dict:
    """Each layer's Gram of ``im`` (``tile``: summed tile by tile; the same Grams in bounded memory)."""
    if tile:
        from .tiled import grams

        return grams(net, im, tuple(layers), tile)
    feats = net(im)
    return {name: gram(feats[name]) for name in layers}


@torch.no_grad()
def style_grams(net: VGG, styles: list[torch.Tensor], layers, blend: list[float], tile: int | None = None) -> dict:
    """Blend-weighted sum of each style image's Grams (neural-style's -style_blend_weights)."""
    total = sum(blend)
    out = {}
    for im, w in zip(styles, blend):
        grams = image_grams(net, im, layers, tile)
        for name in layers:
            g = grams[name] * (w / total)
            out[name] = g if name not in out else out[name] + g
    return out
