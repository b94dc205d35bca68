"""Randomisation modes: how a style layer's Gram G = V diag(e) Vᵀ becomes a new style's G'.

A mode is one :class:`Mode`, declared once and registered by name, in a module of its own: this
package holds the built-in ones (``variant.py``, ``fantasy.py``, ``random.py``, ``eigenvalues.py``),
and every module dropped in it is registered when eigenstyle starts (``registry.py`` holds ``Mode``,
``register`` and the rest, re-exported here). Everything else reads the
registry: ``--mode``'s choices, ``sweep --modes``, the studio's Mode menu, recipes, reproduce, style
files and the docs' mode table. A mode from your own code: ``register(Mode(...))`` before the run; for
the command line and the studio, name its file in ``$EIGENSTYLE_MODES`` (:func:`load`).
docs/extending.md walks through writing one.

A mode gives two functions (they see tensors only, so a mode module needs no import of torch):

* ``draw(rng, c, r)``: the mode's random C×C matrix R, float64, from ``rng`` (:class:`Draws`, keyed by
  the seed and layer, so the same genome gives the same R on every device). Mutations and in-betweens
  of a favourite act on R (randomize.genome_matrix), so every mode breeds.
* ``rebuild(g, v, e, rand, r)``: G' from the layer's Gram ``g`` (C×C), its eigenvectors ``v`` (columns)
  and eigenvalues ``e`` (float64, eigh's ascending order) and the drawn ``rand``. ``r`` is the run's
  :class:`~eigenstyle.randomize.Randomization` (spread, fantasy draw, symmetric, ...).

G' is then scaled to G's norm and blended by ``strength`` (randomize.randomize_gram), for every mode.
The mode's defaults settle the ``auto`` options of its runs (Options.settled).
"""

from __future__ import annotations

import importlib
import pkgutil

from .registry import (
    NAMES,
    RAW_CHROMA_TV,
    RAW_STYLE_SHARE,
    Draws,
    Mode,
    get,
    load,
    register,
    table,
    unregister,
)

__all__ = [
    "NAMES",
    "RAW_CHROMA_TV",
    "RAW_STYLE_SHARE",
    "Draws",
    "Mode",
    "get",
    "load",
    "register",
    "table",
    "unregister",
]

# the article's three first, in its order; then any other module of this package, by name (the registry, which
# each imports Mode and register from, is not a mode)
_OTHERS = sorted(
    m.name for m in pkgutil.iter_modules(__path__) if m.name not in ("registry", "variant", "fantasy", "random")
)
for _name in ("variant", "fantasy", "random", *_OTHERS):
    importlib.import_module(f"{__name__}.{_name}")
