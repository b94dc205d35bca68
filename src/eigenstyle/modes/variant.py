"""variant: the article's variants. Every element of the eigenvectors V times a random factor in
[lo, hi] (--spread, 0.1-1.9): the same eigen-energies on bent directions, "reasonable and not too
far-out modifications of the same style".

Only the layers of VGG's first three blocks are bent by default (colours, textures, small strokes); the deeper
ones keep the painting's own Grams, which hold its big strokes and forms: bent, or taken from a small swatch,
they turn into a uniform texture (docs/quality.md, "Big strokes"). With a single style layer (the article's
relu3_x) there is no deeper layer to keep them: its largest eigenvector, which carries them, stays unbent
(--keep-top auto)."""

from .registry import Mode, register


def draw(rng, c, r):
    lo, hi = r.spread
    return lo + (hi - lo) * rng.uniform(c)


def rebuild(g, v, e, m, r):
    if r.keep_top:  # eigh sorts ascending: the last columns hold the largest eigenvalues, left unbent
        m = m.clone()
        m[:, -r.keep_top :] = 1.0
    bent = v * m
    return (bent * e) @ bent.T


register(
    Mode(
        "variant",
        "eigenvectors times U[spread]: the same style, re-coloured and re-stroked",
        draw,
        rebuild,
        options=("spread", "keep_top", "palette_turn"),
        random_blocks=3,
        keep_top_single=1,
        palette_turn_single=15.0,
    )
)
