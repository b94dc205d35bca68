"""eigenvalues: the variant turned round. The eigenvectors V are kept and every eigenvalue is scaled
by a random factor in [lo, hi] (--spread): the style's own feature combinations, each with another
energy. G' = V diag(e ⊙ m) Vᵀ stays a Gram a network can reach."""

from .registry import Mode, register


def draw(rng, c, r):
    lo, hi = r.spread
    return lo + (hi - lo) * rng.uniform(c)  # C×C, as every mode's (genomes breed it); its diagonal is used


def rebuild(g, v, e, m, r):
    return (v * (e * m.diagonal())) @ v.T


register(
    Mode(
        "eigenvalues",
        "eigenvalues times U[spread], eigenvectors kept: the style's strokes, re-weighted",
        draw,
        rebuild,
        options=("spread",),
    )
)
