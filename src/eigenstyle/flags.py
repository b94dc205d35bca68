"""The command line's grammar: every subcommand's arguments, and the style options built from
:class:`eigenstyle.options.Options`' fields (default, help, neural-style alias, and the reader of
the field's kind), so ``-style_layers relu3_2`` and ``--style-layers relu3_2`` are the same thing.
What each command does is in :mod:`eigenstyle.cli`.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ._version import __version__
from .options import FIELDS, GROUPS, Options
from .values import parse

EXIT_ERROR = 2
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


def _sizes(text: str) -> tuple:
    """serve's --sharpen: sizes in px, or none."""
    return () if text.strip().lower() in ("none", "off", "0") else _reader("ints")(text)


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
            if alias == "-original_colors":  # neural-style takes 0|1 here
                group.add_argument(
                    alias, type=_reader("bool"), dest=name, default=argparse.SUPPRESS, help=argparse.SUPPRESS
                )
            else:
                group.add_argument(
                    alias, action="store_true", dest=name, default=argparse.SUPPRESS, help=argparse.SUPPRESS
                )
        return
    conv = _reader(meta["kind"])
    kw.update(type=conv, metavar=meta["metavar"] or name.upper().replace("_", "-"))
    if meta["kind"] == "texts":  # given once for each value
        kw.update(type=str, action="append")
    if meta["choices"]:
        kw["choices"] = meta["choices"]
        kw.pop("metavar")
    group.add_argument(flag, **kw)
    for alias in meta["alias"]:
        group.add_argument(alias, **{**kw, "help": argparse.SUPPRESS, "type": _gpu if alias == "-gpu" else conv})


def add_style_options(parser) -> None:
    """Every option of Options, in its declared group (neural-style's -spellings also work)."""
    for title in GROUPS:
        group = parser.add_argument_group(
            f"{title} (neural-style's -spellings work too)" if title == GROUPS[0] else title
        )
        for name, f in FIELDS.items():
            if f.metadata["cli"] and f.metadata["group"] == title:
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


def _stylize(sub) -> None:
    p = sub.add_parser(
        "stylize",
        help="stylise a content image with one or more style images",
        allow_abbrev=False,
        description="Optimise an image so its content matches CONTENT "
        "and its style (Gram matrices) matches the STYLE images.",
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="the content image, then one or more style images")
    p.add_argument(
        "-o",
        "--output",
        "-output_image",
        default="out.png",
        help="output image, .png or .jpg (default: out.png; an existing file is kept and the next "
        "free name used, unless --overwrite)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument(
        "--save-style",
        metavar="FILE.safetensors",
        help="also save the run's (randomised) Gram targets as a reusable style file",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or loss printout")
    p.add_argument("-content_image", dest="content_image", default=None, help=argparse.SUPPRESS)
    p.add_argument("-style_image", dest="style_image", default=None, help=argparse.SUPPRESS)
    p.add_argument("-init_image", dest="init_image", default=None, help=argparse.SUPPRESS)
    add_style_options(p)


def _reproduce(sub) -> None:
    p = sub.add_parser("reproduce", help="run the recipe embedded in an eigenstyle image again", allow_abbrev=False)
    p.add_argument("image", help="a PNG, JPEG or TIFF written by eigenstyle, or a morph's MP4, WebP or GIF")
    p.add_argument("-o", "--output", help="output (default: IMAGE.reproduced.png)")
    _recipe_inputs(p)


def _recipe_inputs(p) -> None:
    """What a command that runs a recipe again (reproduce, render) takes besides its image."""
    p.add_argument("--content", help="content image, if it moved since the recipe was made")
    p.add_argument("--style", action="append", help="style image(s), if they moved (repeat for several)")
    p.add_argument("--allow-changed-inputs", action="store_true", help="run even if an input's hash differs")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _render(sub) -> None:
    p = sub.add_parser(
        "render",
        help="render a favourite again at another size (for print), from its recipe",
        allow_abbrev=False,
        description="Run the recipe embedded in FAVOURITE at --size, coarse to fine from the favourite "
        "itself (each scale at most twice the last), with the favourite's style at the matching scale. "
        "Memory stays within --max-memory (tiles, a shorter L-BFGS history). Any style option given "
        "overrides the recipe's.",
    )
    p.add_argument("favourite", metavar="FAVOURITE", help="a PNG, JPEG or TIFF written by eigenstyle")
    p.add_argument("-o", "--output", help="output (default: FAVOURITE.SIZEpx.png)")
    _recipe_inputs(p)
    add_style_options(p)


def _morph(sub) -> None:
    p = sub.add_parser(
        "morph",
        help="a clip through favourites' styles: morphs, walks and layer morphs (MP4, WebP, GIF)",
        allow_abbrev=False,
        description="Paint a path through FAVOURITES (images eigenstyle wrote, of one content and style): --frames "
        "frames a leg, each starting from the frame before and held to it, each leg ending on its favourite. "
        "Variants are blended by their genomes, a plain run is strength 0, and two single style layers "
        "(relu3_2 to relu3_3) are cross-faded. --walk FAVOURITE drifts its genome through --steps seeded "
        "children and back: a seamless loop. Ctrl-C writes the clip of the frames made.",
    )
    p.add_argument("favourites", nargs="*", metavar="FAVOURITE", help="images written by eigenstyle, in order")
    p.add_argument(
        "-o", "--output", default="morph.mp4", help="the clip: .mp4 (H.264), .webp or .gif (default: morph.mp4)"
    )
    p.add_argument("--frames", type=_reader("int"), default=24, help="frames a leg (default: 24)")
    p.add_argument("--fps", type=_reader("float"), default=12.0, help="frames per second (default: 12)")
    p.add_argument("--loop", action="store_true", help="go back to the first favourite at the end")
    p.add_argument(
        "--walk", metavar="FAVOURITE", help="a walk: the favourite's genome through seeded children and back"
    )
    p.add_argument("--steps", type=_reader("int"), default=3, help="a walk's children (default: 3)")
    p.add_argument("--amount", type=_reader("float"), default=0.2, help="a walk's mutation amount (default: 0.2)")
    p.add_argument("--walk-seed", type=_reader("int"), default=1, help="a walk's first child's seed (default: 1)")
    p.add_argument("--frame-iterations", type=_reader("int"), help="iterations a frame (default: 0.2x a still's)")
    p.add_argument("--swatch-iterations", type=_reader("int"), help="a frame's swatch iterations (default: 0.2x)")
    p.add_argument("--temporal-weight", type=_reader("float"), help="how firmly a frame keeps the frame before")
    p.add_argument("--pull-weight", type=_reader("float"), help="how firmly a leg's frames end on its favourite")
    p.add_argument("--frames-dir", help="also write each frame here as a PNG with the recipe")
    p.add_argument("--overwrite", action="store_true", help="replace an existing clip")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    _executor_options(p, "each leg between favourites (a walk's children first)")


def _variants(sub) -> None:
    p = sub.add_parser(
        "variants",
        help="N randomised variants of a style, with a contact sheet",
        allow_abbrev=False,
        description="Run --count variants (variant seeds s..s+N-1) of "
        "one content/style pair, or children of a favourite (--mutate), or variants between "
        "two (--between); write each with its recipe and a labelled sheet.",
    )
    p.add_argument(
        "images",
        nargs="*",
        metavar="IMAGE",
        help="content, then style image(s) (optional with --mutate/--between: taken from the parent's recipe)",
    )
    p.add_argument("--count", type=_reader("int"), default=4, help="number of variants (default: 4)")
    p.add_argument("-o", "--out", default="variants", help="output folder (default: variants)")
    p.add_argument("--mutate", metavar="IMAGE", help="make children of this eigenstyle variant")
    p.add_argument(
        "--amount",
        type=_reader("float"),
        default=0.2,
        help="mutation size: the parent's multipliers times U[1-a, 1+a] (default: 0.2)",
    )
    p.add_argument("--between", nargs=2, metavar=("A", "B"), help="variants between two eigenstyle variants")
    p.add_argument(
        "--t",
        type=_reader("float"),
        default=0.5,
        help="position between A (0) and B (1) with --count 1 (default: 0.5; with a larger "
        "count, evenly spaced points)",
    )
    _many_runs(p, "each batch of runs", "optimise this many variants together in one batch (bounds memory; default: 1)")


def _layers(sub) -> None:
    p = sub.add_parser(
        "layers",
        help="one result per single style layer, side by side",
        allow_abbrev=False,
        description="Run one single-style-layer result per layer (same seeds) and a labelled "
        "sheet, to compare the layers' characters. Without --style-weight each layer gets its "
        "balanced default weight.",
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="content, then style image(s)")
    p.add_argument(
        "--layers",
        default="relu3_1,relu3_2,relu3_3,relu3_4",
        help="layers to compare (default: relu3_1,relu3_2,relu3_3,relu3_4)",
    )
    p.add_argument("-o", "--out", default="layers", help="output folder (default: layers)")
    _many_runs(p, "each layer's run")


def _many_runs(p, runs: str, batch_help: str | None = None) -> None:
    """The options of every command that makes many runs and a sheet (variants, layers, sweep)."""
    if batch_help:
        p.add_argument("--batch-size", type=_reader("int"), default=1, help=batch_help)
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _executor_options(p, runs)
    add_style_options(p)


def _executor_options(p, runs: str = "each batch of runs") -> None:
    g = p.add_argument_group("where the runs happen")
    g.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help=f"local: in this process (default); ray: {runs} as a task on a Ray cluster (pip install "
        "'eigenstyle[ray]'; docs/cluster.md)",
    )
    g.add_argument(
        "--address",
        default="auto",
        help="with --executor ray: the cluster, 'auto' (the one `ray start` joined this machine to; "
        "default) or HOST:PORT",
    )
    g.add_argument(
        "--cpus-per-run", type=_reader("float"), default=1.0, help="with --executor ray: CPUs a task takes (default: 1)"
    )
    g.add_argument(
        "--gpus-per-run", type=_reader("float"), default=0.0, help="with --executor ray: GPUs a task takes (default: 0)"
    )
    g.add_argument(
        "--max-retries",
        type=_reader("int"),
        default=3,
        help="with --executor ray: times a task whose worker died is run again (default: 3)",
    )


def executor_settings(args) -> dict:
    """executors.make's arguments from the flags (only the local executor's, for the default)."""
    if args.executor == "local":
        return {"name": "local"}
    return {
        "name": args.executor,
        "address": args.address,
        "cpus_per_run": args.cpus_per_run,
        "gpus_per_run": args.gpus_per_run,
        "max_retries": args.max_retries,
    }


def _sweep(sub) -> None:
    p = sub.add_parser(
        "sweep",
        help="a grid of modes x variant seeds x style layers x style weights x layer mixes, a sheet per pair of axes",
        allow_abbrev=False,
        description="Run every combination of the axes given (flags, or --grid FILE.toml/.json with the keys "
        "modes, seeds, layers, weights, mixes; flags win) and write one contact sheet per pair of axes that vary.",
    )
    p.add_argument("images", nargs="*", metavar="IMAGE", help="content, then style image(s)")
    p.add_argument("--grid", metavar="FILE", help="the axes from a .toml or .json file")
    p.add_argument("--modes", help="modes to sweep, e.g. variant,fantasy (default: --mode's, else variant)")
    p.add_argument("--seeds", help="variant seeds, e.g. 1-8 or 1,5,9 (default: --variant-seed's, else drawn)")
    p.add_argument("--layers", help="single style layers, e.g. relu3_1,relu3_2; 'all': the run's own layers")
    p.add_argument("--weights", help="style weights, e.g. 250,500,1000 (default: each layer's balanced one)")
    p.add_argument(
        "--layer-weight",
        action="append",
        dest="layer_weights",
        metavar="LAYER=F1,F2",
        help="a weight axis per layer (given again for each layer): every combination runs, e.g. relu3_2=1,0.5",
    )
    p.add_argument(
        "--mixes",
        help="per-layer factors (--style-layer-weights), one mix a cell, e.g. 1:0,0.5:0.5,0:1 with two style layers",
    )
    p.add_argument("-o", "--out", default="sweep", help="output folder (default: sweep)")
    _many_runs(
        p, "each batch of runs", "optimise this many runs together where they differ only in their style (default: 1)"
    )


def _list_layers(sub) -> None:
    sub.add_parser("list-layers", help="list the network's layer names and channel counts")


def _serve(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="the studio: a local web page to explore variants with live previews",
        allow_abbrev=False,
        description="Start the studio (a local web app) and print its URL. "
        "Results, recipes, lineage and stars live in the workspace folder (SQLite + images).",
    )
    p.add_argument(
        "--workspace",
        default="eigenstyle-studio",
        help="folder for the studio's database and images (default: eigenstyle-studio)",
    )
    p.add_argument("--port", type=_reader("int"), default=7860, help="port (default: 7860; 0: any free port)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only; another address lets "
        "anyone on that network use the studio)",
    )
    p.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a host name the page may be reached by besides localhost, 127.x.x.x, ::1 and the --host "
        "address (repeatable; e.g. a name in /etc/hosts or a LAN address). Other Host headers get 403",
    )
    p.add_argument(
        "--token",
        default=None,
        help="the access token in the printed URL (default: $EIGENSTYLE_TOKEN, else a new random one "
        "per launch). Always required; scripts send it as X-Eigenstyle-Token or Authorization: Bearer",
    )
    p.add_argument(
        "--max-queued",
        type=_reader("int"),
        default=4,
        help="jobs that may wait in the queue; past it requests get a 'busy' answer (default: 4)",
    )
    p.add_argument(
        "--sharpen",
        type=_sizes,
        default=None,
        metavar="SIZES",
        help="while no job waits, render the latest job's tiles at these sizes in turn, coarse to fine from "
        "each tile (Render large's path), pausing whenever the page acts (default: 256,384; none: off)",
    )
    _executor_options(p, "each job's batch of runs")


def _demo(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="the bundled samples: plain neural style, two variants and a fantasy of the style, on one sheet",
        allow_abbrev=False,
    )
    p.add_argument("--out", default="eigenstyle-demo", help="output folder (default: eigenstyle-demo)")
    p.add_argument("--size", type=_reader("int"), default=160, help="longest side (default: 160)")
    p.add_argument("--iterations", type=_reader("int"), default=50, help="iterations of each run (default: 50)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def build_parser() -> Parser:
    """The whole command line: the top-level parser and one subparser per command."""
    parser = Parser(prog="eigenstyle", description="Neural style transfer for exploring styles.", allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"eigenstyle {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for add in (_stylize, _reproduce, _render, _morph, _variants, _layers, _sweep, _list_layers, _serve, _demo):
        add(sub)
    return parser
