"""Exact evaluation by spatial tiles: the losses and the image gradient of a run in bounded memory.

The style loss depends on the image only through each layer's Gram, a sum over positions, and the
content loss is a sum over positions too. So (after Galerne et al., "Scaling Painting Style
Transfer"): pass 1 runs the network tile by tile, each tile with enough context (its halo) that the
features of its interior equal the whole image's, and sums the Grams and the content loss; pass 2
runs each tile again and back-propagates the exact per-position gradient dL/dF, which needs the
global Gram: 2·w·(G − G')/C² · F / (C·H·W) for a style layer. The tiles' interiors partition every
layer, so the sum of the tiles' gradients is the untiled gradient. TV and the anchor (a render's
coarser scale) are taken on the whole image.

Tile origins sit on the deepest layer's pooling grid, so every tile pools as the whole image does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import EigenstyleError
from .layers import CHANNELS
from .objective import FeatureTerm, summed, terms_of


@dataclass(frozen=True)
class Geometry:
    """Where a tile's features are exact: ``scale`` per layer (its pixel stride), the ``halo`` of
    context the deepest layer needs, and ``align``, the stride tile origins must be multiples of."""

    scale: dict
    halo: int
    align: int


def geometry(net) -> Geometry:
    """Receptive radius and stride of every layer of ``net``: each 3×3 convolution widens the
    radius by one stride, each 2×2 pooling by one stride and doubles the stride."""
    radius, stride, scale, halo = 0, 1, {}, 0
    for name in net.names:
        if name.startswith("conv") or name.startswith("pool"):
            radius += stride
        if name.startswith("pool"):
            stride *= 2
        scale[name] = stride
        if name in net.wanted:
            halo = max(halo, radius)
    return Geometry(scale, halo + stride, stride)  # one stride more: the pooling window's own offset


def grid(height: int, width: int, tile: int, align: int) -> list[tuple[int, int, int, int]]:
    """Tiles (y0, y1, x0, x1) covering the image; inner edges on multiples of ``align``."""
    step = max(align, tile // align * align)
    rows = [(y, min(y + step, height)) for y in range(0, height, step)]
    cols = [(x, min(x + step, width)) for x in range(0, width, step)]
    return [(y0, y1, x0, x1) for y0, y1 in rows for x0, x1 in cols]


def _crop(geo: Geometry, y0, y1, x0, x1, height, width):
    """The tile with its halo, origin on the pooling grid, clipped to the image."""
    cy0 = max(0, (y0 - geo.halo) // geo.align * geo.align)
    cx0 = max(0, (x0 - geo.halo) // geo.align * geo.align)
    return cy0, min(height, y1 + geo.halo), cx0, min(width, x1 + geo.halo)


def _interior(f: torch.Tensor, s: int, tile, origin, size) -> torch.Tensor:
    """The part of layer features ``f`` (stride ``s``) whose pixels start at ``origin`` (a crop's,
    or (0, 0, 0, 0) for the whole image's features) that belongs to the tile."""
    (y0, y1, x0, x1), (cy0, _, cx0, _), (height, width) = tile, origin, size
    top, left = y0 // s - cy0 // s, x0 // s - cx0 // s
    bottom = y1 // s - cy0 // s if y1 < height else f.shape[2]
    right = x1 // s - cx0 // s if x1 < width else f.shape[3]
    return f[:, :, top:bottom, left:right]


WHOLE = (0, 0, 0, 0)  # the origin of features of the whole image (the content targets)


def _tiles(net, x: torch.Tensor, tile: int):
    """The geometry and the (tile, crop) pairs of ``x``, and a function giving a crop's interior features."""
    geo, (_, _, height, width) = geometry(net), x.shape
    tiles = [(t, _crop(geo, *t, height, width)) for t in grid(height, width, tile, geo.align)]

    def interiors(feats, t, c, layers):
        return {name: _interior(feats[name], geo.scale[name], t, c, (height, width)) for name in layers}

    return geo, tiles, interiors


@torch.no_grad()
def grams(net, x: torch.Tensor, layers, tile: int) -> dict:
    """Each layer's Gram of ``x`` ([N, C, C], as losses.gram gives it), summed over tiles: a style image
    or swatch at print size in the memory of one tile."""
    _, tiles, interiors = _tiles(net, x, tile)
    sums, positions = {}, dict.fromkeys(layers, 0)
    for t, c in tiles:
        for name, f in interiors(net(x[:, :, c[0] : c[1], c[2] : c[3]]), t, c, layers).items():
            positions[name] += f.shape[2] * f.shape[3]
            flat = f.flatten(2)
            sums[name] = sums.get(name, 0) + torch.bmm(flat, flat.transpose(1, 2))
    return {name: sums[name] / (CHANNELS[name] * positions[name]) for name in layers}


def _pooled(side: int, stride: int) -> int:
    while stride > 1:
        side, stride = side // 2, stride // 2
    return side


@torch.no_grad()
def features(net, x: torch.Tensor, layers, tile: int) -> dict:
    """Each layer's features of the whole ``x``, assembled from the tiles' interiors (the content
    targets at print size: no layer of the whole image is ever alive but the ones asked for)."""
    _, tiles, interiors = _tiles(net, x, tile)
    geo, (n, _, height, width) = geometry(net), x.shape
    out = {}
    for t, c in tiles:
        for name, f in interiors(net(x[:, :, c[0] : c[1], c[2] : c[3]]), t, c, layers).items():
            s = geo.scale[name]
            if name not in out:  # the layer's size, as the whole image's pass gives it (each pool floors)
                out[name] = f.new_zeros((n, f.shape[1], _pooled(height, s), _pooled(width, s)))
            (y0, _, x0, _) = t
            out[name][:, :, y0 // s : y0 // s + f.shape[2], x0 // s : x0 // s + f.shape[3]] = f
    return out


def losses_and_gradient(
    problem, x: torch.Tensor, tile: int, backward: bool = True, on_tile=None
) -> tuple[dict, torch.Tensor]:
    """Per-image losses (as objective.evaluate gives them) and d(total)/dx, computed tile by tile
    (``backward=False``: the losses only, one pass, gradient None). ``on_tile(done, total)`` is told
    after each tile of each pass. Every term of the objective comes from objective.terms_of: a term of the
    features adds up over the tiles as it says (FeatureTerm), a term of the pixels is taken on the whole image."""
    terms, net = terms_of(problem), problem.net
    if problem.opts.normalize_gradients:
        raise EigenstyleError("tiled evaluation does not support normalize_gradients")
    featured = [t for t in terms if t.layers]
    for t in featured:
        if not isinstance(t, FeatureTerm) or not t.tiles:
            raise EigenstyleError(f"the term {t.name!r} cannot be evaluated in tiles; run untiled (a smaller --size)")
    n, _, height, width = x.shape
    size = (height, width)
    geo, tiles, crop_interiors = _tiles(net, x, tile)
    layers = tuple(dict.fromkeys(name for t in featured for name in t.layers))

    def interiors(feats, t, c):
        return crop_interiors(feats, t, c, layers)

    whole = {(term.name, name): term.positions(name, problem) for term in featured for name in term.layers}

    def target(term, name, t):  # the tile's share of what the term reads at each position (a content target)
        w = whole[term.name, name]
        return None if w is None else _interior(w, geo.scale[name], t, WHOLE, size)

    passes = len(tiles) * (2 if backward else 1)
    tell = on_tile or (lambda done, total: None)
    sums, positions = [{} for _ in featured], dict.fromkeys(layers, 0)
    with torch.no_grad():  # pass 1: each term's sums over positions (the global Grams, the content errors)
        for i, (t, c) in enumerate(tiles):
            for name, f in interiors(net(x[:, :, c[0] : c[1], c[2] : c[3]]), t, c).items():
                positions[name] += f.shape[2] * f.shape[3]
                for term, own in zip(featured, sums):
                    if name in term.layers:
                        own[name] = own.get(name, 0) + term.accumulate(name, f, target(term, name, t))
            tell(i + 1, passes)
    numel = {name: CHANNELS[name] * positions[name] for name in layers}
    totals = {term.name: term.total(own, numel, problem) for term, own in zip(featured, sums)}
    if not backward:
        pixels = {t.name: t(x.detach(), {}, problem) for t in terms if not t.layers}
        return summed({t.name: totals[t.name][0] if t.layers else pixels[t.name] for t in terms}), None
    grad = torch.zeros_like(x)
    for i, (t, c) in enumerate(tiles):  # pass 2: each tile's exact share of the gradient
        crop = x[:, :, c[0] : c[1], c[2] : c[3]].detach().requires_grad_(True)
        surrogate = crop.new_zeros(())
        for name, f in interiors(net(crop), t, c).items():
            dfeat = torch.zeros_like(f)
            for term in featured:
                if name in term.layers:
                    dfeat += term.gradient(name, f.detach(), target(term, name, t), totals[term.name][1])
            surrogate = surrogate + (dfeat * f).sum()
        surrogate.backward()
        grad[:, :, c[0] : c[1], c[2] : c[3]] += crop.grad
        tell(len(tiles) + i + 1, passes)
    xt = x.detach().requires_grad_(True)  # the pixels' terms: on the whole image, cheap next to the network
    pixels = {t.name: t(xt, {}, problem) for t in terms if not t.layers}
    held = sum(pixels.values())
    if torch.is_tensor(held) and held.requires_grad:
        held.sum().backward()
        grad += xt.grad
    values = {t.name: totals[t.name][0] if t.layers else pixels[t.name].detach() for t in terms}
    return summed(values), grad
