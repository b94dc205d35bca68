"""The objective: named, weighted terms, summed. What the optimiser minimises, in one place.

A run's objective is its options' terms (:func:`terms_of`): content, style, TV, colour TV and the
anchor, each ``weight · loss`` per image of a batch, plus any :class:`Term` of your own (``stylize(...,
terms=[...])``: docs/extending.md). :func:`evaluate` sums them on the whole image; tiled.py on an image
too large to run whole, from the same terms (a term reading the network's features says how its loss
adds up over tiles: :class:`FeatureTerm`). The losses of a run are reported by the terms' names, in
their order after ``total``: the recipe, the progress lines and the API's callback read them so.
"""

from __future__ import annotations

from typing import Optional

import torch

from .losses import (
    anchor_loss,
    chroma_tv_loss,
    content_loss,
    gram,
    guided_grams,
    normalize_grad,
    style_loss,
    tv_loss,
)


class Term:
    """One term: ``weight · loss`` per image. ``layers``: the network layers it reads (none: a term of the
    pixels alone, taken on the whole image even when the network runs in tiles)."""

    name = "term"
    layers: tuple = ()

    def __init__(self, weight: float):
        self.weight = float(weight)

    def __call__(self, x: torch.Tensor, feats: dict, problem) -> torch.Tensor:
        """The weighted loss, [N], of images ``x`` [N, 3, H, W] (network units) whose features are ``feats``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(weight={self.weight:g})"


class FeatureTerm(Term):
    """A term of the network's features. To run in tiles (tiled.py) it says how its loss is a function of
    sums over positions: pass 1 adds :meth:`accumulate` over the tiles, :meth:`total` makes the loss of the
    sums (and what pass 2 needs), pass 2 back-propagates :meth:`gradient`, dL/dF on each tile. ``target``
    is the tile's share of what the term reads at each position (:meth:`positions`: the content target)."""

    def __init__(self, weight: float, layers, factors=None):
        super().__init__(weight)
        self.layers = tuple(layers)
        # each layer's weight: ``weight`` times its factor (--style-layer-weights; default 1)
        self.per_layer = {name: self.weight * float((factors or {}).get(name, 1.0)) for name in self.layers}

    def positions(self, layer: str, problem) -> Optional[torch.Tensor]:
        """What the term reads at each position of ``layer``, of the whole image ([1 or R, C, h, w]: the content
        target, a region's mask), or None: tiled.py cuts it to each tile and passes it as ``target``."""
        return None

    def accumulate(self, layer: str, f: torch.Tensor, target: Optional[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError(f"the term {self.name!r} cannot be evaluated in tiles")

    def total(self, sums: dict, numel: dict, problem) -> tuple[torch.Tensor, object]:
        raise NotImplementedError

    def gradient(self, layer: str, f: torch.Tensor, target, state) -> torch.Tensor:
        raise NotImplementedError

    def summed(self, x, feats, problem, loss) -> torch.Tensor:
        """``weight · loss(f, layer)`` summed over the term's layers, each layer's features ``f`` with their
        gradient normalised where the run asks (neural-style's -normalize_gradients)."""
        total = x.new_zeros(x.shape[0])
        for name, w in self.per_layer.items():
            f = normalize_grad(feats[name], w) if problem.opts.normalize_gradients else feats[name]
            total = total + w * loss(f, name)
        return total

    @property
    def tiles(self) -> bool:
        """Whether the term can be evaluated in tiles."""
        return type(self).accumulate is not FeatureTerm.accumulate


class Content(FeatureTerm):
    """neural-style's content loss: mean squared feature difference to the content's, per content layer."""

    name = "content"

    def __call__(self, x, feats, problem):
        return self.summed(x, feats, problem, lambda f, name: content_loss(f, problem.targets.content[name]))

    def positions(self, layer, problem):
        return problem.targets.content[layer]

    def accumulate(self, layer, f, target):
        return (f - target).pow(2).flatten(1).sum(1)

    def total(self, sums, numel, problem):
        zero = problem.content_tensor.new_zeros(next(iter(sums.values())).shape[0])
        return sum((self.per_layer[name] * sq / numel[name] for name, sq in sums.items()), zero), numel

    def gradient(self, layer, f, target, numel):
        return 2 * self.per_layer[layer] * (f - target) / numel[layer]


class Style(FeatureTerm):
    """neural-style's style loss: mean squared Gram difference to the style's (or a randomised) Gram."""

    name = "style"

    def __call__(self, x, feats, problem):
        return self.summed(x, feats, problem, lambda f, name: style_loss(gram(f), problem.targets.style[name]))

    def accumulate(self, layer, f, target):
        flat = f.flatten(2)
        return torch.bmm(flat, flat.transpose(1, 2))

    def total(self, sums, numel, problem):
        diffs = {name: s / numel[name] - problem.targets.style[name] for name, s in sums.items()}
        loss = sum(self.per_layer[name] * d.pow(2).flatten(1).mean(1) for name, d in diffs.items())
        # dL/dF = 2·w·(G − G')/C² · 2F/(C·H·W) (G symmetric): the coefficient of F, per layer
        return loss, {
            name: 4 * self.per_layer[name] * d / (d.shape[-1] ** 2 * numel[name]) for name, d in diffs.items()
        }

    def gradient(self, layer, f, target, state):
        coef = state[layer]
        return torch.bmm(coef.expand(f.shape[0], -1, -1), f.flatten(2)).view_as(f)


class Guided(FeatureTerm):
    """The style term of a run with regions (--mask, regions.py): each region's guided Gram pulled to its own
    target, weighed by its own style weights and its share of the picture (a pixel of any region is pushed
    as hard as in a run of that style alone). Named "style", as the term it stands in for. ``regions``: the
    problem's (each a problem of its own, its targets and weights), ``masks``: their masks at each layer."""

    name = "style"

    def __init__(self, regions, masks):
        self.regions, self.masks = regions, masks
        self.weights = [r.problem.opts.layer_weights() for r in regions]  # per region: layer -> weight
        layers = tuple(dict.fromkeys(name for w in self.weights for name in w))
        super().__init__(1.0, layers)
        self.share = {name: masks.layers[name].flatten(1).mean(1) for name in layers}  # layer -> [R]

    def _target(self, r: int, name: str) -> torch.Tensor:
        return self.regions[r].problem.targets.style[name]

    def _loss(self, name: str, g: torch.Tensor) -> torch.Tensor:
        total = g.new_zeros(g.shape[0])
        for r, w in enumerate(self.weights):
            if name in w:
                total = total + w[name] * self.share[name][r] * (g[:, r] - self._target(r, name)).pow(2).flatten(
                    1
                ).mean(1)
        return total

    def __call__(self, x, feats, problem):
        total = x.new_zeros(x.shape[0])
        for name in self.layers:
            support = self.masks.support[name] if self.masks.support else None
            total = total + self._loss(name, guided_grams(feats[name], self.masks.layers[name], support))
        return total

    def positions(self, layer, problem):
        return self.masks.layers[layer]

    def accumulate(self, layer, f, masks):
        flat, w = f.flatten(2), masks.flatten(1).to(f.dtype)
        return torch.stack([torch.bmm(flat * w[r], flat.transpose(1, 2)) for r in range(w.shape[0])], 1)

    def total(self, sums, numel, problem):
        loss, coefs = None, {}
        for name, s in sums.items():
            c = s.shape[-1]
            mass = self.masks.layers[name].flatten(1).sum(1).clamp_min(1e-12)  # [R]
            g = s / (c * mass.view(1, -1, 1, 1))
            part = self._loss(name, g)
            loss = part if loss is None else loss + part
            coef = torch.zeros_like(g)
            for r, w in enumerate(self.weights):
                if name in w:  # dL/dF_p = Σ_r 4·w·share·(G_r − T_r)/C² · m_p F_p/(C·mass_r)
                    d = g[:, r] - self._target(r, name)
                    coef[:, r] = 4 * w[name] * self.share[name][r] * d / (c**2 * c * mass[r])
            coefs[name] = coef
        return loss, coefs

    def gradient(self, layer, f, masks, coefs):
        flat, w, coef = f.flatten(2), masks.flatten(1).to(f.dtype), coefs[layer]
        out = sum(torch.bmm(coef[:, r].expand(f.shape[0], -1, -1), flat * w[r]) for r in range(w.shape[0]))
        return out.view_as(f)


class TV(Term):
    """Total variation of the pixels (neural-style-pt's form): smooths."""

    name = "tv"

    def __call__(self, x, feats, problem):
        return self.weight * tv_loss(x) if self.weight > 0 else x.new_zeros(x.shape[0])


class ChromaTV(Term):
    """Total variation of the colour alone (Cb, Cr): calms coloured speckle, leaves strokes free."""

    name = "chroma_tv"

    def __call__(self, x, feats, problem):
        return self.weight * chroma_tv_loss(x, problem.pre) if self.weight > 0 else x.new_zeros(x.shape[0])


class Anchor(Term):
    """A scale of a coarse-to-fine run held to the coarser image it started from (--anchor-weight)."""

    name = "anchor"

    def __call__(self, x, feats, problem):
        if problem.anchor is None or self.weight <= 0:
            return x.new_zeros(x.shape[0])
        return self.weight * anchor_loss(problem.visible(x), problem.anchor)


BUILT_IN = ("content", "style", "tv", "chroma_tv", "anchor")  # the options' terms' names, in order


def terms_of(problem) -> list:
    """The run's terms: its options' (settled) and then its own (``problem.terms``)."""
    o = problem.opts
    return [
        Content(o.content_weight, o.content_layers),
        style_term(problem),
        TV(o.tv_weight),
        ChromaTV(o.chroma_tv_weight),
        Anchor(o.anchor_weight),
        *problem.terms,
    ]


def style_term(problem) -> FeatureTerm:
    """The style term: neural-style's, each layer at its weight; with regions (--mask), each region's own
    (regions.Guided)."""
    o = problem.opts
    if problem.regions:
        return Guided(problem.regions, problem.masks)
    return Style(
        o.style_weight_value(), o.active_style_layers(), dict(zip(o.style_layers, o.style_layer_weights or ()))
    )


def names(problem) -> tuple:
    """The names its losses are reported by: total, then each term's."""
    return ("total", *(t.name for t in terms_of(problem)))


def described(term: Term) -> dict:
    """A term of the caller's own as its recipe records it (its code is the caller's: reproduce takes it again)."""
    return {"name": term.name, "weight": term.weight, "class": f"{type(term).__module__}.{type(term).__qualname__}"}


def evaluate(problem, x: torch.Tensor) -> dict:
    """Per-image losses (each [N]) at ``x``, by name; 'total' is what is minimised."""
    terms = terms_of(problem)
    feats = problem.net(x) if any(t.layers for t in terms) else {}
    return summed({t.name: t(x, feats, problem) for t in terms})


def summed(values: dict) -> dict:
    """``values`` by name, with their sum first as 'total'."""
    return {"total": sum(values.values()), **values}
