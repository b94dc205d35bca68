"""What a worker does with a stylisation job: its runs, through the queue's executor.

A job's runs are batched as the CLI batches variants (``plan.batches``: one rule for both):
runs that differ only in their Gram targets go through the network together, so all tiles of
a job fill at the same pace. Each batch (a render: its one coarse-to-fine run) is a
:class:`~eigenstyle.executors.Work` for the executor (in this process, or a Ray cluster's: the
runner does not know which). :class:`Previews` turns the Work's Ticks into level-adjusted
previews, announced with the scale and an ETA of the whole run, and answers the job's cancel;
the final image goes through ``Result.save`` (atomic, recipe embedded).

While no job waits, :class:`Sharpener` renders the latest job's tiles larger in the background.
"""

from __future__ import annotations

import math
import os
import threading
import time

from .. import engine, problem, recipe
from ..executors import Tick, Work
from ..files import atomic_path
from ..plan import batches
from ..pyramid import Pyramid
from . import urls
from .jobs import Background, Job, JobQueue
from .store import CLIP_FORMATS, CLIPS

PREVIEW_SIDE = 384
# The sizes the studio sharpens the latest job's tiles to while it is idle: each a Render large
# (printing.render_options: coarse to fine from the tile, held to it), so what the tile becomes is
# what a render of it would show. Times in docs/benchmarks.md.
SHARP_SIZES = (256, 384)


def _finite(v):
    return v if isinstance(v, (int, float)) and math.isfinite(v) else None


def write_preview(im, path: str) -> None:
    """A small JPEG, renamed into place (readers never see half a file); no fsync: previews are disposable."""
    im = im.copy()
    im.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    with atomic_path(path, ".jpg", prefix=".preview-", fsync=False) as tmp:
        im.save(tmp, "JPEG", quality=85)


def warm(device: str, q: JobQueue) -> None:
    """A worker's first step: the network of a job at the studio's defaults, built and run once, so the
    first Generate's first preview does not wait for it (0.3 s of it on a 2-core CPU)."""
    from .actions import STUDIO

    problem.warm(STUDIO.replace(device=device if len(q.devices) > 1 else "auto"))


def run_job(job: Job, device: str, q: JobQueue) -> None:
    """A job's runs, batch by batch (``plan.batches``), each through the queue's executor for this
    device (local or Ray: runner does not know which), its Ticks turned into previews."""
    store = q.store
    inputs = store.input_path(job.content_id), [store.input_path(job.style_id)]
    explicit = len(q.devices) > 1  # with one device, recipes keep "auto" and reproduce anywhere

    def options(run):
        return run.options.replace(device=device) if explicit else run.options

    if job.kind in CLIPS:
        return run_clip(job, device, q)
    executor = q.executor(device)
    for group in batches(job.runs, 1 if job.kind == "render" else q.batch_size, options):
        if job.cancel.is_set():  # a cancelled job starts nothing more
            return
        now = time.time()
        for r in group:
            store.update_result(r.result_id, status="running", started=now)
            q.result_changed(r.result_id)
        watch = Previews(job, group, options(group[0]), q)
        work = Work(*inputs, [options(r) for r in group], _refined_swatch(job, group, store))
        results = executor.run(work, on_tick=watch.tick, stop=watch.stop)
        if job.kind == "render":
            coarse = results[0].recipe.get("stopped_at_coarse_scale")
            if coarse and results[0].error is None:
                results[0].error = f"stopped at the {coarse} px scale; the image is that scale's"
        _save(group, results, q)


def stopped_reason(job: Job):
    """Why a job must end now (its recipes say so), or None: a Cancel on the page, or the server stopping."""
    if job.cancel.is_set():
        return "server stopped" if job.stopped_by_server else "cancelled in the studio"
    return None


def run_clip(job: Job, device: str, q: JobQueue) -> None:
    """A Morph or Walk: its legs through the queue's executor (morph.morph: local, or side by side on a Ray
    cluster), each frame written and announced as it comes (the page plays them), the clip written at the
    end, or at a cancel or a stopping server with the frames made from the first on."""
    from .. import morph

    store, (run,) = q.store, job.runs
    rid, p = run.result_id, job.params
    paths = [store.image_path(i) for i in p["ids"]]
    keys = morph.keys_of(paths)  # read again: a tile deleted since is a clear failure
    if p.get("walk"):
        w = p["walk"]
        keys = morph.walk_keys(keys[0], int(w["steps"]), float(w["amount"]), int(w["seed"]))
    plan = morph.Plan(keys, frames=p["frames"], fps=p["fps"], loop=p["loop"], walk=p.get("walk"),
                      temporal_weight=p.get("temporal_weight", morph.TEMPORAL_WEIGHT))  # fmt: skip
    total = 1 + len(plan.legs) * plan.frames
    store.update_result(rid, status="running", started=time.time())
    q.result_changed(rid)
    made = set()

    def on_frame(index: int, picture) -> None:
        write_preview(picture, store.frame_path(rid, index))
        write_preview(picture, store.preview_path(rid))
        made.add(index)
        store.update_result(rid, iterations_done=len(made), has_preview=1)
        q.broker.publish({"type": "progress", "id": rid, "job_id": job.id, "phase": "frame", "frame": index,
                          "frames": total, "iterations_done": len(made), "fps": plan.fps,
                          "frame_url": urls.result(rid, f"frames/{index}"),
                          "preview_url": urls.result(rid, "preview", f"f{index}")})  # fmt: skip

    def stop():
        return stopped_reason(job)

    started, stopped = time.perf_counter(), None
    try:
        frames = morph.morph(plan, executor=q.executor(device), on_frame=on_frame, stop=stop)
    except morph.Interrupted as cut:
        frames, stopped = cut.pictures, stop() or "interrupted"
    data = {**plan.recipe(), "frames_made": len(frames), "seconds": round(time.perf_counter() - started, 1)}
    if stopped:
        data["interrupted"] = stopped
    if frames:
        for ext in CLIP_FORMATS:
            morph.write(frames, store.clip_path(rid, ext), plan.fps, data)
    store.update_result(
        rid,
        status="interrupted" if stopped else "done",
        iterations_done=len(frames),
        recipe=recipe.dumps(data),
        finished=time.time(),
        elapsed_s=data["seconds"],
        error=f"stopped after {len(frames)} of {total} frames ({stopped})" if stopped else None,
    )
    q.result_changed(rid)


def _refined_swatch(job: Job, group: list, store):
    """A refine's parent's own swatch picture (exactly the picture the tile optimised against: no second
    synthesis, ``Preparation.problems``); None for every other run."""
    parent = group[0].parent_id if job.kind == "refine" else None  # a refine is one run
    swatch = store.swatch_path(parent) if parent else None
    if swatch is None or not os.path.isfile(swatch):
        return None
    from PIL import Image

    with Image.open(swatch) as im:
        return im.convert("RGB")


class Previews:
    """A job's tiles fill live, from the Ticks of its Work (executors.Watch): the first iteration,
    every ``preview_every``-th and the last are written (level-adjusted as the final image will be,
    at preview size) and announced, with the scale of a coarse-to-fine run and the ETA of the whole
    run. A randomised style's swatch is shown the same way while it is made (phase "swatch": the
    new style appearing, the first thing that moves after Generate). A cancelled job (or a stopping
    server) ends the run, with its reason in the recipes."""

    def __init__(self, job: Job, group: list, opts, q: JobQueue):
        self.job, self.group, self.q = job, group, q
        self.pyramid = Pyramid.of(opts)
        self.sizes = self.pyramid.sizes

    def stop(self):
        return stopped_reason(self.job)

    def where(self, tick: Tick) -> dict:
        """The event's place in the whole run: scale (1-based) of scales, its size, fraction of the work, ETA."""
        if tick.phase == "swatch":  # before the run: its share is the swatch's own progress
            left = (tick.iterations - tick.iteration) * tick.elapsed / max(1, tick.iteration)
            return {
                "phase": "swatch",
                "scale": 1,
                "scales": len(self.sizes),
                "scale_size": self.sizes[0],
                "fraction": 0.0,
                "eta_s": None,
                "swatch_eta_s": round(left, 1),
            }
        k = self.pyramid.index(tick.size) if tick.size in self.sizes else len(self.sizes) - 1
        return {
            "phase": "run",
            "scale": k + 1,
            "scales": len(self.sizes),
            "scale_size": self.sizes[k],
            "fraction": round(self.pyramid.fraction(k, tick.iteration), 4),
            "eta_s": round(self.pyramid.left(k, tick.iteration, tick.elapsed), 1),
        }

    def tick(self, handle, tick: Tick) -> None:
        it, store = tick.iteration, self.q.store
        where = self.where(tick)
        # a new scale's (or the run's after its swatch) iteration 1 is a new picture
        v = f"s{it}" if tick.phase == "swatch" else it if where["scales"] == 1 else f"{where['scale']}.{it}"
        for r, im, loss in zip(self.group, tick.pictures or (), tick.losses):
            write_preview(im, store.preview_path(r.result_id))
            store.update_result(
                r.result_id, iterations_done=0 if tick.phase == "swatch" else it, loss=loss, has_preview=1
            )
            self.q.broker.publish(
                {
                    "type": "progress",
                    "id": r.result_id,
                    "job_id": self.job.id,
                    "iteration": it,
                    "iterations": tick.iterations,
                    "loss": loss,
                    "preview_url": urls.result(r.result_id, "preview", v),
                    **where,
                }
            )


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


class Sharpener:
    """The queue's idle work: the latest job's tiles sharpened to each of ``sizes`` in turn (every tile
    to 256 px, then every tile to 384 px), each step a Render large of the last, from its raw image
    and with the tile's own swatch. A step that is pre-empted or stopped keeps nothing and is made again
    later; a finished one is written atomically (``Store.sharp_path``, recipe embedded) before the tile's
    ``sharp_size`` says so, so a server stopped at any moment loses at most the step it was making."""

    def __init__(self, sizes=SHARP_SIZES):
        self.sizes = tuple(sizes)
        self.claimed: set = set()  # (result id, size) being made by some worker
        self.failed: set = set()  # steps that raised: not tried again in this launch
        self.lock = threading.Lock()

    def __call__(self, device: str, q: JobQueue):
        with self.lock:  # one worker per device asks: each takes a step of its own
            step = self.next_step(q.store)
            if step is None:
                return None
            self.claimed.add(step)
        rec_id, size = step

        def run(device, cancel):
            try:
                self.sharpen(q, device, rec_id, size, cancel)
            except Exception:
                self.failed.add(step)
                raise
            finally:
                self.claimed.discard(step)

        return Background(f"sharpen {rec_id[:8]} to {size} px", run)

    def next_step(self, store):
        """(result id, size) of the next tile to sharpen, smallest size first; None when all are done."""
        job = store.latest_job()
        if job is None:
            return None
        tiles = [r for r in reversed(store.results(job_id=job["id"])) if r["status"] == "done" and r["image_url"]]
        for size in self.sizes:
            for r in tiles:
                step = (r["id"], size)
                if r["size"] < size and (r["sharp_size"] or 0) < size and step not in self.claimed | self.failed:
                    return step
        return None

    def sharpen(self, q: JobQueue, device: str, rec_id: str, size: int, cancel) -> None:
        from PIL import Image

        from ..printing import render_options
        from .actions import favourite

        store = q.store
        rec = store.get_result(rec_id, recipe=True)
        explicit = len(q.devices) > 1
        opts = render_options(*favourite(store, rec), size, print_every=0, save_every=0)  # on from the last step
        opts = opts.replace(device=device) if explicit else opts
        swatch = store.swatch_path(rec_id)
        picture = Image.open(swatch).convert("RGB") if os.path.isfile(swatch) else None
        work = Work(store.input_path(rec["content_id"]), [store.input_path(rec["style_id"])], [opts], picture)
        (res,) = q.executor(device).run(work, stop=lambda: "pre-empted" if cancel.is_set() else None)
        if cancel.is_set() or res.interrupted or res.error or res.recipe.get("stopped_at_coarse_scale"):
            return  # made again when the studio is next idle (or never: a Delete pre-empted it)
        res.save(store.sharp_path(rec_id, size))
        store.update_result(rec_id, sharp_size=size)
        q.result_changed(rec_id)
