"""One option's value: read from text and checked, by its kind, in one place.

Every field of :class:`eigenstyle.options.Options` names its kind (int, float, layers, ...)
and bounds; this module is the only code that turns text (a command line, a web form) into a
value and checks a value. So the CLI, the studio, recipes and the Python API accept and refuse
exactly the same things, with the same one-line messages.

Messages name an option as the caller knows it: ``size`` from Python and the studio,
``--size`` on the command line (the CLI runs inside :func:`cli_spelling`). :func:`opt` declares a
field with its kind, bounds and CLI metadata, and :func:`complete_kinds` settles each field's kind.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import os
import types
import typing
from dataclasses import field
from typing import Any, Optional

from .errors import EigenstyleError

KINDS = ("int", "float", "bool", "text", "choice", "layers", "ints", "floats", "seed", "mapping")
# What an option is used for beyond its own run, declared with it (opt's ``uses``; options.names lists them):
USES = {
    "prepare": "problem.prepare reads it (the network, content features, the style's Grams): runs that agree on "
    "these share one preparation",
    "style": "it makes a randomised style: Randomization and the swatch read it, style files record it",
    "batch": "it may differ between the images of one batch (their Gram targets alone differ)",
    "studio": "the studio's page sets it",
}
_SPELLING = contextvars.ContextVar("eigenstyle_option_spelling", default="python")


@contextlib.contextmanager
def cli_spelling():
    """Within this block, messages name options as command-line flags (``--style-weight``)."""
    token = _SPELLING.set("cli")
    try:
        yield
    finally:
        _SPELLING.reset(token)


def option_name(name: str, python: str | None = None) -> str:
    """``style_weight`` as the caller spells it: ``--style-weight`` in the CLI, else as is (or as
    ``python`` where the Python parameter has another name than the flag)."""
    return "--" + name.replace("_", "-") if _SPELLING.get() == "cli" else python or name


def split(text: str) -> list[str]:
    """Comma-separated text into its non-empty, stripped parts."""
    return [p.strip() for p in text.split(",") if p.strip()]


def _number(kind: type, text: str):
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"expected {'an integer' if kind is int else 'a number'}, got {text!r}") from None


def parse(kind: str, text: str) -> Any:
    """A value of ``kind`` from text; ValueError with a short reason ("expected an integer, got 'x'")."""
    if kind == "int":
        return _number(int, text)
    if kind == "float":
        return _number(float, text)
    if kind == "seed":  # an integer, or 'random'; neural-style's -1 also means random
        if text.strip().lower() in ("random", "none"):
            return None
        value = _number(int, text)
        return None if value < 0 else value
    if kind == "bool":
        t = text.strip().lower()
        if t in ("1", "true", "yes", "on"):
            return True
        if t in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if kind == "layers":
        return tuple(split(text))
    if kind == "ints":
        return tuple(_number(int, p) for p in split(text))
    if kind == "floats":
        try:
            return tuple(float(p) for p in split(text))
        except ValueError:
            raise ValueError(f"expected comma-separated numbers, got {text!r}") from None
    if kind == "texts":  # a repeated option: one value each time
        return (text,)
    if kind == "mapping":
        raise ValueError("cannot be given as text")
    return text  # text, choice


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check(name: str, value: Any, meta: dict) -> None:
    """Raise :class:`EigenstyleError` unless ``value`` is a valid value of the field ``name``.

    ``meta`` is the field's metadata: kind, choices, low (inclusive minimum), strict (minimum
    excluded), high (inclusive maximum), optional (None allowed)."""
    flag, kind = option_name(name), meta["kind"]
    if value is None:
        if meta["optional"]:
            return
        raise EigenstyleError(f"{flag} must be given, got None")
    if kind in ("layers", "ints", "floats", "texts"):
        if not isinstance(value, (tuple, list)):
            raise EigenstyleError(f"{flag} must be a list, got {value!r}")
        items = list(value)
    else:
        items = [value]
    low, high, strict = meta.get("low"), meta.get("high"), meta.get("strict", False)
    for v in items:
        _check_one(flag, kind, v, meta, low, high, strict)


def _check_one(flag, kind, v, meta, low, high, strict) -> None:
    if kind in ("int", "ints"):
        if meta.get("choices") and v not in meta["choices"]:
            raise EigenstyleError(f"{flag} must be one of {', '.join(map(str, meta['choices']))}, got {v!r}")
        if not _is_int(v) or (low is not None and v < low):
            raise EigenstyleError(f"{flag} must be an integer >= {low if low is not None else 0}, got {v!r}")
        if high is not None and v > high:
            raise EigenstyleError(f"{flag} must be at most {high}, got {v!r}")
    elif kind in ("float", "floats"):
        if not _is_number(v):
            what = "finite numbers" if kind == "floats" else "a finite number"
            raise EigenstyleError(f"{flag} must be {what}, got {v!r}")
        if high is not None and not low <= v <= high:
            raise EigenstyleError(f"{flag} must be in [{low:g}, {high:g}], got {v!r}")
        if low is not None and (v < low or (strict and v == low)):
            raise EigenstyleError(f"{flag} must be {'>' if strict else '>='} {low:g}, got {v!r}")
    elif kind == "seed":
        if not _is_int(v) or not 0 <= v < 2**63:
            raise EigenstyleError(f"{flag} must be an integer in [0, 2^63), got {v!r}")
    elif kind == "bool":
        if not isinstance(v, bool):
            raise EigenstyleError(f"{flag} must be true or false, got {v!r}")
    elif kind == "choice":
        if v not in meta["choices"]:
            raise EigenstyleError(f"{flag} must be one of {', '.join(meta['choices'])}, got {v!r}")
    elif kind in ("text", "texts", "layers"):
        if not isinstance(v, (str, os.PathLike)) or v == "":
            raise EigenstyleError(
                f"{flag} must be {'layer names' if kind == 'layers' else 'a non-empty text'}, got {v!r}"
            )
    elif kind == "mapping":
        if not isinstance(v, dict):
            raise EigenstyleError(f"{flag} must be a mapping, got {v!r}")


def opt(
    default: Any,
    help: str,
    *,
    group: str,
    uses: tuple[str, ...] = (),
    kind: Optional[str] = None,
    low=None,
    high=None,
    strict: bool = False,
    alias: tuple[str, ...] = (),
    choices: tuple = (),
    metavar: Optional[str] = None,
    differs: str = "",
    cli: bool = True,
):
    """A field with how it is read and checked and its CLI metadata. ``kind`` (values.KINDS; default
    from the field's type) with ``low``/``high`` (inclusive bounds; ``strict``: low excluded) is all
    the checking a field needs on its own; ``differs`` says where and why the default departs from
    neural-style's; ``cli=False`` keeps a field off the command line. ``group`` is its place in the docs and
    ``--help``; ``uses`` (:data:`USES`) the lists of options it belongs to."""
    unknown = set(uses) - set(USES)
    if unknown:
        raise ValueError(f"unknown use(s) {sorted(unknown)}: one of {', '.join(USES)}")
    meta = {
        "group": group,
        "uses": tuple(uses),
        "help": help,
        "kind": kind,
        "low": low,
        "high": high,
        "strict": strict,
        "alias": alias,
        "choices": choices,
        "metavar": metavar,
        "differs": differs,
        "cli": cli,
    }
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


def complete_kinds(cls) -> dict:
    """Every field with its kind settled (from its type where not given) and whether None is allowed."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        optional = typing.get_origin(hint) is typing.Union and type(None) in typing.get_args(hint)
        base = next(a for a in typing.get_args(hint) if a is not type(None)) if optional else hint
        kind = (
            f.metadata["kind"]
            or {
                int: "int",
                float: "float",
                bool: "bool",
                dict: "mapping",
                str: "choice" if f.metadata["choices"] else "text",
            }[base]
        )
        f.metadata = types.MappingProxyType({**f.metadata, "kind": kind, "optional": optional})
    return {f.name: f for f in dataclasses.fields(cls)}
