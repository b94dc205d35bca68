"""Style in motion: a path through favourites' Gram targets, painted as frames that flow into each other.

A favourite is a point of the style space its recipe names: a genome (its variant), a strength (a plain run
is strength 0) and its style layers. A morph visits favourites of one content and style in turn, ``frames``
frames a leg; frame ``t`` of a leg optimises against the path's target at ``t`` (:func:`point`: the genomes
blended, the strength and, between two single layers, the layers' weights cross-faded). Three things make
the picture flow instead of flicker:

* each frame starts from the frame before and is held to it (:class:`Hold`, every pixel): where the target
  does not move, the picture does not either, instead of going on with the still's unfinished optimisation;
* the frames before a favourite are pulled towards it (:class:`Toward`, the hold's weight over the frames
  left), so each frame takes an even share of the way left and the leg ends on the favourite itself, its
  last frame pixel for pixel; the in-between target keeps each frame painted in the in-between style;
* with a reachable target each frame's swatch starts from the frame before's, so the texture evolves.

A walk (:func:`walk_keys`) goes through seeded children of one favourite and back: a style that breathes, a
seamless loop. Its children are painted first, from the favourite (:class:`Waypoint`), then gone through as
favourites are.

Each leg is whole in itself (:class:`Leg`: it starts from its first key's picture and swatch and ends on the
next's), so the legs are tasks for an executor (executors.Work's ``task``): one after another here, side by
side on a Ray cluster, with the same frames.
Frames cost a share of a still's iterations (``FRAME_SHARE``): the frame before is nearly there. Outputs
(:func:`write`): MP4 (H.264 through PyAV: FFmpeg's encoder in-process, wheels with it for every platform,
and the recipe as container metadata), animated WebP and GIF (Pillow), PNG frames; each carries the morph's
recipe (:func:`read_recipe`), and ``eigenstyle reproduce`` makes it again (:func:`plan_of`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from PIL import Image

from . import images, recipe, regions
from . import swatch as swatches
from ._version import __version__
from .errors import EigenstyleError
from .files import atomic_path
from .loop import Observer, optimise
from .objective import Term
from .options import Options
from .printing import recorded_inputs, start_of
from .problem import Problem, vary
from .results import finish_images
from .targets import to_pil, to_tensor
from .values import option_name

FRAME_SHARE = 0.2  # a frame's iterations, as a share of its favourite's (a still's): it starts nearly there
SWATCH_SHARE = 0.2  # a frame's swatch iterations, as a share of the favourite's swatch's
TEMPORAL_WEIGHT = 1e5  # the hold on the frame before (mean squared difference, network units)
PULL_WEIGHT = 1.0  # the pull towards the leg's favourite, x the hold / the frames left: the way left, evenly
WAYPOINT_SHARE = 0.5  # a walk's waypoint: painted from the favourite for this share of a still's iterations
FORMATS = (".mp4", ".webp", ".gif")
RECIPE_KEY = "eigenstyle-morph"


@dataclass(frozen=True)
class Key:
    """A point the path goes through: a favourite (its file, recipe and options) or a walk's waypoint (its
    options alone: no picture to end on)."""

    opts: Options
    path: Optional[str] = None
    data: Optional[dict] = None
    label: str = ""

    @property
    def genome(self) -> Optional[dict]:
        o = self.opts
        return None if o.mode == "none" else (o.genome or {"seed": o.variant_seed})


def keys_of(paths: Sequence[str]) -> list[Key]:
    """The favourites at ``paths`` as keys, checked to be one content and style at one size."""
    if len(paths) < 1:
        raise EigenstyleError("give at least one favourite")
    keys = []
    for p in paths:
        data = recipe.read_recipe(p)
        if data.get("picture") == "swatch":
            raise EigenstyleError(f"{p} is a swatch; give the result it belongs to")
        keys.append(Key(recipe.options_of(data), p, data, os.path.basename(p)))
    first = keys[0]
    for k in keys[1:]:
        for what, said in (("content", "contents"), ("styles", "style images"), ("style_file", "style files")):
            if _identity(k.data.get(what)) != _identity(first.data.get(what)):
                raise EigenstyleError(f"{k.path} and {first.path} have different {said}: a morph keeps one of each")
        if Image.open(k.path).size != Image.open(first.path).size:
            raise EigenstyleError(f"{k.path} and {first.path} differ in size: render them at one size first")
        if k.opts.mode not in ("none", first.opts.mode) and first.opts.mode != "none":
            raise EigenstyleError(f"{k.path} ({k.opts.mode}) and {first.path} ({first.opts.mode}): one mode per morph")
    return keys


def _identity(v):
    if isinstance(v, list):
        return [_identity(x) for x in v]
    return v.get("sha256") if isinstance(v, dict) else v


def walk_keys(favourite: Key, steps: int, amount: float, seed: int) -> list[Key]:
    """A walk: the favourite, ``steps`` seeded children of it (mutations of ``amount``), and the favourite again."""
    if favourite.genome is None:
        raise EigenstyleError("a walk mutates a variant's genome: give a randomised favourite, not a plain run")
    if steps < 1:
        raise EigenstyleError(f"{option_name('steps')} must be >= 1, got {steps}")
    children = [
        Key(
            favourite.opts.replace(
                variant_seed=None, genome={"mutate": favourite.genome, "seed": seed + i, "amount": amount}
            ),
            label=f"child {seed + i}",
        )
        for i in range(steps)
    ]
    return [favourite, *children, favourite]


def point(a: Options, b: Options, t: float) -> Options:
    """The path's target at ``t`` between keys ``a`` and ``b`` (0: a's, 1: b's): their genomes blended (a
    genome ``between``), strengths in proportion (a plain run is strength 0); between two single style layers,
    both layers, their weights cross-faded (--style-layer-weights: each layer's own weight times 1 - t or t).

    >>> o = point(Options(mode="none"), Options(mode="variant", variant_seed=3, strength=0.8), 0.5)
    >>> (o.mode, o.genome, o.strength, o.style_layer_weights)
    ('variant', {'seed': 3}, 0.4, None)
    """
    if a.region or b.region:
        return _regions_point(a, b, t)
    ga = None if a.mode == "none" else (a.genome or {"seed": a.variant_seed})
    gb = None if b.mode == "none" else (b.genome or {"seed": b.variant_seed})
    sa, sb = (0.0 if ga is None else a.strength), (0.0 if gb is None else b.strength)
    if ga is None and gb is None:
        o = a.replace()
    else:
        genome = ga if gb is None else gb if ga is None else {"between": [ga, gb], "t": t}
        o = (a if ga is not None else b).replace(
            variant_seed=None, genome=genome, strength=round((1 - t) * sa + t * sb, 12)
        )
    if tuple(a.style_layers) != tuple(b.style_layers):
        if len(a.style_layers) != 1 or len(b.style_layers) != 1:
            raise EigenstyleError("a layer morph goes from one single style layer to another (e.g. relu3_2 to relu3_3)")
        layers = (a.style_layers[0], b.style_layers[0])
        faded = ((1 - t) * a.style_weight_value(), t * b.style_weight_value())
        randomised = tuple(name for name, w in zip(layers, faded) if w > 0)
        o = o.replace(
            style_layers=layers,
            style_weight=1.0,
            style_layer_weights=faded,
            random_layers=None if o.mode == "none" else randomised,
        )
    return o


def _regions_point(a: Options, b: Options, t: float) -> Options:
    """:func:`point` between two favourites with regions, one mask: each region's style blended as a
    favourite's is (a region of a plain style or another picture keeps it, the same in both)."""
    sa, sb = regions.specs_of(a), regions.specs_of(b)
    if a.mask != b.mask or [s.name for s in sa] != [s.name for s in sb]:
        raise EigenstyleError("a morph with regions goes between favourites of one mask and the same regions")
    styles = []
    for x, y in zip(sa, sb):
        if x.kind in ("none", "image", "file") or y.kind in ("none", "image", "file"):
            if x != y:
                raise EigenstyleError(
                    f"region {x.name}: a morph blends randomised styles; its two are {x.kind}, {y.kind}"
                )
            styles.append(regions.text_of(a, x.name))
            continue
        o = point(regions.style_options(a, x), regions.style_options(b, y), t)
        style = (
            "plain" if o.mode == "none" else json.dumps({"mode": o.mode, "genome": o.genome, "strength": o.strength})
        )
        styles.append(f"{x.name}={style}")
    return a.replace(region=tuple(styles))


class Toward(Term):
    """The pull towards a picture (network units): mean squared difference, so the frames before a favourite
    end on it."""

    name = "toward"

    def __init__(self, weight: float, picture: torch.Tensor):
        super().__init__(weight)
        self.picture = picture

    def __call__(self, x, feats, problem):
        return self.weight * (problem.visible(x) - self.picture).pow(2).flatten(1).mean(1)


class Hold(Toward):
    """The hold on the frame before: where the target does not move, the picture does not either."""

    name = "hold"


@dataclass
class Frame:
    """One frame of the clip: its index, its place ``t`` along its leg, the picture, and what it cost."""

    index: int
    t: float
    image: Image.Image
    seconds: float = 0.0
    iterations: int = 0


@dataclass
class Plan:
    """What a morph does: its keys, frames a leg, loop, and the settings of its frames (its recipe)."""

    keys: list
    frames: int = 24
    loop: bool = False
    fps: float = 12.0
    frame_iterations: Optional[int] = None  # default: FRAME_SHARE of the first favourite's iterations
    swatch_iterations: Optional[int] = None  # default: SWATCH_SHARE of its swatch's
    temporal_weight: float = TEMPORAL_WEIGHT
    pull_weight: float = PULL_WEIGHT
    walk: Optional[dict] = None  # {"steps", "amount", "seed"}: the keys are a walk's

    def __post_init__(self):
        if self.frames < 1:
            raise EigenstyleError(f"{option_name('frames')} must be >= 1, got {self.frames}")
        if not self.fps > 0:
            raise EigenstyleError(f"{option_name('fps')} must be > 0, got {self.fps}")
        if len(self.keys) < 2 and not self.loop:
            raise EigenstyleError("a morph goes from one favourite to another: give two or more, or --loop/--walk")

    @property
    def legs(self) -> list:
        ks = list(self.keys)
        if self.loop and ks[-1] is not ks[0]:
            ks.append(ks[0])
        return list(zip(ks[:-1], ks[1:]))

    def iterations(self) -> int:
        return self.frame_iterations or max(1, round(FRAME_SHARE * self.keys[0].opts.iterations))

    def swatch_iters(self) -> int:
        return self.swatch_iterations or max(1, round(SWATCH_SHARE * self.keys[0].opts.swatch_iterations))

    def recipe(self) -> dict:
        first = self.keys[0].data
        return {
            "format": RECIPE_KEY,
            "eigenstyle": __version__,
            "torch": torch.__version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "content": first["content"],
            "styles": first["styles"],
            "keys": [
                {"path": k.path, "sha256": recipe.identity_of_file(k.path)["sha256"]} if k.path else {"walk": k.label}
                for k in (self.keys if not self.walk else self.keys[:1])
            ],
            "frames": self.frames,
            "loop": self.loop,
            "fps": self.fps,
            "frame_iterations": self.iterations(),
            "swatch_iterations": self.swatch_iters(),
            "temporal_weight": self.temporal_weight,
            "pull_weight": self.pull_weight,
            "walk": self.walk,
        }


@dataclass
class Painted:
    """What a task of a morph made: its frames (fewer than asked where it was stopped) and why it stopped."""

    frames: list
    stopped: Optional[str] = None


class _Asks(Observer):
    """The frame's loop ends when the caller's cancel says so (an executor's Watch): a frame cut off is not kept."""

    def __init__(self, stop):
        self.stop = stop

    def wants(self, iteration: int) -> bool:
        return self.stop() is not None

    def seen(self, step):
        return self.stop()

    def stopping(self):
        return self.stop()


# What every frame and waypoint runs with: the favourites' edges are painted (a frame starts from them, so no
# margin); every frame runs its iterations (an even flow); no anchor (the hold is the frame before).
SETTINGS = dict(margin=0, tile=None, scales=None, save_every=0, print_every=0, stop_at=0.0, anchor_weight=0.0)


def _base(preparation, o: Options) -> Problem:
    return preparation.plain_for(o.replace(mode="none", init="random", **SETTINGS))


@dataclass
class Waypoint:
    """A walk's waypoint, painted as a still from the favourite's picture (``start``, raw) for
    ``WAYPOINT_SHARE`` of a still's iterations, its swatch made as a still's. The legs then end on it as on a
    favourite. A task of its own (executors.Work's ``task``): the legs to and from it need it first."""

    opts: Options
    start: Image.Image
    iterations: int
    swatch_iterations: int

    def run(self, preparation, watch=None) -> Painted:
        o = self.opts.replace(**SETTINGS, iterations=self.iterations)
        base = _base(preparation, o)
        p, sw = _reached(vary(base, o), None, self.swatch_iterations)
        out = optimise(p, _tensor(self.start, base), [_Asks(watch.stop)] if watch else ())
        if out.interrupted or out.stopped:
            return Painted([], out.stopped or "interrupted")
        shown = finish_images(p, out.x)[0][0]
        return Painted([(to_pil(out.x, p.pre)[0], None if sw is None else to_pil(sw, p.pre)[0], shown)])


@dataclass
class Leg:
    """One leg of a morph, whole in itself so that any worker can paint it (executors.Work's ``task``): from
    key ``a`` to key ``b`` (their options), frames ``first`` .. ``first + frames - 1`` of the clip, the last
    b's own picture (``shown``). The first frame starts from a's picture (``start``, the raw image the
    optimiser reached) and its swatch from a's (``start_swatch``); each frame is held to the one before and
    pulled towards b's (``goal``)."""

    a: Options
    b: Options
    frames: int
    first: int
    start: Image.Image
    start_swatch: Optional[Image.Image]
    goal: Image.Image
    shown: Image.Image
    iterations: int
    swatch_iterations: int
    temporal_weight: float = TEMPORAL_WEIGHT
    pull_weight: float = PULL_WEIGHT

    def run(self, preparation, watch=None) -> Painted:
        """The leg's frames; ``watch`` (an executor's Watch) hears each frame as a Tick of phase "frame"
        (``iteration``: its index in the clip) and may stop the leg: the frames made are kept."""
        from .executors import Tick

        made, stopped = [], None
        try:
            for f in self.paint(preparation, watch):
                made.append(f)
                if watch is not None:
                    side = watch.preview_side
                    pic = f.image.copy()
                    if side:
                        pic.thumbnail((side, side))
                    watch.emit(Tick("frame", f.index, self.first + self.frames - 1, round(f.seconds, 3),
                                    max(f.image.size), [], [pic] if side else None))  # fmt: skip
        except _Stop as stop:
            stopped = stop.reason
        except KeyboardInterrupt:
            stopped = "interrupted"
        return Painted(made, stopped)

    def paint(self, preparation, watch=None):
        observers = [_Asks(watch.stop)] if watch is not None else []
        o0 = point(self.a, self.b, 0.0)
        base = _base(preparation, o0)
        x, goal = _tensor(self.start, base), _tensor(self.goal, base)
        sw = None if self.start_swatch is None else to_tensor(self.start_swatch, base.pre, base.device)
        for i in range(1, self.frames + 1):
            t, index, started = i / self.frames, self.first + i - 1, time.perf_counter()
            if i == self.frames:  # the leg ends on its favourite itself
                yield Frame(index, t, self.shown)
                return
            o = point(self.a, self.b, t)
            o = o.replace(**SETTINGS, iterations=self.iterations)
            p, sw = _reached(vary(_base(preparation, o), o), sw, self.swatch_iterations)
            left = self.frames - i  # frames to the favourite: each takes its share of the way left
            terms = [Hold(self.temporal_weight, x), Toward(self.pull_weight * self.temporal_weight / left, goal)]
            out = optimise(dataclasses.replace(p, terms=tuple(terms)), x, observers)
            if out.interrupted:
                raise KeyboardInterrupt
            if out.stopped:
                raise _Stop(out.stopped)
            x = out.x.detach()
            yield Frame(index, t, finish_images(p, x)[0][0], time.perf_counter() - started, out.done)

    @property
    def work_iterations(self) -> int:
        return (self.frames - 1) * self.iterations


class _Stop(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or a cancel) during :func:`morph`: the frames made are written (``pictures``, and the video at
    ``output``)."""

    def __init__(self, pictures: list, output: Optional[str]):
        super().__init__()
        self.pictures, self.output = pictures, output


def _ends(plan: Plan, run_waypoints) -> dict:
    """id(key) -> (raw picture, swatch or None, picture shown) of every key the legs start or end at: the
    favourites' from their files, a walk's waypoints painted (``run_waypoints(list of Waypoint)`` -> their
    Painted, in order: here or through an executor)."""
    ends, due = {}, []
    for k in plan.keys:
        if id(k) in ends or (k.path is None and any(id(k) == id(d) for d in due)):
            continue
        if k.path:
            sw = images.swatch_path(k.path) if k.opts.mode != "none" else None
            ends[id(k)] = (
                images.load_rgb(start_of(k.path, k.data), "favourite"),
                _unturned(images.load_rgb(sw, "swatch"), k.opts) if sw and os.path.isfile(sw) else None,
                Image.open(k.path).convert("RGB"),
            )
        else:
            due.append(k)
    if due:
        first = ends[id(plan.keys[0])][0]
        iterations = [max(1, round(WAYPOINT_SHARE * k.opts.iterations)) for k in due]
        painted = run_waypoints([Waypoint(k.opts, first, n, plan.swatch_iters()) for k, n in zip(due, iterations)])
        for k, p in zip(due, painted):
            if p.stopped or not p.frames:
                raise _Stop(p.stopped or "stopped")
            ends[id(k)] = p.frames[0]
    return ends


def legs(plan: Plan, ends: dict) -> list[Leg]:
    """The plan's legs, each whole in itself (:class:`Leg`); frame 0 of the clip is the first favourite."""
    out = []
    for n, (a, b) in enumerate(plan.legs):
        start, start_sw, _ = ends[id(a)]
        goal, _, shown = ends[id(b)]
        out.append(
            Leg(
                a.opts,
                b.opts,
                plan.frames,
                1 + n * plan.frames,
                start,
                start_sw,
                goal,
                shown,
                plan.iterations(),
                plan.swatch_iters(),
                plan.temporal_weight,
                plan.pull_weight,
            )  # fmt: skip
        )
    return out


def morph(
    plan: Plan,
    output: Optional[str] = None,
    *,
    frames_dir: Optional[str] = None,
    content=None,
    styles=None,
    progress: bool = False,
    executor=None,
    on_frame=None,
    stop=lambda: None,
) -> list[Image.Image]:
    """Make ``plan``'s frames; write them to ``output`` (a video) and/or ``frames_dir`` (PNGs), each with the
    morph's recipe. The waypoints, then the legs, go to ``executor`` (default: this process, one after
    another; on a Ray cluster, side by side) as tasks. ``on_frame(index, picture)`` hears each frame as it is
    made (a preview where the executor makes them elsewhere); ``stop()`` (a reason, or None) ends the morph.
    Ctrl-C or a stop keeps the frames made from the first on: they are written, then :class:`Interrupted` is
    raised."""
    from .executors import Work, make

    if output is not None:
        write_check(output)
    if frames_dir is not None:
        try:
            os.makedirs(frames_dir, exist_ok=True)
        except OSError as e:
            raise EigenstyleError(f"cannot create {frames_dir}: {e.strerror}") from None
    first = plan.keys[0]
    content, styles = recorded_inputs(first.data, first.path, content, styles)
    executor = executor or make("local")
    data, started, total = plan.recipe(), time.perf_counter(), 1 + len(plan.legs) * plan.frames
    made: dict = {}

    def tick(handle, t) -> None:
        if t.phase == "frame" and on_frame is not None and t.pictures:
            on_frame(t.iteration, t.pictures[0])
        if t.phase == "frame" and progress:
            print(f"frame {t.iteration + 1}/{total}: {t.elapsed:.1f} s", flush=True)

    def run_all(tasks) -> list:
        handles = [executor.submit(Work(content, styles, [], task=task), tick, stop) for task in tasks]
        results, reason = {}, None
        try:
            for h in executor.completed(handles, progress=progress and executor.name != "local"):  # a cluster's board
                if h.error:
                    raise EigenstyleError(h.error)
                result = h.results or Painted([], h.reason or "cancelled")
                results[id(h)] = result
                if result.stopped and reason is None:
                    reason = result.stopped
                    executor.cancel_all([g for g in handles if id(g) not in results], reason)
                if isinstance(h.work.task, Leg):
                    for f in result.frames:
                        keep(f)
        except KeyboardInterrupt:
            reason = "interrupted"
        return [results.get(id(h), Painted([], reason or "cancelled")) for h in handles], reason

    def keep(f: Frame) -> None:
        made[f.index] = f.image
        if frames_dir is not None:
            name = os.path.join(frames_dir, f"frame-{f.index:05d}.png")
            images.save_atomic(f.image, name, recipe.dumps({**data, "frame": f.index}))

    reason = stop()
    try:
        if reason is None:
            ends = _ends(plan, lambda wps: _raise_stop(*run_all(wps)))
            keep(Frame(0, 0.0, ends[id(first)][2]))
            if on_frame is not None:
                on_frame(0, made[0])
            _, reason = run_all(legs(plan, ends))
    except _Stop as s:
        reason = s.reason
    done = []  # the frames from the first on, up to the first missing one
    while len(done) in made:
        done.append(made[len(done)])
    data = {**data, "frames_made": len(done), "seconds": round(time.perf_counter() - started, 1)}
    if reason is not None:
        data["interrupted"] = True
    if output is not None and done:
        from .files import stops_held

        with stops_held():
            write(done, output, plan.fps, data)
    if reason is not None:
        raise Interrupted(done, output if done else None)
    return done


def _raise_stop(painted: list, reason: Optional[str]) -> list:
    if reason is not None:
        raise _Stop(reason)
    return painted


def write_check(path: str) -> None:
    """Refuse a video path eigenstyle cannot write, before any frame is made."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise EigenstyleError(f"a morph is written as {', '.join(FORMATS)}, not {ext or 'a file without extension'}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise EigenstyleError(f"cannot write {path}: no writable folder {folder}")


def _tensor(im: Image.Image, base: Problem) -> torch.Tensor:
    """A picture as the optimiser sees it, checked to be the morph's size."""
    if im.size != base.content.size:
        raise EigenstyleError(f"a favourite is {im.size[0]}x{im.size[1]} px; the morph runs at {base.content.size}")
    return to_tensor(im, base.pre, base.device)


def _reached(p: Problem, sw: Optional[torch.Tensor], iterations: int) -> tuple[Problem, Optional[torch.Tensor]]:
    """The frame's swatch, synthesised from the frame before's (its texture evolves); the first one from noise,
    with a still's iterations. What the next frame's starts from is the texture before its palette turn
    (:func:`_unturned`): each frame turns its own by its own angle."""
    if p.regions:  # each randomised region's swatch made afresh (a region's texture does not evolve yet)
        return swatches.reach([p])[0], sw
    if p.opts.mode == "none":
        return p, sw
    side = p.opts.swatch_side()
    if sw is None or tuple(sw.shape[-2:]) != (side, side):
        p = swatches.reach([p])[0]
        return p, to_tensor(_unturned(p.swatch.convert("RGB"), p.opts), p.pre, p.device)
    x, _ = swatches.synthesize([p], side, iterations, [0], start=sw)
    return swatches.given(p, swatches.finish_swatch(to_pil(x, p.pre)[0], p.opts)), x.detach()


def _unturned(picture: Image.Image, opts: Options) -> Image.Image:
    """A swatch picture with its palette turn undone (a favourite's, a first frame's): the texture a path's
    next swatch starts from."""
    from .randomize import palette_turn

    return swatches.turn_hue(picture, -palette_turn(opts))


def write(pictures: Sequence[Image.Image], path: str, fps: float, data: dict) -> str:
    """The frames as a video at ``path`` (by its extension: .mp4, .webp, .gif), written atomically, with
    the morph's recipe ``data`` in it."""
    write_check(path)
    ext = os.path.splitext(path)[1].lower()
    if not pictures:
        raise EigenstyleError("no frames to write")
    text = recipe.dumps(data)
    with atomic_path(path, suffix=ext) as tmp:
        if ext == ".mp4":
            _mp4(pictures, tmp, fps, text)
        elif ext == ".webp":  # lossless: lossy WebP re-keys every few frames, a pop of 4 levels each time
            ms = max(1, round(1000 / fps))
            pictures[0].save(tmp, "WEBP", save_all=True, append_images=list(pictures[1:]), duration=ms, loop=0,
                             lossless=True, exif=_exif(text))  # fmt: skip
        else:
            _gif(pictures, tmp, fps, text)
    return path


def _gif(pictures, path: str, fps: float, text: str) -> None:
    """One palette for every frame (from frames across the clip) and no dithering: a GIF's own palette and
    dither per frame made the still picture crawl (2.2 levels of change a frame where the frames changed 0.3)."""
    pictures = [p.convert("RGB") for p in pictures]
    picks = pictures[:: max(1, len(pictures) // 8)][:8]
    w, h = picks[0].size
    strip = Image.new("RGB", (w, h * len(picks)))
    for k, p in enumerate(picks):
        strip.paste(p, (0, k * h))
    palette = strip.quantize(256, method=Image.Quantize.FASTOCTREE)
    frames = [p.quantize(palette=palette, dither=Image.Dither.NONE) for p in pictures]
    ms = max(1, round(1000 / fps))
    frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=ms, loop=0, comment=text.encode())


def _exif(text: str) -> bytes:
    from .writers import ascii_json

    exif = Image.Exif()
    exif[0x010E] = f"{RECIPE_KEY}:{ascii_json(text)}"  # ImageDescription (ASCII)
    return exif.tobytes()


def _mp4(pictures, path: str, fps: float, text: str) -> None:
    import fractions

    import av
    import numpy as np

    w, h = pictures[0].size
    w2, h2 = w - w % 2, h - h % 2  # H.264's 4:2:0 wants even sides: an odd last row or column is left out
    with av.open(path, "w", format="mp4") as out:
        out.metadata["comment"] = f"{RECIPE_KEY}:{text}"
        stream = out.add_stream("libx264", rate=fractions.Fraction(fps).limit_denominator(1000))
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        stream.options = {"crf": "18", "preset": "medium"}
        for im in pictures:
            frame = av.VideoFrame.from_ndarray(np.asarray(im.convert("RGB"))[:h2, :w2], format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def plan_of(data: dict) -> Plan:
    """A morph's recipe as its plan again: its favourites found where they were (and unchanged), its walk's
    children drawn from the same seeds, every setting as it ran."""
    paths = []
    for k in data["keys"]:
        path = k.get("path")
        if not path or not os.path.isfile(path):
            raise EigenstyleError(f"favourite of the morph not found: {path}")
        if recipe.identity_of_file(path)["sha256"] != k.get("sha256"):
            raise EigenstyleError(f"favourite {path} differs from the one the morph used (sha256 mismatch)")
        paths.append(path)
    keys = keys_of(paths)
    walk = data.get("walk")
    if walk:
        keys = walk_keys(keys[0], int(walk["steps"]), float(walk["amount"]), int(walk["seed"]))
    settings = ("frames", "loop", "fps", "frame_iterations", "swatch_iterations", "temporal_weight", "pull_weight")
    return Plan(keys, walk=walk, **{k: data[k] for k in settings})


def read_recipe(path: str) -> Optional[dict]:
    """The morph recipe a video or frame carries, or None."""
    ext = os.path.splitext(path)[1].lower()
    text = None
    try:
        if ext == ".mp4":
            import av

            with av.open(path) as f:
                text = f.metadata.get("comment")
        elif ext in (".gif", ".webp"):
            with Image.open(path) as im:
                text = im.info.get("comment", b"").decode() if ext == ".gif" else im.getexif().get(0x010E)
                text = text if ext != ".gif" else f"{RECIPE_KEY}:{text}" if text else None
    except Exception as e:  # an unreadable container: a clear line, not a traceback
        raise EigenstyleError(f"cannot read {path}: {e}") from None
    if not text or not text.startswith(RECIPE_KEY + ":"):
        return None
    data = json.loads(text[len(RECIPE_KEY) + 1 :])
    return data if data.get("format") == RECIPE_KEY else None
