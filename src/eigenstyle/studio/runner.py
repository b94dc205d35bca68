"""What a worker does with a stylisation job, through the engine's own API.

Runs that differ only in their Gram targets (variants of one recipe) go through
the network together (``engine.run_batch``), so all tiles of a job fill at the
same pace; the network and the style's Grams are prepared once per distinct
setting (``engine.prepare`` + ``engine.vary``). Previews (level-adjusted as the
final image will be) are written every few iterations and announced; the final
image goes through ``Result.save`` (atomic, recipe embedded).
"""
from __future__ import annotations

import math
import time

from .. import engine, recipe
from ..files import atomic_path
from ..levels import stretch
from .jobs import Job, JobQueue

PREVIEW_SIDE = 384
_PREP_FIELDS = ("size", "style_scale", "style_layers", "content_layers", "model", "model_file", "pooling",
                "precision", "conv", "device", "style_file", "style_blend_weights")


def _finite(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def write_preview(im, path: str) -> None:
    """A small JPEG, renamed into place (readers never see half a file); no fsync: previews are disposable."""
    im = im.copy()
    im.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    with atomic_path(path, ".jpg", prefix=".preview-", fsync=False) as tmp:
        im.save(tmp, "JPEG", quality=85)


def groups(runs: list, batch_size: int) -> list[list]:
    """Consecutive runs that can share a batch, at most ``batch_size`` each."""
    out = []
    for r in runs:
        if out and len(out[-1]) < batch_size and engine.batchable(out[-1][0].options, r.options):
            out[-1].append(r)
        else:
            out.append([r])
    return out


def run_job(job: Job, device: str, q: JobQueue) -> None:
    store = q.store
    content, style = store.input_path(job.content_id), store.input_path(job.style_id)
    explicit = len(q.devices) > 1  # with one device, recipes keep "auto" and reproduce anywhere
    problem, key = None, None
    for group in groups(job.runs, q.batch_size):
        if job.cancel.is_set():
            return
        opts = [r.options.replace(device=device) if explicit else r.options for r in group]
        k = tuple(getattr(opts[0], f) for f in _PREP_FIELDS)
        if k != key:
            # plain: each run's randomisation and swatch come from vary() below, made once
            problem, key = engine.prepare(content, [style], opts[0].replace(mode="none")), k
        problems = [engine.vary(problem, o) for o in opts]
        now = time.time()
        for r in group:
            store.update_result(r.result_id, status="running", started=now)
            q.result_changed(r.result_id)
        results = engine.run_batch(problems, callback=_previewer(job, group, problems, q))
        _save(job, group, results, q)


def _previewer(job: Job, group: list, problems: list, q: JobQueue):
    clips = [p.opts.levels_clip() for p in problems]

    def callback(info) -> bool:
        it = info.iteration
        if it == 1 or it % q.preview_every == 0 or it == info.iterations:
            for r, im, clip, loss in zip(group, info.images(), clips, info.loss):
                write_preview(stretch(im, clip) if clip is not None else im, q.store.preview_path(r.result_id))
                loss = _finite(loss)
                q.store.update_result(r.result_id, iterations_done=it, loss=loss, has_preview=1)
                q.broker.publish({"type": "progress", "id": r.result_id, "job_id": job.id, "iteration": it,
                                  "iterations": info.iterations, "loss": loss,
                                  "preview_url": f"/api/results/{r.result_id}/preview?v={it}"})
        return not job.cancel.is_set()

    return callback


def _save(job: Job, group: list, results: list, q: JobQueue) -> None:
    store = q.store
    cut = job.cancel.is_set()
    for r, res in zip(group, results):
        if cut:
            res.recipe["interrupted"] = True
            res.recipe["stopped"] = "server stopped" if job.stopped_by_server else "cancelled in the studio"
        res.save(store.image_path(r.result_id))
        write_preview(res.image, store.preview_path(r.result_id))
        losses = res.recipe.get("losses") or {}
        store.update_result(r.result_id, status="interrupted" if cut else "done", has_image=1, has_preview=1,
                            iterations_done=res.recipe["iterations_done"], loss=_finite(losses.get("total")),
                            recipe=recipe.dumps(res.recipe), finished=time.time(),
                            elapsed_s=res.recipe.get("elapsed_s"), error=res.error)
        q.result_changed(r.result_id)
