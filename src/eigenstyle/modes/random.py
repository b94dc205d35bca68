"""random: the Gram replaced by a random matrix, U[0,1) and not symmetric as the article's first
experiment, or with --symmetric a random symmetric PSD R Rᵀ / C. Nothing of the style is left but its
norm: colour fields and whatever a ReLU network can make of them."""

from .registry import Mode, register


def draw(rng, c, r):
    return rng.uniform(c)


def rebuild(g, v, e, rand, r):
    return rand @ rand.T / rand.shape[0] if r.symmetric else rand.clone()


register(
    Mode(
        "random",
        "a random Gram (--symmetric: a random PSD one): colour fields",
        draw,
        rebuild,
        target="raw",
        levels="auto",
        swatch_chroma_blur=2.0,
        options=("symmetric",),
    )
)
