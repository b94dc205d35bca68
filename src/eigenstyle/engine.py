"""The optimisation loop and the public :func:`stylize`.

``prepare`` (in :mod:`eigenstyle.problem`) turns files and options into a
:class:`Problem` (network, targets); ``optimise`` runs the loop on a batch. Keeping the two apart is
what lets variants swap in other Gram targets and batch them without a second
implementation of the loop.
"""
from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

import torch
from PIL import Image

from . import images, recipe
from .errors import EigenstyleError
from .levels import stretch
from .losses import content_loss, gram, normalize_grad, style_loss, tv_loss
from .memory import available_bytes, is_out_of_memory, out_of_memory_error, peak_memory_mb
from .network import Preprocessing
from .optim import make_optimizer
from .options import Options
from .problem import ImageInput, Problem, prepare, resolve_device, resolve_seeds, vary  # noqa: F401 - re-exported API
from .progress import progress_bar
from .targets import Targets, to_pil, to_tensor

SYNC_EVERY = 20  # on a GPU, iterations between reads of the loss (the divergence guard's latency)


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
    raw_images: Optional[list] = None  # before level adjustment, when levels were applied
    swatch: Optional[Image.Image] = None  # a picture of the randomised style (see swatch.py)

    @property
    def image(self) -> Image.Image:
        return self.images[0]

    def save(self, path: str, index: int = 0) -> str:
        """Write atomically, with the recipe embedded (PNG text chunk or JPEG comment).
        With levels applied, the raw image goes beside it as NAME.raw.EXT; a randomised
        style's swatch as NAME.swatch.png (a style image for any tool, with the recipe)."""
        text = recipe.dumps(self.recipe)
        stem, ext = os.path.splitext(path)
        if self.raw_images is not None:
            images.save_atomic(self.raw_images[index], f"{stem}.raw{ext}", text)
        if self.swatch is not None:
            swatch_recipe = recipe.dumps({**self.recipe, "picture": "swatch"})
            images.save_atomic(self.swatch, images.swatch_path(path), swatch_recipe)
        return images.save_atomic(self.images[index], path, text)


def evaluate(problem: Problem, x: torch.Tensor) -> dict:
    """Per-image losses (each a [N] tensor) at ``x``; 'total' is what is minimised."""
    o, t = problem.opts, problem.targets
    feats = problem.net(x)
    n = x.shape[0]
    c_loss = x.new_zeros(n)
    s_loss = x.new_zeros(n)
    style_weight = o.style_weight_value()
    for name in o.content_layers:
        f = normalize_grad(feats[name], o.content_weight) if o.normalize_gradients else feats[name]
        c_loss = c_loss + o.content_weight * content_loss(f, t.content[name])
    for name in o.style_layers:
        f = normalize_grad(feats[name], style_weight) if o.normalize_gradients else feats[name]
        s_loss = s_loss + style_weight * style_loss(gram(f), t.style[name])
    tv = o.tv_weight * tv_loss(x) if o.tv_weight > 0 else x.new_zeros(n)
    return {"total": c_loss + s_loss + tv, "content": c_loss, "style": s_loss, "tv": tv}


def evaluate_and_backward(problem: Problem, x: torch.Tensor, singles: Optional[list] = None,
                          backward: bool = True) -> dict:
    """Losses at ``x`` (detached) with their gradient accumulated into ``x.grad``
    (``backward=False``: the losses only).

    With ``singles`` (one problem per image), each image goes through the network
    on its own: the same kernels as its single run, so a batch reproduces its
    single runs bit for bit, and only one image's activations are alive at a
    time. A CPU gains no throughput from a batched pass at useful sizes (measured:
    0.93x at 256 px), so that is the CPU's way; a GPU batches the pass."""
    pieces = [(problem, x)] if singles is None else [(p, x[i:i + 1]) for i, p in enumerate(singles)]
    out = []
    for p, xi in pieces:
        parts = evaluate(p, xi)
        if backward:
            parts["total"].sum().backward()
        out.append(parts)
    return {k: torch.cat([o[k].detach() for o in out]) for k in out[0]}


def per_image(problem: Problem, n: int) -> list:
    """The batch's problem split into one problem per image (views of its Gram targets)."""
    t = problem.targets
    return [dataclasses.replace(problem, targets=Targets(t.content, {k: v[i:i + 1] for k, v in t.style.items()}))
            for i in range(n)]


def initial_image(problem: Problem, seed: int, batch: int = 1) -> torch.Tensor:
    """neural-style's starts: small noise (randn·0.001, drawn on the CPU so every
    device starts alike), the content, or another image."""
    init = problem.opts.init_value()
    if init == "random":
        g = torch.Generator().manual_seed(seed)
        x = torch.randn((1,) + tuple(problem.content_tensor.shape[1:]), generator=g) * 0.001
        return x.repeat(batch, 1, 1, 1).to(problem.device)  # every image starts as its single run would
    if init == "image":
        return problem.content_tensor.repeat(batch, 1, 1, 1)
    im = images.resize(images.load_rgb(init, "init image"), problem.content.size)
    return to_tensor(im, problem.pre, problem.device).repeat(batch, 1, 1, 1)


def optimise(problem: Problem, x0: torch.Tensor, *, callback: Optional[Callable] = None,
             progress: bool = False, on_save: Optional[Callable] = None,
             sync_every: Optional[int] = None, split_batch: Optional[bool] = None) -> tuple:
    """Run the loop. Returns (x, losses of x, iterations done, interrupted, error).

    Ctrl-C ends the loop and keeps the current image; a non-finite loss ends it
    and keeps the last image whose loss was finite. On a GPU the loop reads
    values back only every ``SYNC_EVERY`` iterations and where the user sees
    them (progress line, save, callback): the guard runs on the device in
    between, so the GPU never waits for Python.
    """
    o = problem.opts
    x = x0.detach().clone().requires_grad_(True)
    bar = progress_bar(o.iterations, progress)
    start, done, interrupted, error, losses = time.perf_counter(), 0, False, None, None
    last_good = x.detach().clone()
    good_losses = None  # losses of the last iteration whose loss was finite (set at iteration 1)
    good = torch.zeros((), dtype=torch.long, device=x.device)  # last iteration whose loss was finite
    bad = torch.zeros((), dtype=torch.bool, device=x.device)   # a non-finite loss was seen (sticky)
    if split_batch is None:  # see evaluate_and_backward
        split_batch = x.device.type == "cpu"
    singles = per_image(problem, x.shape[0]) if split_batch and x.shape[0] > 1 else None
    if sync_every is None:  # a CPU computes synchronously anyway: check every iteration
        sync_every = 1 if x.device.type == "cpu" else SYNC_EVERY
    free = available_bytes(x.device)
    try:
        # Split batches also get one L-BFGS per image: its reductions then run on the
        # same shapes as in a single run (a [8, D] sum splits work across threads
        # differently from a [1, D] one), which keeps a batch bit-identical.
        if singles is not None and o.optimizer == "lbfgs":
            opts = [(make_optimizer(o.optimizer, x[i:i + 1], o.learning_rate, o.lbfgs_history), slice(i, i + 1))
                    for i in range(x.shape[0])]
        else:
            opts = [(make_optimizer(o.optimizer, x, o.learning_rate, o.lbfgs_history), slice(None))]
        for it in range(1, o.iterations + 1):
            x.grad = None
            parts = evaluate_and_backward(problem, x, singles)
            with torch.no_grad():
                now = torch.stack(list(parts.values()))  # [4, N]: total, content, style, tv
                bad |= ~torch.isfinite(now[0]).all()
                last_good = torch.where(bad, last_good, x.detach())
                good_losses = now if it == 1 else torch.where(bad, good_losses, now)
                good = torch.where(bad, good, it - 1)
            saving = on_save is not None and o.save_every and it % o.save_every == 0 and it < o.iterations
            printing = progress and o.print_every and it % o.print_every == 0
            sync = callback is not None or saving or printing or it % sync_every == 0 or it == o.iterations
            if sync:
                values = dict(zip(parts, now.tolist()))
                if bool(bad):
                    done = int(good)
                    losses = dict(zip(parts, good_losses.tolist())) if done else None
                    error = f"the loss became non-finite at iteration {done + 1}; kept the image of iteration {done}"
                    with torch.no_grad():
                        x.copy_(last_good)
                    break
                losses = values
            for opt, rows in opts:
                opt.step(x.grad[rows])
            done = it
            bar.update(1)
            if not sync:
                continue
            elapsed = time.perf_counter() - start
            bar.set_postfix_str(_fmt(values), refresh=False)
            if printing:
                bar.write(f"iteration {it}/{o.iterations}  " + _fmt(values) + f"  {elapsed / it:.3f} s/iter, "
                          f"peak memory {peak_memory_mb(problem.device):.0f} MB")
            if saving:
                on_save(x.detach(), it, losses)
            if callback is not None:
                info = IterationInfo(it, o.iterations, values["total"], values["content"], values["style"],
                                     values["tv"], elapsed, x.detach(), problem.pre)
                if callback(info) is False:
                    break
    except KeyboardInterrupt:
        interrupted = True
    except Exception as exc:
        if not is_out_of_memory(exc):
            raise
        oom = out_of_memory_error(o, x.shape[2] * x.shape[3], x.shape[0], x.device, problem.net.min_side(), free)
        del exc
        x.grad = None
        if not done:
            raise oom from None  # nothing made yet: just the message
        error = f"{oom}; kept the image of iteration {done}"
    finally:
        bar.close()
    if not interrupted and error is None and done:
        # One more forward pass: the loss of the image actually returned (the last
        # step's result was never evaluated), and a last guard against divergence.
        with torch.no_grad():
            final = {k: v.tolist() for k, v in
                     evaluate_and_backward(problem, x.detach(), singles, backward=False).items()}
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


def finish_images(problem: Problem, x: torch.Tensor) -> tuple[list, Optional[list]]:
    """Images to write: (final, raw). Raw is None unless levels were applied."""
    ims = to_pil(x, problem.pre)
    if problem.opts.original_colors:
        ims = [images.original_colors(problem.content, im) for im in ims]
    clip = problem.opts.levels_clip()
    if clip is None:
        return ims, None
    return [stretch(im, clip) for im in ims], ims


def stylize(content: ImageInput, style: Union[ImageInput, Sequence[ImageInput]],
            options: Optional[Options] = None, *, callback: Optional[Callable] = None,
            progress: bool = False, output: Optional[str] = None, save_style: Optional[str] = None,
            **overrides) -> Result:
    """Stylise ``content`` with one or more style images; returns a :class:`Result`.

    Options come from ``options`` (an :class:`Options`) and/or keyword overrides
    (``size=256, iterations=200, mode="variant", ...``). ``callback(info)`` is
    called after every iteration; returning ``False`` stops the run. With
    ``output`` the final image (and every ``save_every``-th one, as
    ``stem_ITER.ext``) is written atomically; with ``save_style`` the (randomised)
    Gram targets go to a .safetensors style file for reuse with ``style_file=``.
    """
    opts = resolve_seeds((options or Options()).replace(**overrides).validate())
    if output is not None:
        images.check_writable(output)
    x0 = None
    for size in opts.scales or ():
        coarse = opts.replace(size=size, iterations=opts.scale_iterations or opts.iterations, save_every=0)
        p = prepare(content, style, coarse)
        start = initial_image(p, opts.seed) if x0 is None else upscale(x0, p)
        x0, _, done, interrupted, error = optimise(p, start, progress=progress)
        if interrupted or error:  # keep what the coarse scale made, as its own result
            return run(p, progress=False, output=output, x0=x0, iterations=0, interrupted=interrupted, error=error)
    problem = prepare(content, style, opts)
    if save_style:
        from .stylefile import save_style as write_style
        write_style(save_style, problem)
    return run(problem, callback=callback, progress=progress, output=output,
               x0=None if x0 is None else upscale(x0, problem))


def upscale(x: torch.Tensor, problem: Problem) -> torch.Tensor:
    """A coarser scale's result as the next scale's start (bilinear, network units)."""
    import torch.nn.functional as F
    return F.interpolate(x, size=tuple(problem.content_tensor.shape[2:]), mode="bilinear", align_corners=False)


def run(problem: Problem, *, callback: Optional[Callable] = None, progress: bool = False,
        output: Optional[str] = None, x0: Optional[torch.Tensor] = None, iterations: Optional[int] = None,
        interrupted: bool = False, error: Optional[str] = None) -> Result:
    """Optimise a prepared problem (seeds already resolved) into a Result; ``x0``
    overrides the start image, ``iterations=0`` just wraps ``x0`` as a result."""
    if iterations == 0:
        final, raw = finish_images(problem, x0)
        losses = {k: v.tolist() for k, v in evaluate(problem, x0).items()} if not error else None
        result = Result(final, recipe.build(problem, 0, losses, interrupted, 0.0), interrupted, error, raw,
                        problem.swatch)
        result.recipe["stopped_at_coarse_scale"] = problem.opts.size
        if output is not None:
            result.save(output)
        return result
    return run_batch([problem], callback=callback, progress=progress, x0=x0,
                     outputs=[output] if output is not None else None)[0]


def batchable(a: Options, b: Options) -> bool:
    """Runs that differ only in their Gram targets can share one batch."""
    return a.replace(variant_seed=None, genome=None) == b.replace(variant_seed=None, genome=None)


def run_batch(problems: list, *, callback: Optional[Callable] = None, progress: bool = False,
              outputs: Optional[list] = None, x0: Optional[torch.Tensor] = None) -> list:
    """Optimise N variants of one problem as one batch: one pass through the network
    for all, per-image Gram targets, per-image L-BFGS state. Returns N Results."""
    first = problems[0]
    if not all(batchable(p.opts, first.opts) for p in problems):
        raise EigenstyleError("a batch needs runs that differ only in their Gram targets")
    n = len(problems)
    batched = first if n == 1 else dataclasses.replace(first, targets=Targets(
        first.targets.content, {k: torch.cat([p.targets.style[k] for p in problems]) for k in first.targets.style}))
    started = time.perf_counter()

    def results(x, done, losses, interrupted=False, error=None):
        out = []
        for i, p in enumerate(problems):
            mine = {k: [v[i]] for k, v in losses.items()} if losses else None
            data = recipe.build(p, done, mine, interrupted, time.perf_counter() - started)
            if n > 1:
                data["batch"] = {"size": n, "index": i}
            final, raw = finish_images(p, x[i:i + 1])
            out.append(Result(final, data, interrupted, error, raw, p.swatch))
        return out

    def save_intermediate(x, it, losses):
        for r, path in zip(results(x, it, losses), outputs):
            r.raw_images = r.swatch = None  # intermediate saves skip the raw copy and the swatch
            stem, ext = os.path.splitext(path)
            r.save(f"{stem}_{it}{ext}")

    x, losses, done, interrupted, error = optimise(
        batched, initial_image(batched, first.opts.seed, batch=n) if x0 is None else x0, callback=callback,
        progress=progress,
        on_save=save_intermediate if outputs else None)
    out = results(x, done, losses, interrupted, error)
    for r, path in zip(out, outputs or []):
        r.save(path)
    return out
