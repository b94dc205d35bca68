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
import warnings

from ._version import __version__
from .errors import EigenstyleError
from .options import FIELDS, Options
from .values import cli_spelling, parse, split

EXIT_ERROR, EXIT_INTERRUPTED = 2, 130
IGNORED_NEURAL_STYLE = ("-backend", "-cudnn_autotune", "-multidevice_strategy", "-disable_check")


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit 2), like every other error."""

    def error(self, message):
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _reader(kind: str):
    """argparse's type for a value of ``kind``: values.parse, the one reader the studio and API share."""
    def read(text: str):
        try:
            return parse(kind, text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    read.__name__ = kind
    return read


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
    shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
    help_text = f"{meta['help']} (default: {shown})".replace("%", "%%")
    kw = dict(dest=name, default=argparse.SUPPRESS, help=help_text)
    if meta["kind"] == "bool":
        group.add_argument(flag, action="store_true", **kw)
        for alias in meta["alias"]:
            if alias == "-original_colors":   # neural-style takes 0|1 here
                group.add_argument(alias, type=_reader("bool"), dest=name, default=argparse.SUPPRESS,
                                   help=argparse.SUPPRESS)
            else:
                group.add_argument(alias, action="store_true", dest=name, default=argparse.SUPPRESS,
                                   help=argparse.SUPPRESS)
        return
    conv = _reader(meta["kind"])
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
        if f.metadata["cli"]:
            _add_option(group, name, f)
    for alias in IGNORED_NEURAL_STYLE:
        group.add_argument(alias, nargs="?", dest="ignored_" + alias.lstrip("-"), help=argparse.SUPPRESS)


def options_from(args, base: Options | None = None) -> Options:
    """Options given on the command line, over ``base`` (default: the defaults)."""
    values = {name: getattr(args, name) for name in FIELDS if hasattr(args, name)}
    if getattr(args, "init_image", None):
        values["init"] = args.init_image
    for alias in IGNORED_NEURAL_STYLE:
        if getattr(args, "ignored_" + alias.lstrip("-"), None) is not None:
            print(f"eigenstyle: note: {alias} has no meaning here and is ignored", file=sys.stderr)
    return Options.from_mapping(values, base)


def pick_output(path: str, overwrite: bool) -> str:
    from .images import check_writable, free_name, name_taken
    check_writable(path)
    if overwrite or not name_taken(path):
        return path
    chosen = free_name(path)
    what = "exists" if os.path.exists(path) else "has files beside it (.raw or _N intermediates)"
    print(f"eigenstyle: {path} {what}; writing {chosen} instead (--overwrite replaces it)", file=sys.stderr)
    return chosen


def report(result, output: str) -> int:
    done = result.recipe["iterations_done"]
    for layer, r in (result.recipe.get("randomization") or {}).items():
        if r.get("jitter"):
            print(f"eigenstyle: note: the {layer} Gram was degenerate; its eigen-decomposition needed a "
                  f"diagonal jitter of {r['jitter']:g} (recorded in the recipe)", file=sys.stderr)
    if result.error:
        print(f"eigenstyle: {result.error}; saved {output}", file=sys.stderr)
        return 1
    if result.interrupted:
        print(f"eigenstyle: interrupted at iteration {done}; saved the current image to {output}", file=sys.stderr)
        return EXIT_INTERRUPTED
    loss = result.recipe["losses"]
    print(f"wrote {output} ({done} iterations, loss {loss['total']:.4g}, {result.recipe['elapsed_s']:.1f} s, "
          f"peak memory {result.recipe['peak_memory_mb']:.0f} MB)")
    if result.swatch is not None:
        from .images import swatch_path
        print(f"wrote {swatch_path(output)} (the randomised style's swatch)")
    return 0


def cmd_stylize(args) -> int:
    from .engine import stylize
    images_ = list(args.images)
    content = args.content_image or (images_.pop(0) if images_ else None)
    styles = images_ + (split(args.style_image) if args.style_image else [])
    opts = options_from(args).validate()
    if not content or not (styles or opts.style_file):
        raise EigenstyleError("give a content image and at least one style image: eigenstyle stylize CONTENT STYLE")
    output = pick_output(args.output, args.overwrite)
    save_style = args.save_style
    if save_style and not args.overwrite and os.path.exists(save_style):
        from .images import free_name
        save_style = free_name(save_style)
        print(f"eigenstyle: {args.save_style} exists; writing {save_style} instead (--overwrite replaces it)",
              file=sys.stderr)
    result = stylize(content, styles, opts, progress=not args.quiet, output=output, save_style=save_style)
    return report(result, output)


def cmd_reproduce(args) -> int:
    from .engine import reproduce
    stem, ext = os.path.splitext(args.image)
    output = pick_output(args.output or f"{stem}.reproduced{ext}", args.overwrite)
    result = reproduce(args.image, output, content=args.content, styles=args.style or None,
                       progress=not args.quiet, allow_changed_inputs=args.allow_changed_inputs)
    return report(result, output)


def _inputs(args, recipe_data=None):
    """Content and styles from the positionals, else from a parent recipe."""
    images_ = list(args.images)
    if images_:
        if len(images_) < 2 and not getattr(args, "style_file", None):
            raise EigenstyleError("give a content image and at least one style image")
        return images_[0], images_[1:]
    if recipe_data is None:
        raise EigenstyleError("give a content image and at least one style image")
    return recipe_data["content"]["path"], [s["path"] for s in recipe_data["styles"]]


def _stem(content, styles, style_file=None) -> str:
    def name(p):
        return os.path.splitext(os.path.basename(p))[0]
    return f"{name(content)}-{name(styles[0] if styles else style_file)}"


def _sheet_report(tiles, sheet) -> int:
    for t in tiles:
        print(f"wrote {t.path} ({t.label}, loss {t.result.recipe['losses']['total']:.4g})")
    print(f"wrote {sheet} ({len(tiles)} tiles)")
    return EXIT_INTERRUPTED if tiles and tiles[-1].result.interrupted else 0


def cmd_variants(args) -> int:
    from .explore import Brood, run_all, variant_options
    from .recipe import read_recipe
    if args.mutate and args.between:
        raise EigenstyleError("give either --mutate or --between, not both")
    Brood.of(args.count, amount=args.amount, t=args.t)  # bad numbers fail before any file is read
    parents = tuple(read_recipe(p) for p in ([args.mutate] if args.mutate else args.between or []))
    brood = Brood.of(args.count, parents=parents, amount=args.amount, t=args.t)
    base = options_from(args, Options.from_dict(parents[0]["options"]) if parents else None)
    content, styles = _inputs(args, parents[0] if parents else None)
    runs = variant_options(base, brood)
    tiles, sheet = run_all(content, styles, runs, args.out, _stem(content, styles, getattr(args, "style_file", None)),
                           overwrite=args.overwrite, progress=not args.quiet, batch_size=args.batch_size)
    return _sheet_report(tiles, sheet)


def cmd_layers(args) -> int:
    from .explore import layer_options, run_all
    from .network import check_layers
    layers = split(args.layers)
    check_layers(layers, "--layers")
    content, styles = _inputs(args)
    base = options_from(args)
    runs = layer_options(base, layers, getattr(args, "style_weight", None))
    stem = _stem(content, styles, getattr(args, "style_file", None)) + "-layers"
    tiles, sheet = run_all(content, styles, runs, args.out, stem, overwrite=args.overwrite, progress=not args.quiet)
    return _sheet_report(tiles, sheet)


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


def cmd_serve(args) -> int:
    from .studio.server import serve  # starlette, uvicorn and torch load only for this command
    return serve(args.workspace, args.host, args.port, max_queued=args.max_queued)


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
    p.add_argument("--save-style", metavar="FILE.safetensors",
                   help="also save the run's (randomised) Gram targets as a reusable style file")
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

    p = sub.add_parser("variants", help="N randomised variants of a style, with a contact sheet",
                       allow_abbrev=False, description="Run --count variants (variant seeds s..s+N-1) of "
                       "one content/style pair, or children of a favourite (--mutate), or variants between "
                       "two (--between); write each with its recipe and a labelled sheet.")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="content, then style image(s) (optional with "
                   "--mutate/--between: taken from the parent's recipe)")
    p.add_argument("--count", type=_reader("int"), default=4, help="number of variants (default: 4)")
    p.add_argument("-o", "--out", default="variants", help="output folder (default: variants)")
    p.add_argument("--mutate", metavar="IMAGE", help="make children of this eigenstyle variant")
    p.add_argument("--amount", type=_reader("float"), default=0.2,
                   help="mutation size: the parent's multipliers times U[1-a, 1+a] (default: 0.2)")
    p.add_argument("--between", nargs=2, metavar=("A", "B"), help="variants between two eigenstyle variants")
    p.add_argument("--t", type=_reader("float"), default=0.5,
                   help="position between A (0) and B (1) with --count 1 (default: 0.5; with a larger "
                        "count, evenly spaced points)")
    p.add_argument("--batch-size", type=_reader("int"), default=1,
                   help="optimise this many variants together in one batch (bounds memory; default: 1)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_style_options(p)
    p.set_defaults(func=cmd_variants)

    p = sub.add_parser("layers", help="one result per single style layer, side by side", allow_abbrev=False,
                       description="Run one single-style-layer result per layer (same seeds) and a labelled "
                       "sheet, to compare the layers' characters. Without --style-weight each layer gets its "
                       "balanced default weight.")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="content, then style image(s)")
    p.add_argument("--layers", default="relu3_1,relu3_2,relu3_3,relu3_4",
                   help="layers to compare (default: relu3_1,relu3_2,relu3_3,relu3_4)")
    p.add_argument("-o", "--out", default="layers", help="output folder (default: layers)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_style_options(p)
    p.set_defaults(func=cmd_layers)

    p = sub.add_parser("list-layers", help="list the network's layer names and channel counts")
    p.set_defaults(func=cmd_list_layers)

    p = sub.add_parser("serve", help="the studio: a local web page to explore variants with live previews",
                       allow_abbrev=False, description="Start the studio (a local web app) and print its URL. "
                       "Results, recipes, lineage and stars live in the workspace folder (SQLite + images).")
    p.add_argument("--workspace", default="eigenstyle-studio",
                   help="folder for the studio's database and images (default: eigenstyle-studio)")
    p.add_argument("--port", type=_reader("int"), default=7860, help="port (default: 7860; 0: any free port)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; another address lets "
                        "anyone on that network use the studio)")
    p.add_argument("--max-queued", type=_reader("int"), default=4,
                   help="jobs that may wait in the queue; past it requests get a 'busy' answer (default: 4)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="stylise the bundled sample images", allow_abbrev=False)
    p.add_argument("--out", default="eigenstyle-demo", help="output folder (default: eigenstyle-demo)")
    p.add_argument("--size", type=_reader("int"), default=256, help="longest side (default: 256)")
    p.add_argument("--iterations", type=_reader("int"), default=200, help="iterations (default: 200)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_demo)
    return parser


def _sigterm(signum, frame):
    raise KeyboardInterrupt


def _notes_as_lines(previous):
    """Notes about inputs (an animated GIF's first frame used) as one plain line each."""
    def show(message, category, *rest, **kw):
        from .images import InputNote
        if issubclass(category, InputNote):
            print(f"eigenstyle: note: {message}", file=sys.stderr)
        else:
            previous(message, category, *rest, **kw)
    return show


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_ERROR
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        with warnings.catch_warnings(), cli_spelling():  # messages name options as flags: --size
            warnings.showwarning = _notes_as_lines(warnings.showwarning)
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
