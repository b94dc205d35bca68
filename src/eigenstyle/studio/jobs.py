"""The job queue, its workers and the event broadcast.

One worker thread per device (each GPU, else the CPU): a style optimisation
uses the whole device, so running two at once on one device only makes both
slower. The queue of waiting jobs is bounded; past the bound ``submit`` raises
:class:`Busy` (HTTP 429) rather than letting work pile up unseen.

A job that raises is marked failed with a one-line message and the worker
carries on with the next one: one bad job must not take the studio down.

When no job waits, a worker asks ``idle`` for :class:`Background` work (the studio sharpens its latest
tiles). Background work yields at once: a submitted job or ``preempt()`` (any action on the page) stops
it at its next iteration, and it resumes only after ``quiet_s`` without one.

Every change is published to a :class:`Broker`, which fans it out to every
open event stream (several tabs watch the same jobs). Workers are threads and
streams live on the event loop, so publishing goes through
``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..errors import EigenstyleError
from .store import Store


class Busy(EigenstyleError):
    """The queue is full (HTTP 429)."""


@dataclass
class Run:
    """One result to make: its options (seeds resolved), label and lineage."""

    result_id: str
    options: object  # eigenstyle.options.Options
    label: str
    parent_id: Optional[str] = None
    parent2_id: Optional[str] = None


@dataclass
class Job:
    id: str
    kind: str
    content_id: Optional[str]
    style_id: Optional[str]
    runs: list
    params: dict = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)
    stopped_by_server: bool = False


@dataclass(eq=False)  # each one is itself (a member of the running set), never equal to another
class Background:
    """Work done only while no job waits: ``run(device, cancel)``, which must return soon after ``cancel``
    is set and keep nothing half-made. It has no row in the jobs table: the page sees what it makes."""

    name: str
    run: Callable
    cancel: threading.Event = field(default_factory=threading.Event)


class Subscription:
    def __init__(self, loop, maxsize: int):
        self.loop = loop
        self.queue: asyncio.Queue = asyncio.Queue(maxsize)

    def offer(self, event) -> None:
        if self.queue.full():  # a stalled tab: drop its backlog and tell it to reload the state
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait({"type": "resync"})
        self.queue.put_nowait(event)


class Broker:
    """Fan-out of job events to every subscriber (each a bounded asyncio queue)."""

    def __init__(self, maxsize: int = 1000):
        self._subs: set = set()
        self._lock = threading.Lock()
        self.maxsize = maxsize

    def subscribe(self) -> Subscription:
        sub = Subscription(asyncio.get_running_loop(), self.maxsize)
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def count(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, event: Optional[dict]) -> None:
        """Send ``event`` to every subscriber; ``None`` ends every stream."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            try:
                sub.loop.call_soon_threadsafe(sub.offer, event)
            except RuntimeError:  # its event loop is gone
                self.unsubscribe(sub)


class JobQueue:
    def __init__(
        self,
        store: Store,
        broker: Broker,
        runner: Callable,
        devices: list[str],
        *,
        max_queued: int = 4,
        preview_every: int = 5,
        batch_size: int = 4,
        warm: Callable | None = None,
        executor: Callable | None = None,
        idle: Callable | None = None,
        quiet_s: float = 1.0,
    ):
        """``runner(job, device, queue)``: what a worker does with a job (the studio hands its runner in:
        the queue knows none). ``executor(device)``: the executor a device's worker runs its jobs through
        (default: a local one per device, its Ticks without pictures). ``idle(device, queue)``: the next
        :class:`Background` work, or None when there is none (asked again once a job has finished)."""
        self.store, self.broker, self.runner, self.warm = store, broker, runner, warm
        self.idle, self.quiet_s = idle, quiet_s
        self._background: set = set()  # Background work running now
        self._quiet_until = 0.0  # monotonic time before which no background work starts
        self._idle_dry = False  # idle() had nothing: do not ask again until a job finishes
        self._executors: dict = {}
        self._make_executor = executor
        self.devices = devices
        self.max_queued, self.preview_every, self.batch_size = max_queued, preview_every, batch_size
        self._pending: deque = deque()
        self._running: dict = {}
        self._cv = threading.Condition()
        self._stopping = False
        self._workers = [
            threading.Thread(target=self._work, args=(d,), name=f"eigenstyle-worker-{d}", daemon=True) for d in devices
        ]

    def executor(self, device: str):
        """This device's executor (one per worker thread: a local one keeps its inputs' preparation)."""
        if device not in self._executors:
            if self._make_executor is not None:
                self._executors[device] = self._make_executor(device)
            else:
                from ..executors import make

                self._executors[device] = make("local", every=self.preview_every)
        return self._executors[device]

    def start(self) -> None:
        for w in self._workers:
            w.start()

    # --- events -------------------------------------------------------------
    def result_changed(self, result_id: str) -> None:
        self.broker.publish({"type": "result", "result": self.store.get_result(result_id)})

    def job_changed(self, job_id: str) -> None:
        self.broker.publish({"type": "job", "job": self.store.get_job(job_id)})

    # --- submit / cancel ------------------------------------------------------
    def preempt(self) -> None:
        """Stop background work at its next iteration, and start none for ``quiet_s``: the page is acting."""
        with self._cv:
            self._quiet_until = time.monotonic() + self.quiet_s
            for work in self._background:
                work.cancel.set()
            self._cv.notify_all()

    def submit(self, job: Job) -> dict:
        self.preempt()  # the new job runs as soon as the background work has yielded
        with self._cv:
            if self._stopping:
                raise Busy("the studio is shutting down")
            if len(self._pending) >= self.max_queued:
                raise Busy(
                    f"busy: {len(self._pending)} jobs are already waiting, the most this studio queues; "
                    f"try again when one has finished, or cancel one"
                )
            self.store.create_job(
                job.id,
                job.kind,
                job.content_id,
                job.style_id,
                job.params,
                [
                    {
                        "id": r.result_id,
                        "label": r.label,
                        "options": r.options.to_dict(),
                        "parent_id": r.parent_id,
                        "parent2_id": r.parent2_id,
                    }
                    for r in job.runs
                ],
            )
            self._pending.append(job)
            self._cv.notify()
        self.job_changed(job.id)
        for r in job.runs:
            self.result_changed(r.result_id)
        return self.store.get_job(job.id)

    def cancel(self, job_id: str) -> dict:
        job = self.store.get_job(job_id)  # NotFound for unknown ids
        with self._cv:
            waiting = next((j for j in self._pending if j.id == job_id), None)
            if waiting is not None:
                self._pending.remove(waiting)
            running = self._running.get(job_id)
            if running is not None:
                running.cancel.set()
        if waiting is not None:
            waiting.cancel.set()
            self._finish(waiting, "cancelled", None)
        return self.store.get_job(job_id) if (waiting or running) else job

    def waiting(self) -> int:
        with self._cv:
            return len(self._pending)

    # --- workers --------------------------------------------------------------
    def _work(self, device: str) -> None:
        if self.warm is not None:  # before the first job, which waits for it (it would need it anyway)
            try:
                self.warm(device, self)
            except Exception:  # the job will meet the same problem and report it
                traceback.print_exc(file=sys.stderr)
        while True:
            item = self._next(device)
            if item is None:
                return
            try:
                if isinstance(item, Background):
                    item.run(device, item.cancel)
                else:
                    self._run(item, device)
            except Exception:  # bookkeeping failed (the disk, the database): log it, keep serving
                traceback.print_exc(file=sys.stderr)
            finally:
                with self._cv:
                    if isinstance(item, Background):
                        self._background.discard(item)
                    else:
                        self._running.pop(item.id, None)
                        self._idle_dry = False  # a finished job may have made tiles to sharpen

    def _next(self, device: str):
        """The next waiting job; when none waits, background work (after ``quiet_s`` of quiet); None: stop."""
        while True:
            with self._cv:
                while True:
                    if self._stopping:
                        return None
                    if self._pending:
                        job = self._pending.popleft()
                        self._running[job.id] = job
                        return job
                    quiet = self._quiet_until - time.monotonic()
                    if self.idle is None or self._idle_dry:
                        self._cv.wait()
                    elif quiet > 0:
                        self._cv.wait(quiet)
                    else:
                        break
            try:
                work = self.idle(device, self)  # outside the lock: it reads the store
            except Exception:  # background work is optional: a failure is logged, the worker keeps serving jobs
                traceback.print_exc(file=sys.stderr)
                work = None
            with self._cv:
                if work is None:
                    self._idle_dry = True
                elif not self._pending and not self._stopping and time.monotonic() >= self._quiet_until:
                    self._background.add(work)
                    return work

    def _run(self, job: Job, device: str) -> None:
        self.store.update_job(job.id, status="running", started=time.time(), device=device)
        self.job_changed(job.id)
        status, error = "done", None
        try:
            self.runner(job, device, self)
        except EigenstyleError as e:
            status, error = "failed", str(e)
        except Exception as e:  # a bug or the device failing: this job fails, the studio goes on
            traceback.print_exc(file=sys.stderr)
            status, error = "failed", " ".join(f"{type(e).__name__}: {e}".split())[:300]
        if status == "done" and job.cancel.is_set():
            status = "interrupted" if job.stopped_by_server else "cancelled"
        try:
            self._finish(job, status, error)
        except Exception:  # never let bookkeeping kill the worker
            traceback.print_exc(file=sys.stderr)

    def _finish(self, job: Job, status: str, error: Optional[str]) -> None:
        """Close the job, and any of its results that never ran or never finished."""
        now = time.time()
        left = "failed" if status == "failed" else "cancelled" if status == "cancelled" else "interrupted"
        for r in job.runs:
            rec = self.store.get_result(r.result_id) if self._exists(r.result_id) else None
            if rec and rec["status"] in ("queued", "running"):
                self.store.update_result(r.result_id, status=left, finished=now, error=error)
                self.result_changed(r.result_id)
        self.store.update_job(job.id, status=status, finished=now, error=error)
        self.job_changed(job.id)

    def _exists(self, result_id: str) -> bool:
        try:
            self.store.get_result(result_id)
            return True
        except EigenstyleError:
            return False

    def stop(self, timeout: float = 30.0) -> None:
        """Shut down: running jobs stop at their next iteration and keep their image (interrupted);
        waiting ones are marked interrupted."""
        with self._cv:
            self._stopping = True
            for work in self._background:
                work.cancel.set()
            pending = list(self._pending)
            self._pending.clear()
            for job in self._running.values():
                job.stopped_by_server = True
                job.cancel.set()
            self._cv.notify_all()
        for job in pending:
            job.stopped_by_server = True
            self._finish(job, "interrupted", "the server stopped before this job ran")
        for w in self._workers:
            if w.is_alive():
                w.join(timeout)
