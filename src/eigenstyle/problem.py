"""Setting up a run: files and options in, a :class:`Problem` out.

Everything that can fail because of the user's input (unreadable images, an
unknown device, a size too small for the layers, a style file made with other
weights, not enough memory) fails here, before the first iteration. The
:class:`Problem` is then fixed for the run; :func:`vary` swaps in other Gram
targets without recomputing the network or the style's own Grams, which is what
makes variants and batches cheap.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import warnings
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import torch
from PIL import Image

from . import images, recipe, regions, tiled
from .errors import EigenstyleError, is_out_of_memory
from .files import Carried
from .memory import available_bytes, history_for, out_of_memory_error, tile_for
from .options import LBFGS_HISTORY, Options, names
from .randomize import Randomization, randomize_targets
from .stopping import checkpoint
from .targets import Targets, check_size, content_targets, style_grams, to_tensor
from .values import option_name
from .vgg.network import VGG, Preprocessing, Weights, arithmetic, built, load_weights

ImageInput = Union[str, os.PathLike, Image.Image, Carried]

# The options that prepare() reads (the network, the content features, the style's own Grams: declared with the
# options, uses "prepare"); everything else is vary()'s, redone per run. Runs that agree on these share one
# preparation (a test records what prepare() reads).
PREPARED_FROM = names("prepare")


@dataclass
class Problem:
    """Everything fixed during a run: network, targets and where they came from."""

    opts: Options
    net: VGG
    weights: Weights
    device: torch.device
    content: Image.Image  # resized content, RGB
    content_tensor: torch.Tensor  # [1, 3, H, W] network units
    targets: Targets
    inputs: dict = field(default_factory=dict)  # recipe identity of content and styles
    base_style: dict = field(default_factory=dict)  # the style's own Grams, before randomisation
    report: dict = field(default_factory=dict)  # what the randomisation did, per layer
    swatch: Optional[Image.Image] = None  # a picture of the randomised style (its swatch: swatch.py puts it in)
    swatch_restarted_at: Optional[list] = None  # iterations its swatch's synthesis diverged at (loop.optimise)
    anchor: Optional[torch.Tensor] = None  # the coarser image a scale keeps (--anchor-weight), network units
    arithmetic: dict = field(default_factory=dict)  # how precision and conv were chosen (speed.Choice.recipe)
    terms: tuple = ()  # objective terms of the caller's own, after the options' (objective.terms_of)
    masks: Optional["regions.Masks"] = None  # --mask: the regions' masks and network-made targets (regions.py)
    regions: tuple = ()  # --region: each region's style, a problem of its own (regions.regions_of)

    @property
    def pre(self) -> Preprocessing:
        return self.weights.preprocessing

    def visible(self, x: torch.Tensor) -> torch.Tensor:
        """The picture in ``x`` [N, 3, H, W], the run's canvas: without its --margin, which is painted and cut."""
        m = self.opts.margin
        return x[..., m : x.shape[-2] - m, m : x.shape[-1] - m] if m else x


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise EigenstyleError(f"{option_name('device')}: unknown device {name!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EigenstyleError(f"{option_name('device')} {name}: CUDA is not available on this machine")
    return dev


def network_of(opts: Options, device: torch.device) -> tuple[Weights, VGG, dict]:
    """The weights and network (shared: see ``network.built``) of a run, and how its arithmetic was
    chosen (the recipe's ``arithmetic``: ``--precision``/``--conv`` auto time the candidates once)."""
    weights = load_weights(opts.model, opts.model_file)
    layers = tuple(opts.content_layers) + tuple(opts.style_layers)
    computed = tuple(opts.content_layers) + opts.active_style_layers()  # what the run's iterations compute
    choice = arithmetic(opts.precision, opts.conv, device, weights, computed, opts.pooling, opts.size)
    net = built(weights, layers, opts.pooling, choice.precision, choice.conv, device)
    return weights, net, choice.recipe()


def _load(im: ImageInput, what: str) -> tuple[Image.Image, dict]:
    if isinstance(im, Carried):  # a file read on another machine (executors): its identity is that file's
        return images.load_rgb(im.local(), what), {"path": im.path, "sha256": im.sha256}
    if isinstance(im, Image.Image):
        rgb = images._to_rgb(im)
        return rgb, recipe.identity_of_pixels(rgb)
    path = os.fspath(im)
    return images.load_rgb(path, what), recipe.identity_of_file(path)


def prepare(content: ImageInput, styles: Sequence[ImageInput], opts: Options, terms: Sequence = ()) -> Problem:
    """Load and check everything before any long computation starts. A randomised style comes without
    its swatch (see vary): swatch.given or swatch.reach puts it in. ``terms``: objective terms of the caller's
    own (objective.Term), checked here. An observer in reach (stopping.asking) may stop it before it starts
    and while its arithmetic is timed."""
    checkpoint()
    if isinstance(styles, (str, os.PathLike, Image.Image)):
        styles = [styles]
    styles = list(styles or [])
    file_grams = None
    if opts.style_file:
        if styles:
            raise EigenstyleError(f"give style images or {option_name('style_file')}, not both")
        from .stylefile import load_style

        file_grams, meta = load_style(opts.style_file)
        opts = opts.replace(style_layers=tuple(meta["layers"]))
        opts.validate()
    elif not styles:
        raise EigenstyleError("give at least one style image")
    blend = list(opts.style_blend_weights or [1.0] * len(styles))
    if len(blend) != len(styles) and not file_grams:
        raise EigenstyleError(
            f"{option_name('style_blend_weights')} has {len(blend)} values for {len(styles)} style images"
        )
    content_im, content_id = _load(content, "content image")
    style_ims = [_load(s, f"style image {i + 1}") for i, s in enumerate(styles)]
    read_masks = regions.read(opts, content_im.size) if opts.mask else None  # a bad mask: before any computation
    device = resolve_device(opts.device)
    asked = opts
    if opts.precision == "auto" and _at_the_memory_edge(opts, content_im.size, available_bytes(device)):
        # memory.py's model is fp32's (autocast keeps bf16 copies beside the fp32 features), and timing bf16
        # maps memory of its own: a run that must save memory runs in the arithmetic whose memory was measured
        opts = opts.replace(precision="fp32")
    weights, net, chosen = network_of(opts, device)
    # settled here, so that the recipe records the arithmetic that ran and reproduces it exactly
    if (opts.precision, opts.conv) != (net.precision, net.conv):
        opts = opts.replace(precision=net.precision, conv=net.conv)

    content_im = images.resize(content_im, images.fit_size(*content_im.size, opts.size))
    check_size(content_im.size, net, "the content image")
    free = available_bytes(device)
    opts = _fit_memory(opts, net, content_im.size, free)
    if opts.tile and net.bf16 and asked.precision == "auto":
        # memory.py's model of a tile is fp32's (autocast keeps bf16 copies beside the fp32 features):
        # a run too large to run whole stays in the arithmetic whose memory was measured
        weights, net, chosen = network_of(opts.replace(precision="fp32", conv=asked.conv), device)
        opts = opts.replace(precision=net.precision, conv=net.conv)
    try:
        problem = _targets(
            opts,
            net,
            weights,
            device,
            content_im,
            content_id,
            style_ims,
            blend,
            file_grams,
            meta if file_grams is not None else None,
            read_masks,
        )
        return dataclasses.replace(problem, arithmetic=chosen, terms=own_terms(terms, opts))
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        error = out_of_memory_error(opts, content_im.size[0] * content_im.size[1], 1, device, net.min_side(), free)
    raise error


def own_terms(terms: Sequence, opts: Options) -> tuple:
    """A caller's objective terms, checked: Terms, named apart from each other and from the options' own."""
    from .objective import BUILT_IN, Term

    terms, seen = tuple(terms or ()), set(BUILT_IN)
    for t in terms:
        if not isinstance(t, Term):
            raise EigenstyleError(f"terms: {t!r} is not an objective.Term")
        if t.name in seen or t.name == "total":
            raise EigenstyleError(f"terms: the name {t.name!r} is taken; give your term another")
        seen.add(t.name)
        missing = [layer for layer in t.layers if layer not in tuple(opts.content_layers) + tuple(opts.style_layers)]
        if missing:
            raise EigenstyleError(f"terms: {t.name} reads {', '.join(missing)}: add it to the content or style layers")
    return terms


def _at_the_memory_edge(opts: Options, size: tuple[int, int], free: Optional[int]) -> bool:
    """Whether the memory budget (--max-memory, else what is free) shortens the run's L-BFGS history: the
    first sign of a run at print size, before any network is built."""
    budget = int(opts.max_memory * 2**30) if opts.max_memory else free
    pixels = images.fit_size(*size, opts.size)
    return opts.lbfgs_history is None and history_for(opts, pixels[0] * pixels[1], budget) < LBFGS_HISTORY


def _fit_memory(opts: Options, net: VGG, size: tuple[int, int], free: Optional[int]) -> Options:
    """Settle what the memory budget (--max-memory, else what is free) decides: the L-BFGS history
    (auto: 100, fewer at print sizes) and, too large to run whole, the largest tiles that fit
    (tiled.py; exact). Both go into the options, hence the recipe."""
    budget = int(opts.max_memory * 2**30) if opts.max_memory else free
    history = history_for(opts, size[0] * size[1], budget)
    if opts.lbfgs_history is None and history < LBFGS_HISTORY:
        warnings.warn(
            images.InputNote(
                f"{size[0]}x{size[1]} px: keeping {history} L-BFGS correction pairs instead of {LBFGS_HISTORY}, "
                f"to stay within {budget / 2**30:.1f} GiB (--lbfgs-history sets it)"
            ),
            stacklevel=3,
        )
    if history != opts.lbfgs_history:
        opts = opts.replace(lbfgs_history=history)
    if opts.tile is not None or not budget:
        return opts
    geo = tiled.geometry(net)
    tile = tile_for(opts, size[1], size[0], budget, geo.halo, geo.align)
    if tile is None:
        return opts
    warnings.warn(
        images.InputNote(
            f"{size[0]}x{size[1]} px does not fit whole in {budget / 2**30:.1f} GiB; evaluating it in {tile} px tiles"
        ),
        stacklevel=2,
    )
    return opts.replace(tile=tile)


def _targets(
    opts, net, weights, device, content_im, content_id, style_ims, blend, file_grams, meta, read_masks
) -> Problem:
    """The content features and style Grams: the first large allocations of a run."""
    # the canvas: with --margin the photograph reflected out on every side (Problem.visible cuts it away)
    content_tensor = to_tensor(images.reflected(content_im, opts.margin), weights.preprocessing, device)
    inputs = {"content": content_id, "styles": [sid for _, sid in style_ims]}
    if file_grams is not None:
        if meta["weights"].get("sha256") != weights.sha256:
            raise EigenstyleError(
                f"{option_name('style_file')} {opts.style_file} was made with other network "
                f"weights ({meta['weights'].get('model')}); use the same {option_name('model')}/"
                f"{option_name('model_file')}"
            )
        base = {k: g.to(device) for k, g in file_grams.items()}
        inputs["style_file"] = recipe.identity_of_file(opts.style_file)
    else:
        style_size = max(1, round(opts.size * opts.style_scale))
        style_tensors = []
        for i, (im, _) in enumerate(style_ims):
            im = images.resize(im, images.fit_size(*im.size, style_size))
            check_size(im.size, net, f"style image {i + 1}")
            style_tensors.append(to_tensor(im, weights.preprocessing, device))
        base = style_grams(net, style_tensors, opts.style_layers, blend, opts.tile)
    problem = Problem(
        opts,
        net,
        weights,
        device,
        content_im,
        content_tensor,
        Targets(content_targets(net, content_tensor, opts.content_layers, opts.tile), base),
        inputs,
        base,
    )
    if read_masks is not None:  # regions: their masks at the style layers, the targets needing the network
        masks = regions.prepare_masks(opts, read_masks, net, content_tensor)
        masks.grams = _region_styles(opts, net, weights, device)
        inputs["mask"] = [recipe.identity_of_file(regions.mask_path(entry)) for entry in opts.mask]
        problem = dataclasses.replace(problem, masks=masks)
    return vary(problem, opts)


def _region_styles(opts, net, weights, device) -> dict:
    """The Grams of the regions that wear another style image or a style file (--region NAME=PATH), by name."""
    from .stylefile import load_style

    grams = {}
    for spec in regions.specs_of(opts):
        what = f"region {spec.name}'s style"
        if spec.kind == "image":
            im, _ = _load(spec.path, f"{what} image")
            im = images.resize(im, images.fit_size(*im.size, max(1, round(opts.size * opts.style_scale))))
            check_size(im.size, net, f"{what} image")
            grams[spec.name] = style_grams(
                net, [to_tensor(im, weights.preprocessing, device)], opts.style_layers, [1.0]
            )
        elif spec.kind == "file":
            file_grams, meta = load_style(spec.path)
            if meta["weights"].get("sha256") != weights.sha256 or set(opts.style_layers) - set(file_grams):
                raise EigenstyleError(
                    f"{what} file {spec.path} was made with other style layers or network weights than the run's"
                )
            grams[spec.name] = {k: file_grams[k].to(device) for k in opts.style_layers}
    return grams


def _regions(problem: Problem, opts: Options) -> tuple:
    """The run's regions (--mask), each with a problem of its own from ``problem`` (the run's, without
    regions): its targets and style weights as ``opts`` (as asked, not settled) make them for its style.
    Randomised ones come without their swatch (swatch.reach puts it in)."""
    masks, specs = problem.masks, {s.name: s for s in regions.specs_of(opts)}
    out = []
    for i, name in enumerate(masks.names):
        spec = specs[name]
        p = vary(problem, regions.style_options(opts, spec))
        own = {k: g[:, i] for k, g in masks.content_grams.items()} if spec.kind == "none" else masks.grams.get(name)
        if own is not None:  # the photograph's own look there, or another style image's or file's
            p = dataclasses.replace(p, targets=Targets(p.targets.content, own))
        out.append(regions.Region(i, spec, p))
    return tuple(out)


def resolve_seeds(opts: Options) -> Options:
    """Draw the seeds not given (the recipe records them). Auto values wait for the style source to be read:
    vary settles them."""
    if opts.seed is None:
        opts = opts.replace(seed=secrets.randbits(63))
    if opts.mode != "none" and opts.variant_seed is None and opts.genome is None:
        opts = opts.replace(variant_seed=secrets.randbits(31))
    return opts


def vary(problem: Problem, opts: Options) -> Problem:
    """The same content and style with other options' Gram targets (a variant):
    the network and base Grams are reused, only the randomisation is redone.
    Every auto value is settled here (Options.settled, with what prepare settled), once the style source
    is read. A randomised
    style comes without its swatch, its targets G' alone: they are complete once the swatch is put in,
    one made before (a saved result's: swatch.given) or made now, as a visible step (swatch.reach, which
    every run goes through)."""
    asked, opts = opts, opts.settled(problem.opts)
    inputs = {k: v for k, v in problem.inputs.items() if k != "init"}
    if opts.init not in (None, "random", "image"):  # a warm start (a render's favourite): which file it was
        inputs["init"] = recipe.identity_of_file(opts.init)
    problem = dataclasses.replace(problem, inputs=inputs, net=computing(problem.net, opts), regions=())
    if opts.mask:  # each region wears its own style (the run's own style term is theirs: regions.Guided)
        own = dataclasses.replace(
            problem,
            opts=opts,
            report={},
            swatch=None,
            targets=Targets(problem.targets.content, dict(problem.base_style)),
        )
        return dataclasses.replace(own, regions=_regions(problem, asked))
    if opts.mode == "none":
        return dataclasses.replace(
            problem,
            opts=opts,
            report={},
            swatch=None,
            targets=Targets(problem.targets.content, dict(problem.base_style)),
        )
    r = Randomization.of(opts)
    style, report = randomize_targets(problem.base_style, opts.random_layers_value(), r)
    if opts.eigenvalue_layers_value():  # the deep layers' strokes at other strengths, their eigenvectors kept
        style, more = randomize_targets(style, opts.eigenvalue_layers_value(), r.eigenvalues_only())
        report.update(more)
    varied = dataclasses.replace(
        problem, opts=opts, report=report, swatch=None, targets=Targets(problem.targets.content, style)
    )
    # Every randomised style gets its picture, the swatch (swatch.py); reachable targets also optimise against it.
    check_size((opts.swatch_side(), opts.swatch_side()), problem.net, f"the swatch ({option_name('swatch_size')})")
    return varied


def computing(net: VGG, opts: Options) -> VGG:
    """The prepared network computing what ``opts`` weigh: a style layer at factor 0
    (--style-layer-weights) is not computed, nor any layer past the deepest of the others."""
    layers = tuple(opts.content_layers) + opts.active_style_layers()
    return net if set(layers) == set(net.wanted) else net.only(layers)


def warm(opts: Options) -> None:
    """Build the network of runs like ``opts`` and run it once at their size (its Winograd weights are
    transformed on the first large input), so that the first such run starts at once: the studio's
    workers do this as they start, before the first Generate."""
    device = resolve_device(opts.device)
    with torch.no_grad():
        network_of(opts, device)[1](torch.zeros(1, 3, opts.size, opts.size, device=device))
