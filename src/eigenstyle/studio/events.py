"""The studio's server-sent events: one stream of everything, or one job's (its snapshot, then its news).

A subscriber is registered before the snapshot is read, so nothing that happens between the two is
missed; a keep-alive comment every ``KEEPALIVE_S`` keeps proxies from closing an idle stream, and a
job's stream ends when the job does.
"""

from __future__ import annotations

import asyncio
import json

from starlette.responses import StreamingResponse

from .store import TERMINAL

KEEPALIVE_S = 15.0


def _sse(event: dict) -> str:
    return f"event: {event['type']}\ndata: {json.dumps(event, allow_nan=False, default=str)}\n\n"


def _job_of(event: dict):
    return (event.get("job") or {}).get("id") or (event.get("result") or {}).get("job_id") or event.get("job_id")


async def _stream(s, job_id: str | None):
    sub = s.broker.subscribe()  # before the snapshot, so nothing between the two is missed
    try:
        yield "retry: 2000\n\n"
        if job_id is None:
            yield _sse({"type": "hello", "waiting": s.queue.waiting(), "devices": s.queue.devices})
        else:
            job = s.store.get_job(job_id)
            for r in s.store.results(job_id=job_id):
                yield _sse({"type": "result", "result": r})
            yield _sse({"type": "job", "job": job})
            if job["status"] in TERMINAL:
                return
        while True:
            try:
                event = await asyncio.wait_for(sub.queue.get(), KEEPALIVE_S)
            except asyncio.TimeoutError:
                yield ": keep-alive\n\n"
                continue
            if event is None:
                return
            if job_id is not None and _job_of(event) not in (job_id, None):
                continue
            yield _sse(event)
            if job_id is not None and event["type"] == "job" and event["job"]["status"] in TERMINAL:
                return
    finally:
        s.broker.unsubscribe(sub)


def event_response(s, job_id: str | None) -> StreamingResponse:
    return StreamingResponse(
        _stream(s, job_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
