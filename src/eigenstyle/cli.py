"""The command line: a thin layer over the Python API.

Every stylisation option comes from :class:`eigenstyle.options.Options` (its
default, help and neural-style alias), so ``-style_layers relu3_2`` and
``--style-layers relu3_2`` are the same thing. Errors the user can fix print one
line and exit 2; Ctrl-C or SIGTERM during a run saves the current image.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import typing

from ._version import __version__
from .errors import EigenstyleError
from .options import FIELDS, Options

EXIT_ERROR, EXIT_INTERRUPTED = 2, 130
IGNORED_NEURAL_STYLE = ("-backend", "-cudnn_autotune", "-multidevice_strategy", "-disable_check")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2), like every other error."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _split(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def _floats(text: str) -> tuple:
    try:
        return tuple(float(p) for p in _split(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _number(kind):
    def parse(text: str):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
    parse.__name__ = kind.__name__
    return parse


def _seed(text: str):
    """An integer, or 'random'; neural-style's -1 also means random."""
    if text.strip().lower() in ("random", "none"):
        return None
    value = _number(int)(text)
    return None if value < 0 else value


def _gpu(text: str) -> str:
    """neural-style's -gpu: an index, or 'c' / -1 for the CPU."""
    t = text.strip().lower()
    if t in ("c", "cpu", "-1"):
        return "cpu"
    return f"cuda:{t}" if t.isdigit() else t


def _add_option(group, name: str, f) -> None:
    meta = f.metadata
    flag = "--" + name.replace("_", "-")
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    shown = ",".join(default) if isinstance(default, tuple) else default
    help_text = f"{meta['help']} (default: {shown})"
    kind = typing.get_type_hints(Options)[name]
    kw = dict(dest=name, default=argparse.SUPPRESS, help=help_text)
    if kind is bool:
        group.add_argument(flag, action="store_true", **kw)
        for alias in meta["alias"]:
            if alias == "-original_colors":   # neural-style takes 0|1 here
                group.add_argument(alias, type=lambda v: v.strip() not in ("0", "false"), dest=name,
                                   default=argparse.SUPPRESS, help=argparse.SUPPRESS)
            else:
                group.add_argument(alias, action="store_true", dest=name, default=argparse.SUPPRESS,
                                   help=argparse.SUPPRESS)
        return
    if name in ("content_layers", "style_layers"):
        conv = lambda v: tuple(_split(v))  # noqa: E731
    elif name == "style_blend_weights":
        conv = _floats
    elif name == "seed":
        conv = _seed
    elif kind in (int, float):
        conv = _number(kind)
    else:
        conv = str
    kw.update(type=conv, metavar=meta["metavar"] or name.upper().replace("_", "-"))
    if meta["choices"]:
        kw["choices"] = meta["choices"]
        kw.pop("metavar")
    group.add_argument(flag, **kw)
    for alias in meta["alias"]:
        group.add_argument(alias, **{**kw, "help": argparse.SUPPRESS,
                                     "type": _gpu if alias == "-gpu" else conv})


def add_style_options(parser) -> None:
    group = parser.add_argument_group("style-transfer options (neural-style's -spellings also work)")
    for name, f in FIELDS.items():
        _add_option(group, name, f)
    for alias in IGNORED_NEURAL_STYLE:
        group.add_argument(alias, nargs="?", dest="ignored_" + alias.lstrip("-"), help=argparse.SUPPRESS)


def options_from(args) -> Options:
    values = {name: getattr(args, name) for name in FIELDS if hasattr(args, name)}
    if getattr(args, "init_image", None):
        values["init"] = args.init_image
    for alias in IGNORED_NEURAL_STYLE:
        if getattr(args, "ignored_" + alias.lstrip("-"), None) is not None:
            print(f"eigenstyle: note: {alias} has no meaning here and is ignored", file=sys.stderr)
    return Options().replace(**values)


def pick_output(path: str, overwrite: bool) -> str:
    from .images import check_writable, free_name
    check_writable(path)
    if overwrite or not os.path.exists(path):
        return path
    chosen = free_name(path)
    print(f"eigenstyle: {path} exists; writing {chosen} instead (--overwrite replaces it)", file=sys.stderr)
    return chosen


def report(result, output: str) -> int:
    done = result.recipe["iterations_done"]
    if result.error:
        print(f"eigenstyle: {result.error}; saved {output}", file=sys.stderr)
        return 1
    if result.interrupted:
        print(f"eigenstyle: interrupted at iteration {done}; saved the current image to {output}", file=sys.stderr)
        return EXIT_INTERRUPTED
    loss = result.recipe["losses"]
    print(f"wrote {output} ({done} iterations, loss {loss['total']:.4g}, {result.recipe['elapsed_s']:.1f} s)")
    return 0


def cmd_stylize(args) -> int:
    from .engine import stylize
    images_ = list(args.images)
    content = args.content_image or (images_.pop(0) if images_ else None)
    styles = images_ + (_split(args.style_image) if args.style_image else [])
    if not content or not styles:
        raise EigenstyleError("give a content image and at least one style image: eigenstyle stylize CONTENT STYLE")
    opts = options_from(args).validate()
    output = pick_output(args.output, args.overwrite)
    result = stylize(content, styles, opts, progress=not args.quiet, output=output)
    return report(result, output)


def cmd_reproduce(args) -> int:
    from .recipe import reproduce
    stem, ext = os.path.splitext(args.image)
    output = pick_output(args.output or f"{stem}.reproduced{ext}", args.overwrite)
    result = reproduce(args.image, output, content=args.content, styles=args.style or None,
                       progress=not args.quiet, allow_changed_inputs=args.allow_changed_inputs)
    return report(result, output)


def cmd_list_layers(args) -> int:
    from .network import LAYERS
    print("layer     channels")
    for name, channels, _ in LAYERS:
        print(f"{name:<9} {channels}")
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo
    run_demo(args.out, size=args.size, iterations=args.iterations, progress=not args.quiet)
    return 0


def build_parser() -> Parser:
    parser = Parser(prog="eigenstyle", description="Neural style transfer for exploring styles.",
                    allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"eigenstyle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("stylize", help="stylise a content image with one or more style images",
                       allow_abbrev=False, description="Optimise an image so its content matches CONTENT "
                       "and its style (Gram matrices) matches the STYLE images.")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="the content image, then one or more style images")
    p.add_argument("-o", "--output", "-output_image", default="out.png",
                   help="output image, .png or .jpg (default: out.png; an existing file is kept and the next "
                        "free name used, unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or loss printout")
    p.add_argument("-content_image", dest="content_image", default=None, help=argparse.SUPPRESS)
    p.add_argument("-style_image", dest="style_image", default=None, help=argparse.SUPPRESS)
    p.add_argument("-init_image", dest="init_image", default=None, help=argparse.SUPPRESS)
    add_style_options(p)
    p.set_defaults(func=cmd_stylize)

    p = sub.add_parser("reproduce", help="run the recipe embedded in an eigenstyle image again", allow_abbrev=False)
    p.add_argument("image", help="a PNG or JPEG written by eigenstyle")
    p.add_argument("-o", "--output", help="output (default: IMAGE.reproduced.png)")
    p.add_argument("--content", help="content image, if it moved since the recipe was made")
    p.add_argument("--style", action="append", help="style image(s), if they moved (repeat for several)")
    p.add_argument("--allow-changed-inputs", action="store_true", help="run even if an input's hash differs")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("list-layers", help="list the network's layer names and channel counts")
    p.set_defaults(func=cmd_list_layers)

    p = sub.add_parser("demo", help="stylise the bundled sample images", allow_abbrev=False)
    p.add_argument("--out", default="eigenstyle-demo", help="output folder (default: eigenstyle-demo)")
    p.add_argument("--size", type=_number(int), default=256, help="longest side (default: 256)")
    p.add_argument("--iterations", type=_number(int), default=300, help="iterations (default: 300)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)
    return parser


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        return args.func(args)
    except EigenstyleError as e:
        print(f"eigenstyle: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("eigenstyle: interrupted before the run started; nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except RuntimeError as e:
        if "out of memory" in str(e).lower():
            print("eigenstyle: error: the device ran out of memory; try a smaller --size", file=sys.stderr)
            return EXIT_ERROR
        raise


if __name__ == "__main__":
    sys.exit(main())
