"""The registry of randomisation modes: :class:`Mode` (a mode's declaration), :class:`Draws` (its random
numbers), and the functions that add, find, list and load modes. A mode's module imports ``Mode`` and
``register`` from here; the package (``eigenstyle.modes``) registers every module it holds and re-exports
this module's names, so users write ``from eigenstyle.modes import Mode, register``."""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from typing import Callable, Optional

from ..errors import EigenstyleError

# What a raw target (the randomised Gram itself, out of a network's reach) needs, measured on relu3_2 and the
# five default layers (docs/quality.md, "Fantasy from the raw target"): a share of the balanced style weight
# (one style layer, several), lest its unreachable residual swamp the content, and colour-only TV against
# the coloured speckle it leaves.
RAW_STYLE_SHARE = (0.3, 0.6)
RAW_CHROMA_TV = 0.05


@dataclass(frozen=True)
class Mode:
    """One way to randomise a style's Grams, with the defaults its runs take (``auto`` options)."""

    name: str
    help: str  # one line, for --help, the studio and the docs' mode table
    draw: Optional[Callable] = None  # (rng: Draws, c, r) -> R, C×C float64; None: the plain style, no randomising
    rebuild: Optional[Callable] = None  # (g, v, e, rand, r) -> G', C×C float64
    target: str = "reachable"  # --target auto: optimise against its swatch's Grams (reachable) or G' itself (raw)
    levels: str = "none"  # --levels auto: "auto" stretches each channel (the far-out modes come out grey)
    swatch_chroma_blur: float = 0.0  # --swatch-chroma-blur auto: sigma that calms a swatch's coloured checker
    raw_style_share: tuple = RAW_STYLE_SHARE  # --style-weight auto with the raw target: x the balanced weight
    raw_chroma_tv: float = RAW_CHROMA_TV  # --chroma-tv-weight auto with the raw target
    random_blocks: Optional[int] = None  # --random-layers auto: the style layers of VGG blocks 1..n (None: all)
    keep_top_single: int = 0  # --keep-top auto with one style layer: its largest eigenvectors left as they are
    palette_turn_single: float = 0.0  # --palette-turn auto with one style layer: its swatch's hue turn, degrees
    options: tuple = ()  # the Options fields its functions read (docs, the studio)

    @property
    def randomises(self) -> bool:
        return self.rebuild is not None


class Draws:
    """A mode's random numbers for one (seed, layer): C×C float64 matrices from one torch generator,
    in the order asked (the order is part of what a genome means)."""

    def __init__(self, generator, dtype):
        self.generator, self.dtype = generator, dtype

    def uniform(self, c: int):
        """U[0, 1) elementwise, as the article's torch.rand."""
        import torch

        return torch.rand((c, c), generator=self.generator, dtype=self.dtype)

    def normal(self, c: int):
        """N(0, 1) elementwise."""
        import torch

        return torch.randn((c, c), generator=self.generator, dtype=self.dtype)


_REGISTRY: dict[str, Mode] = {}


def register(mode: Mode) -> Mode:
    """Add ``mode`` (or replace one of the same name); returns it, so a module may keep it."""
    if not mode.name or not mode.name.replace("-", "").replace("_", "").isalnum():
        raise EigenstyleError(f"a mode's name is letters, digits, - and _, got {mode.name!r}")
    if (mode.draw is None) != (mode.rebuild is None):
        raise EigenstyleError(f"mode {mode.name}: give both draw and rebuild, or neither (the plain style)")
    if mode.target not in ("reachable", "raw"):
        raise EigenstyleError(f"mode {mode.name}: target must be reachable or raw, got {mode.target!r}")
    _REGISTRY[mode.name] = mode
    return mode


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def get(name: str) -> Mode:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise EigenstyleError(f"unknown mode {name!r}: one of {', '.join(NAMES)}") from None


def load(spec: str) -> None:
    """Register the modes of ``spec``: comma-separated module names or ``.py`` files (the command line
    and the studio read $EIGENSTYLE_MODES this way: a mode of your own, in a file of your own)."""
    for item in filter(None, (s.strip() for s in spec.split(","))):
        try:
            if item.endswith(".py"):
                found = importlib.util.spec_from_file_location(f"eigenstyle_user_mode_{len(_REGISTRY)}", item)
                if found is None or not os.path.isfile(item):
                    raise FileNotFoundError(item)
                found.loader.exec_module(importlib.util.module_from_spec(found))
            else:
                importlib.import_module(item)
        except EigenstyleError:
            raise
        except Exception as e:  # a user's file: any error is theirs, said in one line
            raise EigenstyleError(f"EIGENSTYLE_MODES: cannot load {item}: {type(e).__name__}: {e}") from None


class _Names:
    """The registered modes' names, live (a mode registered later is a choice at once): what ``--mode``,
    ``sweep --modes`` and the studio offer. Behaves as a read-only sequence of names."""

    def __iter__(self):
        return iter(list(_REGISTRY))

    def __contains__(self, name) -> bool:
        return name in _REGISTRY

    def __len__(self) -> int:
        return len(_REGISTRY)

    def __getitem__(self, i):
        return list(_REGISTRY)[i]

    def __repr__(self) -> str:
        return repr(tuple(self))


NAMES = _Names()


def table() -> str:
    """The registered modes as a markdown table (docs/options.md)."""
    rows = ["| mode | what it does | target | levels | reads |", "|---|---|---|---|---|"]
    for m in _REGISTRY.values():
        reads = ", ".join(f"`--{o.replace('_', '-')}`" for o in m.options) or "–"
        target = m.target if m.randomises else "–"
        rows.append(f"| `{m.name}` | {m.help} | {target} | {m.levels} | {reads} |")
    return "\n".join(rows) + "\n"


register(Mode("none", "plain neural style: the style's own Grams"))
