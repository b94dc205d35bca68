"""The optimisation loop and the public :func:`stylize`.

``prepare`` turns files and options into a :class:`Problem` (network, targets,
start image); ``optimise`` runs the loop on a batch. Keeping the two apart is
what lets variants swap in other Gram targets and batch them without a second
implementation of the loop.
"""
from __future__ import annotations

import math
import os
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

import torch
from PIL import Image

from . import images, recipe
from .errors import EigenstyleError
from .losses import content_loss, gram, normalize_grad, style_loss, tv_loss
from .network import VGG, Preprocessing, Weights, load_weights
from .optim import make_optimizer
from .options import Options
from .targets import Targets, check_size, content_targets, style_grams, to_pil, to_tensor

ImageInput = Union[str, os.PathLike, Image.Image]


@dataclass
class Problem:
    """Everything fixed during a run: network, targets and where they came from."""
    opts: Options
    net: VGG
    weights: Weights
    device: torch.device
    content: Image.Image          # resized content, RGB
    content_tensor: torch.Tensor  # [1, 3, H, W] network units
    targets: Targets
    inputs: dict = field(default_factory=dict)  # recipe identity of content and styles

    @property
    def pre(self) -> Preprocessing:
        return self.weights.preprocessing


@dataclass
class IterationInfo:
    """What a per-iteration callback sees. Losses are per image of the batch."""
    iteration: int
    iterations: int
    loss: list
    content: list
    style: list
    tv: list
    elapsed: float
    _x: torch.Tensor = field(repr=False, default=None)
    _pre: Preprocessing = field(repr=False, default=None)

    def images(self) -> list[Image.Image]:
        return to_pil(self._x, self._pre)


@dataclass
class Result:
    images: list
    recipe: dict
    interrupted: bool = False
    error: Optional[str] = None

    @property
    def image(self) -> Image.Image:
        return self.images[0]

    def save(self, path: str, index: int = 0) -> str:
        """Write atomically, with the recipe embedded (PNG text chunk or JPEG comment)."""
        return images.save_atomic(self.images[index], path, recipe.dumps(self.recipe))


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise EigenstyleError(f"--device: unknown device {name!r}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EigenstyleError(f"--device {name}: CUDA is not available on this machine")
    return dev


def _load(im: ImageInput, what: str) -> tuple[Image.Image, dict]:
    if isinstance(im, Image.Image):
        rgb = images._to_rgb(im)
        return rgb, recipe.identity_of_pixels(rgb)
    path = os.fspath(im)
    return images.load_rgb(path, what), recipe.identity_of_file(path)


def prepare(content: ImageInput, styles: Sequence[ImageInput], opts: Options) -> Problem:
    """Load and check everything before any long computation starts."""
    if isinstance(styles, (str, os.PathLike, Image.Image)):
        styles = [styles]
    if not styles:
        raise EigenstyleError("give at least one style image")
    blend = list(opts.style_blend_weights or [1.0] * len(styles))
    if len(blend) != len(styles):
        raise EigenstyleError(f"--style-blend-weights has {len(blend)} values for {len(styles)} style images")
    content_im, content_id = _load(content, "content image")
    style_ims = [_load(s, f"style image {i + 1}") for i, s in enumerate(styles)]
    device = resolve_device(opts.device)
    weights = load_weights(opts.model, opts.model_file)
    net = VGG(weights, tuple(opts.content_layers) + tuple(opts.style_layers), opts.pooling).to(device)

    content_im = images.resize(content_im, images.fit_size(*content_im.size, opts.size))
    check_size(content_im.size, net, "the content image")
    style_size = max(1, round(opts.size * opts.style_scale))
    style_tensors = []
    for i, (im, _) in enumerate(style_ims):
        im = images.resize(im, images.fit_size(*im.size, style_size))
        check_size(im.size, net, f"style image {i + 1}")
        style_tensors.append(to_tensor(im, weights.preprocessing, device))
    content_tensor = to_tensor(content_im, weights.preprocessing, device)
    targets = Targets(content_targets(net, content_tensor, opts.content_layers),
                      style_grams(net, style_tensors, opts.style_layers, blend))
    return Problem(opts, net, weights, device, content_im, content_tensor, targets,
                   {"content": content_id, "styles": [sid for _, sid in style_ims]})


def evaluate(problem: Problem, x: torch.Tensor) -> dict:
    """Per-image losses (each a [N] tensor) at ``x``; 'total' is what is minimised."""
    o, t = problem.opts, problem.targets
    feats = problem.net(x)
    n = x.shape[0]
    c_loss = x.new_zeros(n)
    s_loss = x.new_zeros(n)
    for name in o.content_layers:
        f = normalize_grad(feats[name], o.content_weight) if o.normalize_gradients else feats[name]
        c_loss = c_loss + o.content_weight * content_loss(f, t.content[name])
    for name in o.style_layers:
        f = normalize_grad(feats[name], o.style_weight) if o.normalize_gradients else feats[name]
        s_loss = s_loss + o.style_weight * style_loss(gram(f), t.style[name])
    tv = o.tv_weight * tv_loss(x) if o.tv_weight > 0 else x.new_zeros(n)
    return {"total": c_loss + s_loss + tv, "content": c_loss, "style": s_loss, "tv": tv}


def initial_image(problem: Problem, seed: int, batch: int = 1) -> torch.Tensor:
    """neural-style's starts: small noise (randn·0.001, drawn on the CPU so every
    device starts alike), the content, or another image."""
    init = problem.opts.init
    if init == "random":
        g = torch.Generator().manual_seed(seed)
        x = torch.randn((batch,) + tuple(problem.content_tensor.shape[1:]), generator=g) * 0.001
        return x.to(problem.device)
    if init == "image":
        return problem.content_tensor.repeat(batch, 1, 1, 1)
    im = images.resize(images.load_rgb(init, "init image"), problem.content.size)
    return to_tensor(im, problem.pre, problem.device).repeat(batch, 1, 1, 1)


def optimise(problem: Problem, x0: torch.Tensor, *, callback: Optional[Callable] = None,
             progress: bool = False, on_save: Optional[Callable] = None) -> tuple:
    """Run the loop. Returns (x, losses of x, iterations done, interrupted, error).

    Ctrl-C ends the loop and keeps the current image; a non-finite loss ends it
    and keeps the last image whose loss was finite.
    """
    o = problem.opts
    x = x0.detach().clone().requires_grad_(True)
    opt = make_optimizer(o.optimizer, x, o.learning_rate, o.lbfgs_history)
    bar = _progress_bar(o.iterations, progress)
    start, done, interrupted, error, losses = time.perf_counter(), 0, False, None, None
    last_good = x.detach().clone()
    try:
        for it in range(1, o.iterations + 1):
            x.grad = None
            parts = evaluate(problem, x)
            values = {k: v.detach().tolist() for k, v in parts.items()}
            if not all(math.isfinite(v) for v in values["total"]):
                error = f"the loss became {values['total']} at iteration {it}; kept the image of iteration {done}"
                with torch.no_grad():
                    x.copy_(last_good)
                break
            last_good.copy_(x.detach())
            losses = values
            parts["total"].sum().backward()
            opt.step(x.grad)
            done = it
            elapsed = time.perf_counter() - start
            bar.update(1)
            bar.set_postfix_str(_fmt(values), refresh=False)
            if progress and o.print_every and it % o.print_every == 0:
                bar.write(f"iteration {it}/{o.iterations}  " + _fmt(values) + f"  {elapsed / it:.3f} s/iter")
            if on_save is not None and o.save_every and it % o.save_every == 0 and it < o.iterations:
                on_save(x.detach(), it, losses)
            if callback is not None:
                info = IterationInfo(it, o.iterations, values["total"], values["content"], values["style"],
                                     values["tv"], elapsed, x.detach(), problem.pre)
                if callback(info) is False:
                    break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    if not interrupted and error is None and done:
        # One more forward pass: the loss of the image actually returned (the last
        # step's result was never evaluated), and a last guard against divergence.
        with torch.no_grad():
            final = {k: v.tolist() for k, v in evaluate(problem, x.detach()).items()}
        if all(math.isfinite(v) for v in final["total"]):
            losses = final
        else:
            error = f"the loss became {final['total']} after the last step; kept the image of iteration {done - 1}"
            done -= 1
            with torch.no_grad():
                x.copy_(last_good)
    elif not bool(torch.isfinite(x).all()):
        with torch.no_grad():
            x.copy_(last_good)
    return x.detach(), losses, done, interrupted, error


def _fmt(values: dict) -> str:
    total, c, s = values["total"], values["content"], values["style"]
    if len(total) == 1:
        return f"loss {total[0]:.4g} (content {c[0]:.4g}, style {s[0]:.4g}, tv {values['tv'][0]:.3g})"
    return f"mean loss {sum(total) / len(total):.4g} over {len(total)} images"


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm
    return tqdm(total=total, disable=not enabled, unit="it", file=sys.stderr, dynamic_ncols=True,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}")


def finish_images(problem: Problem, x: torch.Tensor) -> list[Image.Image]:
    ims = to_pil(x, problem.pre)
    if problem.opts.original_colors:
        ims = [images.original_colors(problem.content, im) for im in ims]
    return ims


def stylize(content: ImageInput, style: Union[ImageInput, Sequence[ImageInput]],
            options: Optional[Options] = None, *, callback: Optional[Callable] = None,
            progress: bool = False, output: Optional[str] = None, **overrides) -> Result:
    """Stylise ``content`` with one or more style images; returns a :class:`Result`.

    Options come from ``options`` (an :class:`Options`) and/or keyword overrides
    (``size=256, iterations=200, ...``). ``callback(info)`` is called after every
    iteration; returning ``False`` stops the run. With ``output`` the final image
    (and every ``save_every``-th one, as ``stem_ITER.ext``) is written atomically.
    """
    opts = (options or Options()).replace(**overrides).validate()
    if output is not None:
        images.check_writable(output)
    problem = prepare(content, style, opts)
    seed = opts.seed if opts.seed is not None else secrets.randbits(63)
    opts = opts.replace(seed=seed)
    problem.opts = opts
    started = time.perf_counter()

    def make_recipe(done, losses, interrupted=False):
        return recipe.build(problem, done, losses, interrupted, time.perf_counter() - started)

    def save_intermediate(x, it, losses):
        stem, ext = os.path.splitext(output)
        images.save_atomic(finish_images(problem, x)[0], f"{stem}_{it}{ext}", recipe.dumps(make_recipe(it, losses)))

    x, losses, done, interrupted, error = optimise(
        problem, initial_image(problem, seed), callback=callback, progress=progress,
        on_save=save_intermediate if output else None)
    result = Result(finish_images(problem, x), make_recipe(done, losses, interrupted), interrupted, error)
    if output is not None:
        result.save(output)
    return result
