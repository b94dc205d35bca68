"""What a worker does with a stylisation job, through the engine's own API.

A job's runs are planned as the CLI plans variants (``plan.batches``, ``plan.Preparation``):
runs that differ only in their Gram targets go through the network together
(``engine.run_batch``), so all tiles of a job fill at the same pace, and the network and
the style's Grams are prepared again only when a run needs another preparation.
:class:`Previews` watches the loop: level-adjusted previews every few iterations, announced,
and the job's cancel; the final image goes through ``Result.save`` (atomic, recipe embedded).
"""

from __future__ import annotations

import math
import os
import time

from .. import engine, recipe
from ..files import atomic_path
from ..levels import stretch
from ..loop import Observer, Step
from ..plan import Preparation, batches
from ..targets import to_pil
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


def run_job(job: Job, device: str, q: JobQueue) -> None:
    store = q.store
    preparation = Preparation(store.input_path(job.content_id), [store.input_path(job.style_id)])
    explicit = len(q.devices) > 1  # with one device, recipes keep "auto" and reproduce anywhere
    for group in batches(job.runs, q.batch_size, options=lambda run: run.options):
        if job.cancel.is_set():
            return
        problems = preparation.problems([r.options.replace(device=device) if explicit else r.options for r in group])
        now = time.time()
        for r in group:
            store.update_result(r.result_id, status="running", started=now)
            q.result_changed(r.result_id)
        _save(group, engine.run_batch(problems, observers=[Previews(job, group, problems, q)]), q)


class Previews(Observer):
    """A job's tiles fill live: the first iteration, every ``preview_every``-th and the last are
    written (level-adjusted as the final image will be) and announced. A cancelled job (or a
    stopping server) ends the run, with its reason in the recipes."""

    def __init__(self, job: Job, group: list, problems: list, q: JobQueue):
        self.job, self.group, self.q = job, group, q
        self.clips = [p.opts.levels_clip() for p in problems]

    def wants(self, iteration: int) -> bool:
        return self.job.cancel.is_set() or iteration == 1 or iteration % self.q.preview_every == 0

    def seen(self, step: Step):
        it, store = step.iteration, self.q.store
        if step.values is not None and (it == 1 or it % self.q.preview_every == 0 or it == step.iterations):
            ims = to_pil(step.x, step.problem.pre)
            for r, im, clip, loss in zip(self.group, ims, self.clips, step.values["total"]):
                write_preview(stretch(im, clip) if clip is not None else im, store.preview_path(r.result_id))
                loss = _finite(loss)
                store.update_result(r.result_id, iterations_done=it, loss=loss, has_preview=1)
                self.q.broker.publish(
                    {
                        "type": "progress",
                        "id": r.result_id,
                        "job_id": self.job.id,
                        "iteration": it,
                        "iterations": step.iterations,
                        "loss": loss,
                        "preview_url": f"/api/results/{r.result_id}/preview?v={it}",
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

    from ..options import Options
    from ..problem import prepare, vary
    from ..stylefile import save_style

    opts = Options.from_dict(rec["recipe"]["options"]).replace(init="random", device="auto", scales=None)
    inputs = store.input_path(rec["content_id"]), [store.input_path(rec["style_id"])]
    problem = prepare(*inputs, opts.replace(mode="none"))
    swatch = store.swatch_path(rec["id"])
    picture = Image.open(swatch).convert("RGB") if os.path.isfile(swatch) else None
    save_style(path, vary(problem, opts, swatch=picture))
