"""New styles from one style: randomised Gram targets.

The method of *Randomizing neural style transfer*, per style layer, on the Gram
target G = V diag(e) Vᵀ (eigh in float64):

What each mode draws and how it rebuilds G' is its own declaration in :mod:`eigenstyle.modes`
(``variant``: V ⊙ M, M ~ U[lo, hi]; ``fantasy``: random V; ``random``: a random G; ...); this module
is what every mode shares.

Every mode's random matrix R (M, V' or the random G) comes from a *genome*: a seed,
or a mutation of a parent genome (R ⊙ U[1-a, 1+a]), or a blend of two
(1-t)·R_A + t·R_B. Draws happen on the CPU in float64 from a generator derived
from (seed, layer), so a genome gives the same G' on every device.

G' is then scaled to G's Frobenius norm (default): the style loss from a blank
image is style_weight·‖G'‖²/C², so matching ‖G‖ keeps a style weight meaning
the same pull in every mode. Finally ``strength`` t blends (1-t)·G + t·G'.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

import torch
from torch.utils.weak import WeakIdKeyDictionary

from . import modes
from .errors import EigenstyleError
from .modes import Draws
from .options import names

# The options that make a randomised style (declared with the options: uses "style"): Randomization.of reads
# what draws G', the style file (stylefile.save_style) records them all, with how its swatch was made.
STYLE_OPTIONS = names("style")


@dataclass(frozen=True)
class Randomization:
    mode: str = "none"
    spread: tuple = (0.1, 1.9)
    fantasy: str = "uniform"
    symmetric: bool = False
    strength: float = 1.0
    scale: str = "frobenius"
    genome: dict = field(default_factory=lambda: {"seed": 0})
    keep_top: int = 0

    def eigenvalues_only(self) -> "Randomization":
        """The same genome, spread and strength on the eigenvalues alone (--eigenvalue-layers): the
        eigenvalues mode, its draws its own stream."""
        return dataclasses.replace(self, mode="eigenvalues", keep_top=0)

    @classmethod
    def of(cls, opts) -> "Randomization":
        """The randomisation an Options asks for (its genome, else its variant seed)."""
        return cls(
            opts.mode,
            tuple(opts.spread),
            opts.fantasy,
            opts.symmetric,
            opts.strength,
            opts.gram_scale,
            opts.genome or {"seed": opts.variant_seed},
            opts.keep_top_value(),
        )


def derived_generator(seed: int, layer: str, tag: str) -> torch.Generator:
    """A CPU generator keyed by (seed, layer, tag): independent streams per layer."""
    digest = hashlib.sha256(f"{seed}/{layer}/{tag}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def draw(r: Randomization, layer: str, c: int, seed: int) -> torch.Tensor:
    """The mode's base random matrix (C×C, float64) for one seed and layer."""
    return modes.get(r.mode).draw(Draws(derived_generator(seed, layer, r.mode), torch.float64), c, r)


def genome_matrix(r: Randomization, genome: dict, layer: str, c: int) -> torch.Tensor:
    """Evaluate a genome: {'seed'}, {'mutate', 'seed', 'amount'} or {'between': [A, B], 't'}."""
    if not isinstance(genome, dict):
        raise EigenstyleError(f"malformed variant genome: {genome!r}")
    if "between" in genome:
        a, b = genome["between"]
        t = float(genome["t"])
        return (1.0 - t) * genome_matrix(r, a, layer, c) + t * genome_matrix(r, b, layer, c)
    if "mutate" in genome:
        amount = float(genome["amount"])
        g = derived_generator(int(genome["seed"]), layer, "mutate")
        jitter = 1.0 - amount + 2.0 * amount * torch.rand((c, c), generator=g, dtype=torch.float64)
        return genome_matrix(r, genome["mutate"], layer, c) * jitter
    if "seed" in genome:
        return draw(r, layer, c, int(genome["seed"]))
    raise EigenstyleError(f"malformed variant genome: {genome!r}")


def genome_turn(genome: dict) -> float:
    """A genome's palette turn, a share of ``--palette-turn`` in [-1, 1]. From a seed: the golden-ratio sequence
    (seed x 0.618... mod 1, exact in 64-bit integers, to [-1, 1]), so a brood's consecutive seeds spread over the
    range instead of clumping by chance (seeds 1, 2, 3: +0.24, -0.53, +0.71). A mutation's is its parent's plus
    U[-a, a] (kept within [-1, 1]); an in-between's, the blend of its parents'. So a child keeps near its
    parent's palette and a morph turns smoothly from one to the other.

    >>> g = {"seed": 4}
    >>> genome_turn({"between": [g, g], "t": 0.3}) == genome_turn(g) and -1 <= genome_turn(g) <= 1
    True
    """
    if not isinstance(genome, dict):
        raise EigenstyleError(f"malformed variant genome: {genome!r}")
    if "between" in genome:
        a, b = genome["between"]
        t = float(genome["t"])
        return (1.0 - t) * genome_turn(a) + t * genome_turn(b)
    if "mutate" in genome:
        u = torch.rand((), generator=derived_generator(int(genome["seed"]), "palette", "mutate"), dtype=torch.float64)
        return min(1.0, max(-1.0, genome_turn(genome["mutate"]) + float(genome["amount"]) * (2.0 * float(u) - 1.0)))
    if "seed" in genome:
        return 2.0 * ((int(genome["seed"]) * GOLDEN) % 2**64) / 2**64 - 1.0
    raise EigenstyleError(f"malformed variant genome: {genome!r}")


GOLDEN = 0x9E3779B97F4A7C15  # 2^64 / the golden ratio: a Weyl sequence that spreads consecutive seeds evenly


def palette_turn(opts) -> float:
    """The turn of a randomised style's swatch colours, degrees (swatch.turn_hue): ``--palette-turn`` times the
    genome's share (:func:`genome_turn`) times ``--strength``; 0 for a plain run."""
    degrees = opts.palette_turn_value() if opts.mode != "none" else 0.0
    if not degrees:
        return 0.0
    return degrees * genome_turn(opts.genome or {"seed": opts.variant_seed}) * float(opts.strength)


def decompose(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """eigh in float64, symmetrised; negative round-off eigenvalues clamped to 0;
    a failed eigh retried with growing diagonal jitter."""
    g = g.detach().to("cpu", torch.float64)
    g = 0.5 * (g + g.T)
    report = {"clamped_eigenvalues": 0, "jitter": 0.0}
    scale = float(g.diagonal().abs().mean()) or 1.0
    for jitter in (0.0, 1e-12, 1e-9, 1e-6):
        try:
            e, v = torch.linalg.eigh(g + jitter * scale * torch.eye(g.shape[0], dtype=g.dtype))
            if torch.isfinite(e).all() and torch.isfinite(v).all():
                report["jitter"] = jitter
                report["clamped_eigenvalues"] = int((e < 0).sum())
                return v, e.clamp_min(0.0), report
        except RuntimeError:  # torch.linalg.LinAlgError is a RuntimeError
            pass
    raise EigenstyleError("could not eigen-decompose a style Gram matrix, even with jitter")


def rebuild(r: Randomization, g: torch.Tensor, v: torch.Tensor, e: torch.Tensor, rand: torch.Tensor) -> torch.Tensor:
    """G' from the decomposition and the genome's random matrix, as the mode rebuilds it."""
    mode = modes.get(r.mode)
    return mode.rebuild(g, v, e, rand, r) if mode.randomises else g.clone()


def scale_like(gp: torch.Tensor, g: torch.Tensor, how: str) -> torch.Tensor:
    if how == "frobenius":
        ref, own = torch.linalg.matrix_norm(g), torch.linalg.matrix_norm(gp)
    elif how == "trace":
        ref, own = g.trace(), gp.trace()
    else:
        return gp
    return gp * (ref / own) if float(own) > 0 else gp


def randomize_gram(g: torch.Tensor, layer: str, r: Randomization, decomposition=None) -> tuple[torch.Tensor, dict]:
    """One layer's randomised target (float64, CPU) and a report of what happened
    (``decomposition``: g's :func:`decompose`, when made before)."""
    g64 = g.detach().to("cpu", torch.float64)
    if not modes.get(r.mode).randomises:
        return g64.clone(), {}
    c = g64.shape[0]
    v, e, report = decomposition or decompose(g64)
    gp = scale_like(rebuild(r, g64, v, e, genome_matrix(r, r.genome, layer, c)), g64, r.scale)
    out = (1.0 - r.strength) * g64 + r.strength * gp
    # A Gram of post-ReLU features has no negative entries: their share says how
    # far out of reach the target is (and predicts bleak, grey results).
    report["negative_fraction"] = round(float((out < 0).double().mean()), 4)
    return out, report


_DECOMPOSED = WeakIdKeyDictionary()  # by identity: a tensor's == is elementwise


def decomposed(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """:func:`decompose` of a base Gram, once per tensor (its version checked): a batch of variants
    shares one style, and its eigh took a quarter of the first preview's preparation."""
    seen = _DECOMPOSED.get(g)
    if seen is None or seen[0] != g._version:
        seen = _DECOMPOSED[g] = (g._version, *decompose(g[0] if g.dim() == 3 else g))
    return seen[1], seen[2], dict(seen[3])


def randomize_targets(style: dict, layers, r: Randomization) -> tuple[dict, dict]:
    """Randomise the [1, C, C] Grams of ``layers`` in a target dict; others pass through."""
    out, reports = dict(style), {}
    for name in layers:
        g = style[name]
        if g.shape[0] != 1:
            raise EigenstyleError("randomisation expects one base Gram per layer")
        gr, reports[name] = randomize_gram(g[0], name, r, decomposed(g))
        out[name] = gr.to(g.device, g.dtype).unsqueeze(0)
    return out, reports
