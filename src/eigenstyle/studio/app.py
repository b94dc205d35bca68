"""The studio's HTTP side: routes (Starlette), errors as one-line messages (the event streams: events.py).

Routes are thin: requests are checked and turned into jobs by ``actions``,
stored by ``store``, run by ``jobs``/``runner``. Ids in URLs are matched
against 32 hex digits before they touch the database or a file name. Every
error comes back as JSON ``{"error": "one line"}`` with a 4xx status for what
the user can fix; anything else is a 500 with a short message (the traceback
goes to the server's log, never to the page).
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import traceback
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import modes, regions
from ..errors import EigenstyleError
from ..options import FIELDS
from . import actions, uploads, urls
from .events import event_response
from .guard import GuardedStarlette, check_token, new_token
from .jobs import Broker, Busy, JobQueue
from .store import CLIPS, NotFound, Store, check_id

STATIC = os.path.join(os.path.dirname(__file__), "static")
MAX_JSON_BYTES = 64 * 1024


class Studio:
    """Everything one running studio holds: workspace, queue, broadcast, limits."""

    def __init__(
        self,
        workspace: str,
        *,
        max_queued: int = 4,
        preview_every: int = 5,
        batch_size: int = 4,
        limits: actions.Limits | None = None,
        devices: list[str] | None = None,
        max_upload_bytes: int = uploads.MAX_BYTES,
        max_upload_pixels: int = uploads.MAX_PIXELS,
        executor: dict | None = None,
        sharpen=None,
    ):
        """``executor``: where jobs run, ``{"name": "ray", "address": ...}`` (executors.make's options) for
        a Ray cluster; default: this process, one worker per device. ``sharpen``: the sizes the latest
        job's tiles are sharpened to while the queue is idle (default ``runner.SHARP_SIZES``; () for none)."""
        from .runner import PREVIEW_SIDE, SHARP_SIZES, Sharpener, run_job, warm

        self.limits = limits or actions.Limits()
        sizes = SHARP_SIZES if sharpen is None else tuple(sharpen)
        if any(not 16 <= size <= self.limits.max_size for size in sizes):
            raise EigenstyleError(f"--sharpen sizes must be 16-{self.limits.max_size} px, got {sizes}")
        self.store = Store(workspace)
        uploads.add_samples(self.store)
        self.max_upload_bytes, self.max_upload_pixels = max_upload_bytes, max_upload_pixels
        self.broker = Broker()
        from ..executors import make

        remote = None
        if executor and executor.get("name", "local") != "local":  # reached now: a bad address fails the launch
            remote = make(**executor, every=preview_every, preview_side=PREVIEW_SIDE)

        def executor_for(device):  # the queue's for each device: the remote one, or a local one making previews
            return remote or make("local", every=preview_every, preview_side=PREVIEW_SIDE)

        self.queue = JobQueue(
            self.store,
            self.broker,
            run_job,
            [remote.name] if remote else devices or default_devices(),
            max_queued=max_queued,
            preview_every=preview_every,
            batch_size=batch_size,
            warm=None if remote else warm,
            executor=executor_for,
            idle=Sharpener(sizes) if sizes else None,
        )
        self._style_lock = threading.Lock()

    def start(self) -> None:
        self.queue.start()

    def stop(self) -> None:
        self.queue.stop()
        self.broker.publish(None)  # end every open event stream
        self.store.close()


def default_devices() -> list[str]:
    """One worker per device: each CUDA GPU, else the CPU."""
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [f"cuda:{i}" for i in range(n)] if n else ["cpu"]


# --- helpers -------------------------------------------------------------------
def _error(status: int, message: str, headers=None) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status, headers=headers)


async def _read(request: Request, limit: int, what: str) -> bytes:
    """The request body, refused past ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise uploads.TooLarge(
            f"{what} is {int(declared) / 2**20:.1f} MB; the studio takes at most {limit / 2**20:.0f} MB"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise uploads.TooLarge(f"{what} is larger than {limit / 2**20:.0f} MB, the most the studio takes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _json(request: Request) -> dict:
    raw = await _read(request, MAX_JSON_BYTES, "the request")
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise EigenstyleError("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise EigenstyleError("the request body must be a JSON object")
    return body


def _studio(request: Request) -> Studio:
    return request.app.state.studio


def _file(path: str, media_type: str, download: str | None = None) -> Response:
    if not os.path.isfile(path):
        raise NotFound("that file is not there (deleted, or the run never finished)")
    headers = {"Cache-Control": "no-cache"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="{download}"'
    return FileResponse(path, media_type=media_type, headers=headers)


def _slug(rec: dict) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", rec["label"]).strip("-")[:60] or "result"


# --- pages, config, inputs ---------------------------------------------------------
async def index(request: Request):
    return FileResponse(os.path.join(STATIC, "index.html"), headers={"Cache-Control": "no-cache"})


async def config(request: Request):
    s = _studio(request)
    return JSONResponse(
        {
            "modes": list(modes.NAMES),
            "mode_help": {m: modes.get(m).help for m in modes.NAMES},
            "layers": list(actions.LAYER_CHOICES),
            "devices": s.queue.devices,
            "defaults": actions.defaults(),
            "limits": {
                **vars(s.limits),
                "max_queued": s.queue.max_queued,
                "max_upload_bytes": s.max_upload_bytes,
                "max_upload_pixels": s.max_upload_pixels,
            },
            "layer_comparison": list(actions.LAYER_COMPARISON),
            "clip": vars(actions.CLIP),
            "render": {
                "sizes": list(actions.RENDER_SIZES),
                "bit_depths": list(FIELDS["bit_depth"].metadata["choices"]),
            },
        }
    )


async def list_inputs(request: Request):
    return JSONResponse({"inputs": _studio(request).store.list_inputs()})


async def add_input(request: Request):
    s = _studio(request)
    name = uploads.label(request.query_params.get("name"))
    data = await _read(request, s.max_upload_bytes, name)
    mask = request.query_params.get("mask") == "1"  # a mask of regions, painted or uploaded
    rec, created = await run_in_threadpool(
        uploads.add_image, s.store, data, name, max_pixels=s.max_upload_pixels, mask=mask
    )
    if mask:  # its regions, by the names a request gives each its style by (a picture of one colour: refused)
        rec = {**rec, "regions": await run_in_threadpool(regions.names_of, s.store.input_path(rec["id"]))}
    return JSONResponse({"input": rec, "created": created}, 201 if created else 200)


async def input_image(request: Request):
    s = _studio(request)
    rec = s.store.get_input(request.path_params["id"])
    return _file(s.store.input_path(rec["id"]), "image/png")


# --- jobs ----------------------------------------------------------------------------
def _acts(endpoint):
    """A route that acts (changes something or makes a file): background work yields to it at once (a job's
    routes need no wrapper: ``JobQueue.submit`` pre-empts). Reached only past the guard, so a page without
    the token cannot stall the studio's sharpening."""

    async def acting(request: Request):
        _studio(request).queue.preempt()
        return await endpoint(request)

    return acting


def _submitter(build):
    async def endpoint(request: Request):
        s = _studio(request)
        body = await _json(request)
        args = (request.path_params["id"],) if "id" in request.path_params else ()
        job = await run_in_threadpool(build, s.store, *args, body, s.limits)
        submitted = s.queue.submit(job)
        return JSONResponse({"job": submitted, "results": s.store.results(job_id=job.id)}, 202)

    return endpoint


async def list_jobs(request: Request):
    s = _studio(request)
    return JSONResponse({"jobs": s.store.list_jobs(), "waiting": s.queue.waiting(), "max_queued": s.queue.max_queued})


async def get_job(request: Request):
    s = _studio(request)
    job = s.store.get_job(request.path_params["id"])
    return JSONResponse({"job": job, "results": s.store.results(job_id=job["id"])})


async def cancel_job(request: Request):
    s = _studio(request)
    return JSONResponse({"job": s.queue.cancel(check_id(request.path_params["id"], "job"))})


# --- results -------------------------------------------------------------------------------
async def list_results(request: Request):
    s, q = _studio(request), request.query_params
    starred = q.get("starred", "").lower() in ("1", "true", "yes", "on")
    try:
        limit = max(1, min(1000, int(q.get("limit", "500"))))
    except ValueError:
        raise EigenstyleError("limit must be an integer") from None
    return JSONResponse(
        {
            "results": s.store.results(
                content_id=q.get("content"), style_id=q.get("style"), mode=q.get("mode"), starred=starred, limit=limit
            )
        }
    )


async def get_result(request: Request):
    return JSONResponse({"result": _studio(request).store.get_result(request.path_params["id"], recipe=True)})


async def result_image(request: Request):
    s = _studio(request)
    rec = s.store.get_result(request.path_params["id"])
    name = f"eigenstyle-{_slug(rec)}-{rec['id'][:8]}.png" if request.query_params.get("download") else None
    return _file(s.store.image_path(rec["id"]), "image/png", name)


async def result_swatch(request: Request):
    """A randomised result's style swatch (PNG, recipe embedded): usable as a style image."""
    s = _studio(request)
    rec = s.store.get_result(request.path_params["id"])
    if not rec["swatch_url"]:
        raise NotFound(
            f"result {rec['id'][:8]} has no style swatch (plain runs have none; a randomised "
            f"one has it once its image is saved)"
        )
    name = f"eigenstyle-{_slug(rec)}-{rec['id'][:8]}.swatch.png" if request.query_params.get("download") else None
    return _file(s.store.swatch_path(rec["id"]), "image/png", name)


async def result_sharp(request: Request):
    """The tile sharpened in the background, at the largest size it has reached (PNG, recipe embedded)."""
    s = _studio(request)
    rec = s.store.get_result(request.path_params["id"])
    if not rec["sharp_size"]:
        raise NotFound(f"result {rec['id'][:8]} has not been sharpened yet (the studio does it while idle)")
    size = rec["sharp_size"]
    name = f"eigenstyle-{_slug(rec)}-{rec['id'][:8]}-{size}px.png" if request.query_params.get("download") else None
    return _file(s.store.sharp_path(rec["id"], size), "image/png", name)


async def result_clip(request: Request):
    """A Morph or Walk's clip: the animated WebP the page plays, or ``?format=mp4`` (H.264); recipe inside."""
    s = _studio(request)
    rec = s.store.get_result(request.path_params["id"])
    ext = ".mp4" if request.query_params.get("format") == "mp4" else ".webp"
    if rec["kind"] not in CLIPS:
        raise NotFound(f"result {rec['id'][:8]} is a still, not a clip")
    name = f"eigenstyle-{_slug(rec)}-{rec['id'][:8]}{ext}" if request.query_params.get("download") else None
    return _file(s.store.clip_path(rec["id"], ext), "video/mp4" if ext == ".mp4" else "image/webp", name)


async def result_frame(request: Request):
    """Frame ``n`` of a clip as it was made (JPEG): the page plays them while the rest are painted."""
    s = _studio(request)
    rec = s.store.get_result(request.path_params["id"])
    n = request.path_params["n"]
    if rec["kind"] not in CLIPS or not 0 <= n <= rec["iterations"]:
        raise NotFound("no such frame")
    return _file(s.store.frame_path(rec["id"], n), "image/jpeg")


async def result_preview(request: Request):
    s = _studio(request)
    rec = s.store.get_result(request.path_params["id"])
    return _file(s.store.preview_path(rec["id"]), "image/jpeg")


async def result_style(request: Request):
    """The result's style file (.safetensors Gram targets), made on first request."""
    s = _studio(request)
    rec = actions._finished(s.store, request.path_params["id"])
    path = s.store.style_path(rec["id"])
    if not os.path.isfile(path):
        await run_in_threadpool(_make_style, s, rec, path)
    return _file(path, "application/octet-stream", f"eigenstyle-{_slug(rec)}-{rec['id'][:8]}.safetensors")


def _make_style(s: Studio, rec: dict, path: str) -> None:
    from .runner import style_file  # imported here, as Studio imports run_job: the runner loads the engine

    with s._style_lock:  # two clicks on Style make the file once
        if not os.path.isfile(path):
            style_file(s.store, rec, path)


async def star_result(request: Request):
    s = _studio(request)
    rec = s.store.get_result(request.path_params["id"])
    body = await _json(request)
    starred = body.get("starred", not rec["starred"])
    if not isinstance(starred, bool):
        raise EigenstyleError("starred must be true or false")
    s.store.update_result(rec["id"], starred=int(starred))
    s.queue.result_changed(rec["id"])
    return JSONResponse({"result": s.store.get_result(rec["id"])})


async def delete_result(request: Request):
    s = _studio(request)
    rec = s.store.get_result(request.path_params["id"])
    if rec["status"] in ("queued", "running"):
        raise Conflict("this result is still being made; cancel its job first")
    s.store.delete_result(rec["id"])
    s.broker.publish({"type": "deleted", "id": rec["id"]})
    return JSONResponse({"deleted": rec["id"]})


class Conflict(EigenstyleError):
    pass


# --- events ------------------------------------------------------------------------------------
async def events(request: Request):
    return event_response(_studio(request), None)


async def job_events(request: Request):
    s = _studio(request)
    job = s.store.get_job(request.path_params["id"])  # 404 before the stream starts
    return event_response(s, job["id"])


# --- errors ------------------------------------------------------------------------------------
async def on_eigenstyle_error(request: Request, exc: EigenstyleError):
    status = {NotFound: 404, uploads.TooLarge: 413, Busy: 429, Conflict: 409}.get(type(exc), 400)
    return _error(status, str(exc), {"Retry-After": "5"} if status == 429 else None)


async def on_http_error(request: Request, exc: HTTPException):
    return _error(exc.status_code, exc.detail or "error")


async def on_crash(request: Request, exc: Exception):
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    return _error(500, f"internal error ({type(exc).__name__}); the details are in the server's log")


def create_app(workspace: str, *, token: str | None = None, allow_hosts=(), **kwargs) -> Starlette:
    """The studio's ASGI app on ``workspace`` (created if missing). The worker threads
    start with the app's lifespan and stop (keeping interrupted images) with it. Every
    request needs ``token`` (a random one if None: see ``app.state.token``) and a Host that
    is loopback or in ``allow_hosts`` (guard.py)."""
    token = check_token(token) if token is not None else new_token()
    studio = Studio(workspace, **kwargs)

    @asynccontextmanager
    async def lifespan(app):
        studio.start()
        try:
            yield
        finally:
            await run_in_threadpool(studio.stop)

    R = Route
    routes = [
        R("/", index),
        R(urls.CONFIG, config),
        R(urls.INPUTS, list_inputs),
        R(urls.INPUTS, _acts(add_input), methods=["POST"]),
        R(urls.INPUT + "/image", input_image),
        R(urls.GENERATE, _submitter(actions.generate), methods=["POST"]),
        R(urls.LAYERS, _submitter(actions.layers), methods=["POST"]),
        R(urls.BETWEEN, _submitter(actions.between), methods=["POST"]),
        R(urls.MORPH, _submitter(actions.morph), methods=["POST"]),
        R(urls.RESULTS, list_results),
        R(urls.RESULT, get_result),
        R(urls.RESULT, _acts(delete_result), methods=["DELETE"]),
        R(urls.RESULT + "/image", result_image),
        R(urls.RESULT + "/preview", result_preview),
        R(urls.RESULT + "/sharp", result_sharp),
        R(urls.RESULT + "/swatch", result_swatch),
        R(urls.RESULT + "/clip", result_clip),
        R(urls.RESULT + "/frames/{n:int}", result_frame),
        R(urls.RESULT + "/style", _acts(result_style)),
        R(urls.RESULT + "/star", _acts(star_result), methods=["POST"]),
        R(urls.RESULT + "/mutate", _submitter(actions.mutate), methods=["POST"]),
        R(urls.RESULT + "/refine", _submitter(actions.refine), methods=["POST"]),
        R(urls.RESULT + "/render", _submitter(actions.render), methods=["POST"]),
        R(urls.RESULT + "/walk", _submitter(actions.walk), methods=["POST"]),
        R(urls.JOBS, list_jobs),
        R(urls.JOB, get_job),
        R(urls.JOB + "/cancel", _acts(cancel_job), methods=["POST"]),
        R(urls.JOB + "/events", job_events),
        R(urls.EVENTS, events),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = GuardedStarlette(
        guard={"token": token, "allow_hosts": tuple(allow_hosts)},
        routes=routes,
        lifespan=lifespan,
        exception_handlers={EigenstyleError: on_eigenstyle_error, HTTPException: on_http_error, Exception: on_crash},
    )
    app.state.studio, app.state.token = studio, token
    return app
