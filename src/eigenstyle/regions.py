"""Regions: a style for each part of the picture (--mask, --region), by guided Gram matrices.

Gatys et al. 2017 ("Controlling Perceptual Factors in Neural Style Transfer"): a region's Gram at a layer
is the Gram of the features weighted by the region's mask brought to that layer's resolution, normalised
by the mask's mass, ``G_r = Σ_p m_p f_p f_pᵀ / (C · Σ_p m_p)``; a mask of ones gives neural-style's Gram.
Each region's G_r is pulled to its own target, ``share_r · w_L · mean((G_r − T_r)²)``, where ``share_r`` is
the region's part of the picture: a pixel of any region is pushed as hard as in a run of that style alone.

At each layer a position belongs wholly to the region covering most of it (:func:`majority`): the network's
receptive fields blend the styles over a few pixels, without a seam and without the quieter band that a
shared edge leaves (measured: docs/regions.md). ``--mask-blur PX`` asks for a wider, shared edge instead:
each region's mask blurred and the regions normalised to sum to one, a border pixel in both in proportion.

A region's style (``--region NAME=SPEC``) is one of
    ``none``               the content's own look: its target is the photograph's guided Gram there;
    ``plain``              the style image's Grams as they are;
    ``style``              the run's style (its --mode, --variant-seed: a variant of the whole);
    ``variant:7``, ``fantasy:3``, ``random:2``
                           that randomisation of the run's style, at that variant seed, with a swatch of its own;
    ``{"mode": ..., "genome": ..., "strength": ...}``
                           a randomised style by its genome (a studio tile's, a mutation's);
    ``PATH.jpg``/``.png``  another style image; ``PATH.safetensors``: a style file (--save-style).

Shapes: masks are [R, 1, H, W] (R regions), a layer's mask [R, 1, h, w]; guided Grams [N, R, C, C].

    >>> from eigenstyle import Options
    >>> [s.kind for s in specs_of(Options(mask=("m.png",), region=("sky=fantasy:7", "town=none")))]
    ['mode', 'none']
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from . import images
from .errors import EigenstyleError
from .losses import _blur, guided_grams
from .values import option_name

MODES = ("variant", "fantasy", "random")
# the flat colours a mask picture's regions may be named by (else by their hex, e.g. "#336699")
COLOURS = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "blue": (0, 0, 255),
    "yellow": (255, 255, 0),
    "cyan": (0, 255, 255),
    "magenta": (255, 0, 255),
    "grey": (128, 128, 128),
}
LEAST_SHARE = 0.002  # a colour covering less of a mask picture is an edge's antialiasing, not a region


@dataclass(frozen=True)
class Spec:
    """One region's style: ``kind`` none, plain, style, mode (``mode``, ``seed`` or ``genome``, ``strength``),
    image or file (``path``)."""

    name: str
    kind: str
    mode: Optional[str] = None
    seed: Optional[int] = None
    genome: Optional[dict] = None
    strength: Optional[float] = None
    path: Optional[str] = None


def parse(text: str) -> Spec:
    """``NAME=SPEC`` as --region takes it.

    >>> parse("sky=fantasy:7")
    Spec(name='sky', kind='mode', mode='fantasy', seed=7, genome=None, strength=None, path=None)
    """
    flag = option_name("region")
    name, eq, spec = str(text).partition("=")
    name, spec = name.strip(), spec.strip()
    if not eq or not name or not spec:
        raise EigenstyleError(f"{flag} {text!r}: give NAME=STYLE, e.g. sky=fantasy:7 or town=none")
    if spec in ("none", "plain", "style"):
        return Spec(name, spec)
    if spec.startswith("{"):
        try:
            data = json.loads(spec)
        except ValueError:
            raise EigenstyleError(f"{flag} {name}: {spec[:40]!r} is not valid JSON") from None
        mode = data.get("mode") if isinstance(data, dict) else None
        if (
            mode not in MODES
            or not isinstance(data.get("genome", {}), dict)
            or set(data)
            - {
                "mode",
                "genome",
                "variant_seed",
                "strength",
            }
        ):
            raise EigenstyleError(f"{flag} {name}: a style by genome is {{mode, genome or variant_seed, strength}}")
        return Spec(name, "mode", mode, data.get("variant_seed"), data.get("genome"), data.get("strength"))
    mode, colon, seed = spec.partition(":")
    if mode in MODES:
        if not colon or not seed.strip().isdigit():
            raise EigenstyleError(f"{flag} {name}={spec}: give the variant seed, e.g. {mode}:7")
        return Spec(name, "mode", mode, int(seed))
    kind = "file" if spec.lower().endswith(".safetensors") else "image"
    if not os.path.isfile(spec):
        raise EigenstyleError(
            f"{flag} {name}={spec}: no such file (a style is none, plain, style, variant:N, fantasy:N, random:N, "
            "a style image or a .safetensors style file)"
        )
    return Spec(name, kind, path=spec)


def specs_of(opts) -> list[Spec]:
    specs = [parse(t) for t in opts.region or ()]
    names = [s.name for s in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise EigenstyleError(f"{option_name('region')}: {', '.join(twice)} given twice")
    return specs


def text_of(opts, name: str) -> str:
    """Region ``name``'s NAME=STYLE text as ``opts`` give it (--region)."""
    return next(t for t in opts.region if t.split("=", 1)[0].strip() == name)


def style_options(opts, spec: Spec):
    """The options of a region's style alone (kinds style and mode; the others are plain): the run's
    ``opts`` (as asked) without its regions, at the region's mode and genome."""
    alone = opts.replace(region=None, mask=None)
    if spec.kind == "style":
        return alone
    if spec.kind != "mode":
        return alone.replace(mode="none", variant_seed=None, genome=None)
    return alone.replace(
        mode=spec.mode,
        variant_seed=spec.seed if spec.seed is not None or spec.genome else 0,
        genome=spec.genome,
        strength=spec.strength if spec.strength is not None else opts.strength,
    )


# ---------------------------------------------------------------------------------------------- masks


def _named(rgb: tuple) -> str:
    for name, c in COLOURS.items():
        if max(abs(a - b) for a, b in zip(rgb, c)) <= 24:
            return name
    return "#%02x%02x%02x" % tuple(int(v) for v in rgb)


def _same_shape(mask_size, content_size, path) -> None:
    (mw, mh), (cw, ch) = mask_size, content_size
    if abs(mw / mh - cw / ch) > 0.02 * (cw / ch) or min(mw, mh) < 8:
        raise EigenstyleError(
            f"{option_name('mask')} {path} is {mw}x{mh} px, the content {cw}x{ch}: give a mask of the content's shape"
        )


def read(opts, original_size: tuple) -> tuple[list[str], np.ndarray]:
    """The region names and their hard masks [R, H, W] in [0, 1] at the size the content is resized to, each
    region with its style (--region): every mask read and checked before any computation.
    One picture: its flat colours are the regions (an edge's antialiasing goes to the nearest); several:
    grey masks, one region each, named by the file (sky.png is "sky"), and what none covers "rest"."""
    names, hard = _read(list(opts.mask), images.fit_size(*original_size, opts.size), original_size)
    specs = {s.name: s for s in specs_of(opts)}
    missing = [n for n in names if n not in specs]
    if missing:
        raise EigenstyleError(
            f"{option_name('mask')}: region {', '.join(missing)} has no style (give {option_name('region')} "
            f"{missing[0]}=none, plain, style, variant:N, fantasy:N, a style image or file); "
            f"regions: {', '.join(names)}"
        )
    unknown = [n for n in specs if n not in names]
    if unknown:
        raise EigenstyleError(
            f"{option_name('region')}: no region {', '.join(unknown)} in the mask ({', '.join(names)})"
        )
    return names, hard


def names_of(path: str) -> list[str]:
    """The regions of a picture of flat colours, by name (the studio shows them as a mask is uploaded)."""
    with Image.open(path) as im:
        size = im.size
    return _read([path], size, size)[0]


def _read(paths, size, original_size) -> tuple[list[str], np.ndarray]:
    if len(paths) == 1 and _named_mask(paths[0])[0] is None:
        pic = images.load_rgb(paths[0], f"{option_name('mask')} {paths[0]}")
        _same_shape(pic.size, original_size, paths[0])
        a = np.asarray(pic.resize(size, Image.NEAREST), dtype=np.int32)
        colours, counts = np.unique(a.reshape(-1, 3), axis=0, return_counts=True)
        main = colours[counts >= LEAST_SHARE * a.shape[0] * a.shape[1]]
        if len(main) < 2:
            raise EigenstyleError(
                f"{option_name('mask')} {paths[0]} has no regions: it is one flat colour (paint two or more, "
                "or give several grey masks)"
            )
        nearest = ((a[:, :, None, :] - main[None, None]) ** 2).sum(-1).argmin(-1)
        names = [_named(tuple(c)) for c in main]
        if len(set(names)) < len(names):
            names = ["#%02x%02x%02x" % tuple(int(v) for v in c) for c in main]
        return names, np.stack([(nearest == i).astype(np.float32) for i in range(len(main))])
    masks, names = [], []
    for entry in paths:
        name, path = _named_mask(entry)
        name = name or os.path.splitext(os.path.basename(path))[0]  # a bare grey mask: named by its file
        pic = images.load_rgb(path, f"{option_name('mask')} {path}")
        _same_shape(pic.size, original_size, path)
        m = np.asarray(pic.convert("L").resize(size, Image.BILINEAR), dtype=np.float32) / 255.0
        if m.max() < 0.5:
            raise EigenstyleError(f"{option_name('mask')} {path} has no region: it is dark everywhere")
        masks.append(m)
        names.append(name)
    if len(set(names)) < len(names):
        raise EigenstyleError(f"{option_name('mask')}: two masks have the same name ({', '.join(names)})")
    rest = np.clip(1.0 - np.sum(masks, axis=0), 0.0, 1.0)
    if (rest > 0.5).mean() >= LEAST_SHARE:
        masks.append(rest)
        names.append("rest")
    return names, np.stack(masks)


def _named_mask(entry: str) -> tuple:
    """'sky=masks/sky.png' -> ('sky', 'masks/sky.png'); a bare path -> (None, path)."""
    name, eq, path = str(entry).partition("=")
    if eq and name.strip() and not os.path.exists(entry):
        return name.strip(), path.strip()
    return None, entry


def mask_path(entry: str) -> str:
    """The file of a --mask entry (NAME=PATH or PATH)."""
    return _named_mask(entry)[1]


def soft(hard: np.ndarray, sigma: float) -> torch.Tensor:
    """[R, H, W] hard masks -> [R, 1, H, W] soft ones: each blurred by ``sigma`` px and all normalised to sum
    to one at every pixel (a pixel at a border belongs to both regions in proportion)."""
    m = torch.from_numpy(hard).unsqueeze(1).double()
    if sigma > 0:
        m = _blur(m.transpose(0, 1), sigma).transpose(0, 1)
    return (m / m.sum(0, keepdim=True).clamp_min(1e-12)).float()


def at_layers(masks: torch.Tensor, net, layers) -> dict:
    """Each layer's masks [R, 1, h, w]: the pixel masks averaged over each of the network's 2×2 poolings
    before the layer (the features' own grid)."""
    out, m = {}, masks
    pools = {name: net.pools_before[name] for name in layers}
    for k in range(max(pools.values()) + 1):
        for name, p in pools.items():
            if p == k:
                out[name] = m
        m = F.avg_pool2d(m, 2)
    return out


def majority(masks: torch.Tensor) -> torch.Tensor:
    """[R, 1, h, w] masks -> the same, each position wholly the region with the largest share of it (an exact tie
    shared evenly). The default edge (--mask-blur 0): shared positions left a band along the border cleaner than
    either region (docs/regions.md), and the network's receptive fields still blend the styles over a few px.

    >>> majority(torch.tensor([[[[0.7, 0.5]]], [[[0.3, 0.5]]]])).flatten().tolist()
    [1.0, 0.5, 0.0, 0.5]
    """
    top = (masks == masks.max(0, keepdim=True).values).to(masks.dtype)
    return top / top.sum(0, keepdim=True)


# ------------------------------------------------------------------------------------- the problem's


@dataclass
class Masks:
    """What prepare() makes of --mask: the regions' names, their masks at each style layer, and the
    targets that need the network (the photograph's own guided Grams, other style images' and files' Grams)."""

    names: list
    pixels: torch.Tensor  # [R, 1, H, W] soft masks of the canvas (its margin included)
    layers: dict  # layer -> [R, 1, h, w]
    content_grams: dict  # layer -> [1, R, C, C]: the photograph's own, per region (a "none" region's target)
    grams: dict  # region name -> {layer: [1, C, C]}: a style image's or file's
    support: Optional[dict] = None  # layer -> per region, the flat positions its mask covers (losses.guided_grams)


@dataclass
class Region:
    """A region of a run: its name, its spec, and the problem whose targets and weights it wears (a variant's
    problem has its own swatch: swatch.reach makes it)."""

    index: int
    spec: Spec
    problem: object


def prepare_masks(opts, read_masks, net, content_tensor: torch.Tensor) -> Masks:
    """The masks :func:`read` read, softened and brought to the style layers, and the photograph's own guided
    Grams (a "none" region's target). Style images' and files' Grams are the caller's (problem.prepare)."""
    names, hard = read_masks
    if opts.margin:
        hard = np.pad(hard, ((0, 0), (opts.margin, opts.margin), (opts.margin, opts.margin)), mode="reflect")
    sigma = opts.mask_blur or 0.0
    pixels = soft(hard, sigma).to(content_tensor.device)
    layers = at_layers(pixels, net, opts.style_layers)
    if not sigma:  # each position of each layer wholly its majority's: no band the regions share
        layers = {name: majority(m) for name, m in layers.items()}
    with torch.no_grad():
        feats = net(content_tensor)
        content_grams = {name: guided_grams(feats[name], layers[name]) for name in opts.style_layers}
    support = {name: [torch.nonzero(m.flatten() > 0).flatten() for m in layers[name]] for name in opts.style_layers}
    return Masks(names, pixels, layers, content_grams, {}, support)


@torch.no_grad()
def loss_in(problem, x: torch.Tensor, r: int, wearing) -> torch.Tensor:
    """Region ``r``'s style loss [N] of images ``x`` against the targets and style weights of ``wearing`` (a
    problem: the region's own, another region's, a whole-image run's), as :class:`Guided` weighs it, divided
    by the region's share: what it would be over the whole picture (benchmarks/regions.py compares them)."""
    feats, total = problem.net(x), x.new_zeros(x.shape[0])
    for name, w in wearing.opts.layer_weights().items():
        g = guided_grams(feats[name], problem.masks.layers[name][r : r + 1])[:, 0]
        total = total + w * (g - wearing.targets.style[name]).pow(2).flatten(1).mean(1)
    return total
