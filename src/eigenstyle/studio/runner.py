"""What a worker does with a stylisation job, through the engine's own API.

A job's runs are planned as the CLI plans variants (``plan.planned``: one driver for both):
runs that differ only in their Gram targets go through the network together
(``engine.run_batch``), so all tiles of a job fill at the same pace, and the network and
the style's Grams are prepared again only when a run needs another preparation. A render
(Render large: one run, coarse to fine) goes through ``engine.stylize``, which runs every scale.
:class:`Previews` watches the loop: level-adjusted previews every few iterations, announced
with the scale and an ETA of the whole run, and the job's cancel; the final image goes
through ``Result.save`` (atomic, recipe embedded).
"""

from __future__ import annotations

import math
import os
import time

from .. import engine, recipe
from ..engine import Observer, Step, to_pil
from ..files import atomic_path
from ..levels import stretch
from ..plan import Preparation, planned
from ..progress import Schedule
from . import urls
from .jobs import Job, JobQueue

PREVIEW_SIDE = 384


def _finite(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def write_preview(im, path: str) -> None:
    """A small JPEG, renamed into place (readers never see half a file); no fsync: previews are disposable."""
    im = im.copy()
    im.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    with atomic_path(path, ".jpg", prefix=".preview-", fsync=False) as tmp:
        im.save(tmp, "JPEG", quality=85)


def _small(x):
    """The loop's image at preview size, shrunk on its device: a print-size image is never copied whole."""
    h, w = x.shape[2:]
    if max(h, w) <= PREVIEW_SIDE:
        return x
    import torch.nn.functional as F

    f = PREVIEW_SIDE / max(h, w)
    size = (max(1, round(h * f)), max(1, round(w * f)))
    return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)


def warm(device: str, q: JobQueue) -> None:
    """A worker's first step: the network of a job at the studio's defaults, built and run once, so the
    first Generate's first preview does not wait for it (0.3 s of it on a 2-core CPU)."""
    from .actions import STUDIO

    engine.warm(STUDIO.replace(device=device if len(q.devices) > 1 else "auto"))


def run_job(job: Job, device: str, q: JobQueue) -> None:
    store = q.store
    inputs = store.input_path(job.content_id), [store.input_path(job.style_id)]
    explicit = len(q.devices) > 1  # with one device, recipes keep "auto" and reproduce anywhere
    if job.kind == "render":
        return _render(job, device if explicit else None, q, inputs)
    preparation = Preparation(*inputs)

    def options(run):
        return run.options.replace(device=device) if explicit else run.options

    for group, problems in planned(
        preparation,
        job.runs,
        q.batch_size,
        options=options,
        problems=lambda group, batch: _problems(job, group, batch, preparation, store),
        stop=job.cancel.is_set,
    ):
        now = time.time()
        for r in group:
            store.update_result(r.result_id, status="running", started=now)
            q.result_changed(r.result_id)
        _save(group, engine.run_batch(problems, observers=[Previews(job, group, options(group[0]), q)]), q)


def _problems(job: Job, group: list, batch: list, preparation: Preparation, store) -> list:
    """Each run's problem on the shared preparation: a refine takes its parent's own swatch file
    (exactly the picture the tile optimised against, no second synthesis; ``Preparation.problems``)."""
    parent = group[0].parent_id if job.kind == "refine" else None  # a refine is one run
    swatch = store.swatch_path(parent) if parent else None
    if swatch is None or not os.path.isfile(swatch):
        return preparation.problems(batch)
    from PIL import Image

    with Image.open(swatch) as im:
        return preparation.problems(batch, im.convert("RGB"))


def _render(job: Job, device, q: JobQueue, inputs) -> None:
    """Render large: one run, every scale through ``engine.stylize``, previews and ETA across the scales."""
    (r,) = job.runs
    if job.cancel.is_set():
        return
    opts = r.options if device is None else r.options.replace(device=device)
    q.store.update_result(r.result_id, status="running", started=time.time())
    q.result_changed(r.result_id)
    watch = Previews(job, [r], opts, q)
    res = engine.stylize(*inputs, opts, observers=[watch])
    coarse = res.recipe.get("stopped_at_coarse_scale")
    if coarse and res.error is None:
        res.error = f"stopped at the {coarse} px scale; the image is that scale's"
    _save([r], [res], q)


class Previews(Observer):
    """A job's tiles fill live: the first iteration, every ``preview_every``-th and the last are
    written (level-adjusted as the final image will be, at preview size) and announced, with the
    scale of a coarse-to-fine run and the ETA of the whole run. A randomised style's swatch is
    shown the same way while it is made (phase "swatch": the new style appearing, the first thing
    that moves after Generate). A cancelled job (or a stopping server) ends the run, with its
    reason in the recipes."""

    phases = ("swatch", "run")

    def __init__(self, job: Job, group: list, opts, q: JobQueue):
        self.job, self.group, self.q = job, group, q
        self.schedule = Schedule(opts)
        self.sizes = [s for s, _ in self.schedule.steps]

    def wants(self, iteration: int) -> bool:
        return self.job.cancel.is_set() or iteration == 1 or iteration % self.q.preview_every == 0

    def where(self, step: Step) -> dict:
        """The event's place in the whole run: scale (1-based) of scales, its size, fraction of the work, ETA."""
        if step.phase == "swatch":  # before the run: its share is the swatch's own progress
            left = (step.iterations - step.iteration) * step.elapsed / max(1, step.iteration)
            return {
                "phase": "swatch",
                "scale": 1,
                "scales": len(self.sizes),
                "scale_size": self.sizes[0],
                "fraction": 0.0,
                "eta_s": None,
                "swatch_eta_s": round(left, 1),
            }
        size = step.problem.opts.size
        k = self.schedule.index(size) if size in self.sizes else len(self.sizes) - 1
        return {
            "phase": "run",
            "scale": k + 1,
            "scales": len(self.sizes),
            "scale_size": self.sizes[k],
            "fraction": round(self.schedule.fraction(k, step.iteration), 4),
            "eta_s": round(self.schedule.left(k, step.iteration, step.elapsed), 1),
        }

    def seen(self, step: Step):
        it, store = step.iteration, self.q.store
        if step.values is not None and (it == 1 or it % self.q.preview_every == 0 or it == step.iterations):
            swatch = step.phase == "swatch"
            clip = None if swatch else step.problem.opts.levels_clip()
            ims = to_pil(_small(step.x), step.problem.pre)
            where = self.where(step)
            # a new scale's (or the run's after its swatch) iteration 1 is a new picture
            v = f"s{it}" if swatch else it if where["scales"] == 1 else f"{where['scale']}.{it}"
            for r, im, loss in zip(self.group, ims, step.values["total"]):
                write_preview(stretch(im, clip) if clip is not None else im, store.preview_path(r.result_id))
                loss = _finite(loss)
                store.update_result(r.result_id, iterations_done=0 if swatch else it, loss=loss, has_preview=1)
                self.q.broker.publish(
                    {
                        "type": "progress",
                        "id": r.result_id,
                        "job_id": self.job.id,
                        "iteration": it,
                        "iterations": step.iterations,
                        "loss": loss,
                        "preview_url": urls.result(r.result_id, "preview", v),
                        **where,
                    }
                )
        if self.job.cancel.is_set():
            return "server stopped" if self.job.stopped_by_server else "cancelled in the studio"
        return None


def _save(group: list, results: list, q: JobQueue) -> None:
    store = q.store
    for r, res in zip(group, results):
        res.save(store.image_path(r.result_id))
        write_preview(res.image, store.preview_path(r.result_id))
        losses = res.recipe.get("losses") or {}
        store.update_result(
            r.result_id,
            status="interrupted" if res.interrupted else "done",
            has_image=1,
            has_preview=1,
            iterations_done=res.recipe["iterations_done"],
            loss=_finite(losses.get("total")),
            recipe=recipe.dumps(res.recipe),
            finished=time.time(),
            elapsed_s=res.recipe.get("elapsed_s"),
            error=res.error,
        )
        q.result_changed(r.result_id)


def style_file(store, rec: dict, path: str) -> None:
    """A finished tile's style file: its Gram targets, from the tile's own swatch when it has one (no
    second synthesis: the targets are that picture's Grams, exactly what the tile optimised against)."""
    from PIL import Image

    opts = recipe.options_of(rec["recipe"]).replace(init="random", device="auto", scales=None)
    swatch = store.swatch_path(rec["id"])
    picture = Image.open(swatch).convert("RGB") if os.path.isfile(swatch) else None
    engine.save_style_of(store.input_path(rec["content_id"]), [store.input_path(rec["style_id"])], opts, path, picture)
