"""The command line: a thin layer over the Python API, one function per command.

Its grammar (the flags, built from :class:`eigenstyle.options.Options`) is in
:mod:`eigenstyle.flags`. Errors the user can fix print one line and exit 2; Ctrl-C
or SIGTERM during a run saves the current image.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings

from .errors import EigenstyleError
from .files import StoppedWhileWriting
from .flags import EXIT_ERROR, build_parser, executor_settings, options_from
from .values import cli_spelling, split

EXIT_INTERRUPTED = 130


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
            print(
                f"eigenstyle: note: the {layer} Gram was degenerate; its eigen-decomposition needed a "
                f"diagonal jitter of {r['jitter']:g} (recorded in the recipe)",
                file=sys.stderr,
            )
    if result.error:
        print(f"eigenstyle: {result.error}; saved {output}", file=sys.stderr)
        return 1
    if result.interrupted:
        print(f"eigenstyle: interrupted at iteration {done}; saved the current image to {output}", file=sys.stderr)
        return EXIT_INTERRUPTED
    loss = result.recipe["losses"]
    print(
        f"wrote {output} ({done} iterations, loss {loss['total']:.4g}, {result.recipe['elapsed_s']:.1f} s, "
        f"peak memory {result.recipe['peak_memory_mb']:.0f} MB)"
    )
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
        print(
            f"eigenstyle: {args.save_style} exists; writing {save_style} instead (--overwrite replaces it)",
            file=sys.stderr,
        )
    result = stylize(content, styles, opts, progress=not args.quiet, output=output, save_style=save_style)
    return report(result, output)


def cmd_reproduce(args) -> int:
    from .morph import FORMATS, plan_of, read_recipe
    from .printing import reproduce

    stem, ext = os.path.splitext(args.image)
    if ext.lower() in FORMATS:
        data = read_recipe(args.image)
        if data is None:
            raise EigenstyleError(f"{args.image} carries no eigenstyle morph recipe")
        output = pick_clip(args.output or f"{stem}.reproduced{ext}", args.overwrite)
        return _run_morph(args, plan_of(data), output, args.content, args.style or None)
    output = pick_output(args.output or f"{stem}.reproduced{ext}", args.overwrite)
    return report(reproduce(args.image, output, **_recipe_inputs(args)), output)


def pick_clip(path: str, overwrite: bool) -> str:
    """A morph's clip: ``path``, or the next free name beside it (said) unless ``overwrite``."""
    from .images import free_name
    from .morph import write_check

    write_check(path)
    if overwrite or not os.path.exists(path):
        return path
    chosen = free_name(path)
    print(f"eigenstyle: {path} exists; writing {chosen} instead (--overwrite replaces it)", file=sys.stderr)
    return chosen


def cmd_morph(args) -> int:
    from . import morph

    if bool(args.walk) == bool(args.favourites):
        raise EigenstyleError("give the favourites to morph through, or --walk FAVOURITE")
    output = pick_clip(args.output, args.overwrite)
    if args.walk:
        (favourite,) = morph.keys_of([args.walk])
        walk = {"steps": args.steps, "amount": args.amount, "seed": args.walk_seed}
        plan_keys = morph.walk_keys(favourite, args.steps, args.amount, args.walk_seed)
    else:
        walk, plan_keys = None, morph.keys_of(args.favourites)
    settings = {
        k: getattr(args, k)
        for k in ("frame_iterations", "swatch_iterations", "temporal_weight", "pull_weight")
        if getattr(args, k) is not None
    }
    plan = morph.Plan(plan_keys, frames=args.frames, fps=args.fps, loop=args.loop, walk=walk, **settings)
    return _run_morph(args, plan, output)


def _run_morph(args, plan, output: str, content=None, styles=None) -> int:
    from . import morph
    from .executors import make

    executor = make(**(executor_settings(args) if hasattr(args, "executor") else {"name": "local"}))
    try:
        made = morph.morph(plan, output, frames_dir=getattr(args, "frames_dir", None), content=content,
                           styles=styles, progress=not args.quiet, executor=executor)  # fmt: skip
    except morph.Interrupted as stop:
        where = f"; wrote {stop.output} of them" if stop.output else ""
        print(f"eigenstyle: interrupted; kept {len(stop.pictures)} frames{where}", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        executor.close()
    print(f"wrote {output} ({len(made)} frames at {plan.fps:g} fps)")
    return 0


def _recipe_inputs(args) -> dict:
    """The moved inputs and checks of a command that runs a recipe again (reproduce, render)."""
    return dict(
        content=args.content,
        styles=args.style or None,
        progress=not args.quiet,
        allow_changed_inputs=args.allow_changed_inputs,
    )


def cmd_render(args) -> int:
    from .options import FIELDS
    from .printing import render

    if not hasattr(args, "size"):
        raise EigenstyleError("render needs --size: the longest side of the print, e.g. --size 4000")
    overrides = {name: getattr(args, name) for name in FIELDS if hasattr(args, name) and name != "size"}
    stem, ext = os.path.splitext(args.favourite)
    output = pick_output(args.output or f"{stem}.{args.size}px{ext if ext == '.tif' else '.png'}", args.overwrite)
    return report(render(args.favourite, args.size, output, **_recipe_inputs(args), **overrides), output)


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


def _sheet_report(tiles, sheet, expected: int | None = None) -> int:
    for t in tiles:
        print(f"wrote {t.path} ({t.label}, loss {t.result.recipe['losses']['total']:.4g})")
    for s in [sheet] if isinstance(sheet, str) else sheet or []:
        print(f"wrote {s} ({len(tiles)} tiles)")
    if any(t.result.interrupted for t in tiles):
        return EXIT_INTERRUPTED
    return 1 if expected is not None and len(tiles) < expected else 0  # a run failed (said above)


def _explore(run, executor_args) -> int:
    """Run ``run(executor)`` (explore.run_all underneath) and report: Ctrl-C keeps what was done."""
    from .executors import make
    from .explore import Interrupted

    executor = make(**executor_args)
    try:
        return run(executor)
    except Interrupted as stop:
        _sheet_report(stop.tiles, stop.sheet)
        print(
            f"eigenstyle: interrupted; kept {len(stop.tiles)} images (finished, or as far as they got)", file=sys.stderr
        )
        return EXIT_INTERRUPTED
    finally:
        executor.close()


def cmd_variants(args) -> int:
    from .explore import Brood, run_all, variant_options
    from .recipe import options_of, read_recipe

    if args.mutate and args.between:
        raise EigenstyleError("give either --mutate or --between, not both")
    Brood.of(args.count, amount=args.amount, t=args.t)  # bad numbers fail before any file is read
    parents = tuple(read_recipe(p) for p in ([args.mutate] if args.mutate else args.between or []))
    brood = Brood.of(args.count, parents=parents, amount=args.amount, t=args.t)
    base = options_from(args, options_of(parents[0]) if parents else None)
    content, styles = _inputs(args, parents[0] if parents else None)
    runs = variant_options(base, brood)

    def run(executor):
        stem = _stem(content, styles, getattr(args, "style_file", None))
        tiles, sheet = run_all(content, styles, runs, args.out, stem, overwrite=args.overwrite,
                               progress=not args.quiet, batch_size=args.batch_size, executor=executor)  # fmt: skip
        return _sheet_report(tiles, sheet, len(runs))

    return _explore(run, executor_settings(args))


def cmd_layers(args) -> int:
    from .explore import layer_options, run_all
    from .layers import check_layers

    layers = split(args.layers)
    check_layers(layers, "--layers")
    content, styles = _inputs(args)
    base = options_from(args)
    runs = layer_options(base, layers, getattr(args, "style_weight", None))
    stem = _stem(content, styles, getattr(args, "style_file", None)) + "-layers"

    def run(executor):
        tiles, sheet = run_all(content, styles, runs, args.out, stem, overwrite=args.overwrite,
                               progress=not args.quiet, executor=executor)  # fmt: skip
        return _sheet_report(tiles, sheet, len(runs))

    return _explore(run, executor_settings(args))


def cmd_sweep(args) -> int:
    from .explore import run_all
    from .sweep import Grid, describe, sheets, sweep_options

    axes = dict(modes=args.modes, seeds=args.seeds, layers=args.layers, weights=args.weights, mixes=args.mixes,
                layer_weights=args.layer_weights)  # fmt: skip
    grid = Grid.read(args.grid, **axes) if args.grid else Grid.of(**axes)
    content, styles = _inputs(args)
    runs, cells = sweep_options(options_from(args), grid)
    print(describe(grid, runs))
    stem = _stem(content, styles, getattr(args, "style_file", None))

    def run(executor):
        tiles, _ = run_all(content, styles, runs, args.out, stem, overwrite=args.overwrite, progress=not args.quiet,
                           batch_size=args.batch_size, executor=executor, sheet=False)  # fmt: skip
        by_run = {next(i for i, (_, label) in enumerate(runs) if label == t.label): t for t in tiles}
        return _sheet_report(tiles, sheets(grid, cells, by_run, args.out, stem, args.overwrite), len(runs))

    return _explore(run, executor_settings(args))


def cmd_list_layers(args) -> int:
    from .layers import LAYERS

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

    token = args.token or os.environ.get("EIGENSTYLE_TOKEN") or None  # an empty variable counts as unset
    settings = executor_settings(args)
    return serve(
        args.workspace,
        args.host,
        args.port,
        token=token,
        allow_hosts=args.allow_host,
        max_queued=args.max_queued,
        sharpen=args.sharpen,
        executor=settings if settings["name"] != "local" else None,
    )


COMMANDS = {
    "stylize": cmd_stylize,
    "reproduce": cmd_reproduce,
    "render": cmd_render,
    "morph": cmd_morph,
    "variants": cmd_variants,
    "layers": cmd_layers,
    "sweep": cmd_sweep,
    "list-layers": cmd_list_layers,
    "serve": cmd_serve,
    "demo": cmd_demo,
}


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
    from .modes import load

    try:
        load(os.environ.get("EIGENSTYLE_MODES", ""))  # modes of the user's own, before --mode's choices are read
    except EigenstyleError as e:
        print(f"eigenstyle: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command not in COMMANDS:
        parser.print_help()
        return EXIT_ERROR
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        with warnings.catch_warnings(), cli_spelling():  # messages name options as flags: --size
            warnings.showwarning = _notes_as_lines(warnings.showwarning)
            return COMMANDS[args.command](args)
    except EigenstyleError as e:
        print(f"eigenstyle: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except StoppedWhileWriting as stop:  # the run was over: what it was writing was written whole first
        print(f"eigenstyle: interrupted while writing; wrote {', '.join(stop.paths)} whole first", file=sys.stderr)
        return EXIT_INTERRUPTED
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
