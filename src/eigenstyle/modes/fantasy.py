"""fantasy: the eigenvectors V replaced by random values, the eigenvalues kept. Drastic, dream-like.

Its target is the raw G' (its swatches came out as grey gratings: docs/quality.md), levelled, and its
swatch's colour blurred against a coloured checker."""

from .registry import Mode, register


def draw(rng, c, r):
    u = rng.uniform(c)  # drawn first whatever the kind: a genome's matrix stays what it was
    if r.fantasy == "normal":
        return rng.normal(c)
    return 2.0 * u - 1.0 if r.fantasy == "signed-uniform" else u


def rebuild(g, v, e, vr, r):
    return (vr * e) @ vr.T


register(
    Mode(
        "fantasy",
        "random eigenvectors (--fantasy draws them): drastic, dream-like",
        draw,
        rebuild,
        target="raw",
        levels="auto",
        swatch_chroma_blur=2.0,
        options=("fantasy",),
    )
)
