"""eigenstyle: neural style transfer for exploring styles.

The public API::

    import eigenstyle
    result = eigenstyle.stylize("content.jpg", "style.jpg", size=256, iterations=200)
    result.image          # a PIL image
    result.save("out.png")  # atomic write, recipe embedded

Heavy imports (torch) happen on first use, so ``import eigenstyle`` and
``eigenstyle --help`` stay fast.
"""

from ._version import __version__
from .errors import EigenstyleError
from .options import Options

__all__ = ["__version__", "EigenstyleError", "Options", "stylize", "Result", "reproduce", "render", "read_recipe"]


def __getattr__(name):
    if name == "stylize":
        from .engine import stylize

        return stylize
    if name == "reproduce":
        from .printing import reproduce

        return reproduce
    if name == "Result":
        from .results import Result

        return Result
    if name == "render":
        from .printing import render

        return render
    if name == "read_recipe":
        from . import recipe

        return recipe.read_recipe
    raise AttributeError(f"module 'eigenstyle' has no attribute {name!r}")
