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
seamless loop. Its children are painted first, from the favourite, then gone through as favourites are.
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

from . import images, recipe
from . import swatch as swatches
from ._version import __version__
from .errors import EigenstyleError
from .files import atomic_path
from .loop import optimise
from .objective import Term
from .options import Options
from .printing import recorded_inputs, start_of
from .problem import Problem, prepare, vary
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


def point(a: Options, b: Options, t: float) -> tuple[Options, Optional[dict]]:
    """The path's target at ``t`` between keys ``a`` and ``b`` (0: a's, 1: b's): their genomes blended (a
    genome ``between``), strengths in proportion (a plain run is strength 0); between two single style layers,
    both layers, with the balanced weights cross-faded (returned per layer, else None).

    >>> o, w = point(Options(mode="none"), Options(mode="variant", variant_seed=3, strength=0.8), 0.5)
    >>> (o.mode, o.genome, o.strength, w)
    ('variant', {'seed': 3}, 0.4, None)
    """
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
    weights = None
    if tuple(a.style_layers) != tuple(b.style_layers):
        if len(a.style_layers) != 1 or len(b.style_layers) != 1:
            raise EigenstyleError("a layer morph goes from one single style layer to another (e.g. relu3_2 to relu3_3)")
        la, lb = a.style_layers[0], b.style_layers[0]
        weights = {la: (1 - t) * a.style_weight_value(), lb: t * b.style_weight_value()}
        o = o.replace(style_layers=(la, lb), random_layers=None if o.mode == "none" else (la, lb), style_weight=0.0)
    return o, weights


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


class Faded(Term):
    """neural-style's style loss with a weight per layer (a layer morph's cross-fade)."""

    name = "faded"

    def __init__(self, weights: dict):
        super().__init__(1.0)
        self.weights = dict(weights)
        self.layers = tuple(weights)

    def __call__(self, x, feats, problem):
        from .losses import gram, style_loss

        total = x.new_zeros(x.shape[0])
        for name, w in self.weights.items():
            if w > 0:
                total = total + w * style_loss(gram(feats[name]), problem.targets.style[name])
        return total


@dataclass
class Frame:
    index: int
    leg: int
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


def frames(plan: Plan, *, content=None, styles=None):
    """The morph's frames, one at a time (a generator: stop it and the frames made are kept). The first frame
    is the first favourite, pixel for pixel, and each leg ends on its favourite; a walk's waypoints are painted
    first (:func:`_painted`), then gone through as favourites are. Ctrl-C during a frame raises
    KeyboardInterrupt: that frame is not made."""
    first = plan.keys[0]
    content, styles = recorded_inputs(first.data, first.path, content, styles)
    settings = dict(
        margin=0,  # the favourites' edges are painted: a frame starts from them
        tile=None,
        scales=None,
        save_every=0,
        print_every=0,
        stop_at=0.0,  # every frame runs its iterations: the flow is even
        iterations=plan.iterations(),
        anchor_weight=0.0,
    )
    bases: dict = {}  # a prepared problem per set of style layers (a layer morph's frames have two)

    def base_for(o: Options) -> Problem:
        layers = tuple(o.style_layers)
        if layers not in bases:
            bases[layers] = prepare(content, styles, o.replace(mode="none", init="random", **settings))
        return bases[layers]

    base = base_for(first.opts)
    ends: dict = {}  # id(key) -> (picture in network units, swatch or None, image): where its legs end

    def end(key: Key) -> tuple:
        if id(key) not in ends:
            if key.path:
                ends[id(key)] = (_picture(key, base), _swatch_of(key, base), Image.open(key.path).convert("RGB"))
            else:
                ends[id(key)] = _painted(key, base_for, settings, plan, ends[id(first)][0])
        return ends[id(key)]

    x, sw, im = end(first)
    yield Frame(0, 0, 0.0, im)
    index = 1
    for leg, (a, b) in enumerate(plan.legs):
        goal, goal_sw, goal_im = end(b)
        for i in range(1, plan.frames + 1):
            t = i / plan.frames
            started = time.perf_counter()
            if i == plan.frames:  # the leg ends on its favourite itself
                x, sw = goal, (goal_sw if goal_sw is not None else sw)
                yield Frame(index, leg, t, goal_im)
                index += 1
                continue
            o, weights = point(a.opts, b.opts, t)
            o = o.replace(**settings)
            p, sw = _reached(vary(base_for(o), o), sw, plan.swatch_iters())
            left = plan.frames - i  # frames to the favourite: each takes its share of the way left
            terms = [
                Hold(plan.temporal_weight, x.detach()),
                Toward(plan.pull_weight * plan.temporal_weight / left, goal),
            ]
            if weights is not None:  # a layer morph: the layers' weights cross-faded (the options' style term is 0)
                terms.append(Faded(weights))
            out = optimise(dataclasses.replace(p, terms=tuple(terms)), x)
            if out.interrupted:
                raise KeyboardInterrupt
            x = out.x.detach()
            yield Frame(index, leg, t, finish_images(p, x)[0][0], time.perf_counter() - started, out.done)
            index += 1


def _painted(key: Key, base_for, settings: dict, plan: Plan, start: torch.Tensor) -> tuple:
    """A walk's waypoint painted as a still: its target, from the favourite's picture (``start``), for
    ``WAYPOINT_SHARE`` of a still's iterations, its swatch made as a still's. The legs then end on it as on a
    favourite, so a walk's frames travel as a morph's do."""
    o = key.opts.replace(**{**settings, "iterations": max(1, round(WAYPOINT_SHARE * key.opts.iterations))})
    p, sw = _reached(vary(base_for(o), o), None, plan.swatch_iters())
    out = optimise(p, start)
    if out.interrupted:
        raise KeyboardInterrupt
    return out.x.detach(), sw, finish_images(p, out.x)[0][0]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`morph`: the frames made are written (``pictures``, and the video at ``output``)."""

    def __init__(self, pictures: list, output: Optional[str]):
        super().__init__()
        self.pictures, self.output = pictures, output


def morph(
    plan: Plan,
    output: Optional[str] = None,
    *,
    frames_dir: Optional[str] = None,
    content=None,
    styles=None,
    progress: bool = False,
) -> list[Image.Image]:
    """Make ``plan``'s frames; write them to ``output`` (a video) and/or ``frames_dir`` (PNGs), each with the
    morph's recipe. Ctrl-C keeps the frames made: they are written, then :class:`Interrupted` is raised."""
    if output is not None:
        write_check(output)
    if frames_dir is not None:
        try:
            os.makedirs(frames_dir, exist_ok=True)
        except OSError as e:
            raise EigenstyleError(f"cannot create {frames_dir}: {e.strerror}") from None
    data, made, interrupted = plan.recipe(), [], False
    total = 1 + len(plan.legs) * plan.frames
    started = time.perf_counter()
    try:
        for f in frames(plan, content=content, styles=styles):
            made.append(f.image)
            if frames_dir is not None:
                images.save_atomic(
                    f.image,
                    os.path.join(frames_dir, f"frame-{f.index:05d}.png"),
                    recipe.dumps({**data, "frame": f.index}),
                )
            if progress:
                print(
                    f"frame {f.index + 1}/{total} (leg {f.leg + 1}, t={f.t:.2f}): {f.iterations} it, {f.seconds:.1f} s",
                    flush=True,
                )
    except KeyboardInterrupt:
        interrupted = True
    data = {**data, "frames_made": len(made), "seconds": round(time.perf_counter() - started, 1)}
    if interrupted:
        data["interrupted"] = True
    if output is not None and made:
        from .files import stops_held

        with stops_held():
            write(made, output, plan.fps, data)
    if interrupted:
        raise Interrupted(made, output if made else None)
    return made


def write_check(path: str) -> None:
    """Refuse a video path eigenstyle cannot write, before any frame is made."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise EigenstyleError(f"a morph is written as {', '.join(FORMATS)}, not {ext or 'a file without extension'}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        raise EigenstyleError(f"cannot write {path}: no writable folder {folder}")


def _picture(key: Key, base: Problem) -> torch.Tensor:
    """A favourite as the optimiser sees it (its raw image where levels were applied to it)."""
    im = images.load_rgb(start_of(key.path, key.data), "favourite")
    if im.size != base.content.size:
        raise EigenstyleError(f"{key.path} is {im.size[0]}x{im.size[1]} px; the morph runs at {base.content.size}")
    return to_tensor(im, base.pre, base.device)


def _swatch_of(key: Key, base: Problem) -> Optional[torch.Tensor]:
    """A favourite's swatch (saved beside it), where the path's swatches start from; None where it has none."""
    if key.path is None or key.opts.mode == "none":
        return None
    path = images.swatch_path(key.path)
    return to_tensor(images.load_rgb(path, "swatch"), base.pre, base.device) if os.path.isfile(path) else None


def _reached(p: Problem, sw: Optional[torch.Tensor], iterations: int) -> tuple[Problem, Optional[torch.Tensor]]:
    """The frame's swatch, synthesised from the frame before's (its texture evolves); the first one from noise,
    with a still's iterations."""
    if p.opts.mode == "none":
        return p, sw
    side = p.opts.swatch_side()
    if sw is None or tuple(sw.shape[-2:]) != (side, side):
        p = swatches.reach([p])[0]
        return p, to_tensor(p.swatch.convert("RGB"), p.pre, p.device)
    x, _ = swatches.synthesize([p], side, iterations, [0], start=sw)
    picture = swatches.clean_colour(to_pil(x, p.pre)[0], p.opts.swatch_chroma_blur)
    return swatches.given(p, picture), x.detach()


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
