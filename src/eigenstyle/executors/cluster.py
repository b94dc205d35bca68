"""The Ray executor: each Work a Ray task on a cluster (``pip install 'eigenstyle[ray]'``).

* **What travels:** the content and style files by content (:class:`~eigenstyle.files.Carried`: their
  bytes, with the path and hash they have here, so recipes name the artist's files), put in Ray's
  object store once per command, and the runs' options. Results come back as Result objects and are
  written here, atomically, as each arrives: a worker never writes the artist's files.
* **Progress:** a task reports Ticks (and the studio's preview pictures) to one small actor per
  executor, the channel; the driver reads them while it waits. Cancel goes the other way: a running
  task asks the channel for its reason every half second and ends with its current images
  (interrupted, as a local Ctrl-C does); a task that has not started is dropped (``ray.cancel``).
* **Faults:** a worker that dies mid-run has its task run again by Ray (``max_retries``); its result is
  written once, when it arrives. A cluster that goes away ends the command with one line; what was
  written stays.
* **Threads:** a task gets ``cpus_per_run`` CPUs (Ray sets the worker's thread count to it) and
  ``gpus_per_run`` GPUs (the run's device is then that GPU).
"""

from __future__ import annotations

import itertools
import os
import socket
import sys
import time
from typing import Iterator, Optional, Sequence

from ..errors import EigenstyleError
from ..files import Carried
from ..stopping import Stopped
from .work import Executor, Handle, Tick, Watch, Work, perform

POLL_S = 0.2  # how often the driver reads the channel while it waits
ASK_S = 0.5  # how often a running task asks whether it is cancelled


def _ray():
    try:
        import ray
    except ImportError:
        raise EigenstyleError("--executor ray needs Ray: pip install 'eigenstyle[ray]'") from None
    return ray


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


class _Channel:
    """The actor between the driver and its tasks: progress one way, cancel reasons the other."""

    def __init__(self):
        self.events, self.reasons = [], {}

    def push(self, key, event) -> None:
        self.events.append((key, event))

    def pull(self) -> list:
        events, self.events = self.events, []
        return events

    def cancel(self, key, reason: str) -> None:
        self.reasons[key] = reason

    def reason(self, key) -> Optional[str]:
        return self.reasons.get(key)


class _Asking:
    """A task's view of its cancel: the channel asked at most every ASK_S seconds, its answer read
    when it is there (never waited for: a task in ``ray.get`` or ``ray.wait`` lends its CPUs to another)."""

    def __init__(self, channel, key):
        self.channel, self.key, self.at, self.answer, self.asked = channel, key, 0.0, None, None

    def __call__(self) -> Optional[str]:
        if self.answer is None and self.asked is None and time.monotonic() - self.at > ASK_S:
            self.asked, self.at = self.channel.reason.remote(self.key).future(), time.monotonic()
        if self.asked is not None and self.asked.done():  # a future: ray.wait, even with no timeout, lends
            self.answer, self.asked = self.asked.result(), None
        return self.answer


_PREPARED: dict = {}  # in a worker process: the last inputs' Preparation, reused by the next task on them


def _task(key, work: Work, channel, every: int, preview_side: int, content: Carried, *styles: Carried) -> list:
    """A Work on a worker: its results (written by the driver). It never waits on Ray (``ray.get`` in a task
    lends its CPUs to the next task: two runs would share a task's cores)."""
    import platform

    from ..plan import Preparation

    channel.push.remote(key, ("started", {"node": platform.node(), "pid": os.getpid()}))
    # the inputs came as arguments: Ray had them here
    work = Work(content, list(styles), work.options, work.swatch, task=work.task)
    inputs = (content.sha256, tuple(s.sha256 for s in styles))
    if inputs not in _PREPARED:
        _PREPARED.clear()
        _PREPARED[inputs] = Preparation(work.content, work.styles)
    watch = Watch(lambda tick: channel.push.remote(key, tick), _Asking(channel, key), every, preview_side)
    try:
        return perform(work, _PREPARED[inputs], [watch])
    except Stopped:  # cancelled while it was prepared: nothing made
        return None


def _reachable(address: str) -> None:
    """A HOST:PORT that answers nothing fails now, in one line: Ray itself would retry for minutes."""
    if address == "local":  # ray.init would start a cluster of its own (see RayExecutor)
        raise EigenstyleError(
            "--address local is not offered: start a cluster with `ray start --head`, then --address auto"
        )
    if address == "auto":
        return
    host, _, port = address.split("://")[-1].rpartition(":")
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=5).close()
    except (OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or str(e) or type(e).__name__
        raise EigenstyleError(
            f"cannot reach a Ray cluster at {address!r} ({why}); is `ray start` running there?"
        ) from None


class RayExecutor(Executor):
    """Work as Ray tasks. ``address``: "auto" (the cluster this machine belongs to: ``ray start``) or
    "HOST:PORT". Never a cluster of its own: one that ``ray.init`` starts leaves a token file behind (Ray
    2.60) that keeps later clients out of ``ray start`` clusters (docs/cluster.md)."""

    name = "ray"

    def __init__(
        self,
        address: str = "auto",
        cpus_per_run: float = 1,
        gpus_per_run: float = 0,
        max_retries: int = 3,
        every: int = 5,
        preview_side: int = 0,
    ):
        ray = self.ray = _ray()
        if cpus_per_run <= 0 or gpus_per_run < 0 or max_retries < 0:
            raise EigenstyleError("--cpus-per-run must be > 0, --gpus-per-run and --max-retries >= 0")
        self.address, self.every, self.preview_side = address, every, preview_side
        if not ray.is_initialized():
            _reachable(address)
            try:
                ray.init(address=address, log_to_driver=False, logging_level="ERROR", configure_logging=False)
            except Exception as e:  # ConnectionError, RuntimeError, ValueError: the address is off
                raise EigenstyleError(f"cannot reach a Ray cluster at {address!r} ({_first_line(e)})") from None
        self.channel = ray.remote(num_cpus=0)(_Channel).remote()
        self.task = ray.remote(_task).options(
            num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=max_retries, retry_exceptions=False
        )
        self.keys = itertools.count(1)
        self.carried: dict = {}  # path -> object ref of its Carried bytes (each file put once)

    def _carry(self, im):
        if not isinstance(im, (str, os.PathLike)):
            raise EigenstyleError("--executor ray takes inputs as files (an in-memory image has no file to send)")
        path = os.path.abspath(os.fspath(im))
        if path not in self.carried:
            from ..images import load_rgb

            load_rgb(path, "input image")  # a bad file fails here, in one line, before anything is sent
            try:
                self.carried[path] = self.ray.put(Carried.read(path))  # once: every task gets the same object
            except OSError as e:
                raise EigenstyleError(f"cannot read {path}: {e.strerror}") from None
        return self.carried[path]

    def check(self, work: Work) -> None:
        for im in [work.content, *work.styles]:
            self._carry(im)

    def submit(self, work: Work, on_tick=None, stop=lambda: None) -> Handle:
        if any(getattr(o, name) for o in work.options for name in ("style_file", "model_file")):
            raise EigenstyleError("--executor ray sends image files only: --style-file and --model-file stay local")
        if any(o.init not in (None, "random", "image") for o in work.options):
            raise EigenstyleError("--executor ray sends image files only: give --init random or image")
        handle = Handle(work, on_tick, stop)
        inputs = [self._carry(work.content)] + [self._carry(s) for s in work.styles]  # refs: resolved before it runs
        spec = Work(None, [], list(work.options), work.swatch, task=work.task)
        key = next(self.keys)
        ref = self.task.remote(key, spec, self.channel, self.every, self.preview_side, *inputs)
        handle.state.update(key=key, ref=ref)
        return handle

    def completed(self, handles: Sequence[Handle], progress: bool = False) -> Iterator[Handle]:
        """Each handle as its task ends (results written to its Work's outputs). Ctrl-C cancels every
        task, keeps the images of those that were running (interrupted) and raises KeyboardInterrupt
        after they are written."""
        ray, waiting = self.ray, {h.state["ref"]: h for h in handles}
        board = _Board(handles) if progress else None
        interrupted = False
        while waiting:
            try:
                ready, _ = ray.wait(list(waiting), num_returns=1, timeout=POLL_S)
                self._relay(waiting.values(), board)
            except KeyboardInterrupt:
                interrupted = True
                self.cancel_all(list(waiting.values()), "interrupted (Ctrl-C)")
                continue
            except Exception as e:
                raise EigenstyleError(f"the Ray cluster went away ({_first_line(e)})") from None
            for ref in ready:
                h = waiting.pop(ref)
                self._collect(h, ref)
                if board:
                    board.done(h)
                yield h
        if board:
            board.close()
        if interrupted:
            raise KeyboardInterrupt

    def _relay(self, handles, board) -> None:
        """Progress from the channel to each handle's on_tick; each handle's own cancel to the channel."""
        by_key = {h.state["key"]: h for h in handles}
        for key, event in self.ray.get(self.channel.pull.remote()):
            h = by_key.get(key)
            if h is None:
                continue
            if isinstance(event, Tick):
                if h.on_tick:
                    h.on_tick(h, event)
                if board:
                    board.tick(h, event)
            else:
                h.state["started"] = event[1]
        for h in by_key.values():
            reason = h.stopped()
            if reason is not None and not h.state.get("told"):
                h.state["told"] = True
                self.channel.cancel.remote(h.state["key"], reason)
                if "started" not in h.state:  # it waited: dropped, whatever it has done by the time it ends
                    h.state["dropped"] = True
                    self.ray.cancel(h.state["ref"], force=False)

    def _collect(self, h: Handle, ref) -> None:
        ray = self.ray
        try:
            results = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return  # dropped before it ran: no results
        except ray.exceptions.RayTaskError as e:  # the run's own error (a bad option, out of memory)
            cause = getattr(e, "cause", None)
            if not h.state.get("dropped"):
                h.error = str(cause) if isinstance(cause, EigenstyleError) else _first_line(cause or e)
            return
        except Exception as e:  # the worker kept dying (retries spent), the cluster went away
            raise EigenstyleError(f"a run was lost on the Ray cluster ({_first_line(e)})") from None
        if h.state.get("dropped") or results is None:
            return  # cancelled before it was seen to start, or while it was prepared: nothing of it is kept
        h.results = results
        for r, path in zip(results if h.work.task is None else (), h.work.outputs or ()):
            r.save(path)

    def cancel_all(self, handles: Sequence[Handle], reason: str) -> None:
        for h in handles:
            h.cancel(reason)
        self._relay(handles, None)


class _Board:
    """One progress line over every task: runs finished, iterations done of all, time so far."""

    def __init__(self, handles: Sequence[Handle], stream=None):
        self.stream = stream or sys.stderr
        self.total = sum(h.work.iterations for h in handles)
        self.done_its = {id(h): 0 for h in handles}
        self.finished, self.count, self.started = 0, len(handles), time.monotonic()

    def tick(self, h: Handle, tick: Tick) -> None:
        if tick.phase == "run":
            self.done_its[id(h)] = max(self.done_its[id(h)], tick.iteration)  # of the scale: enough for a bar
            self.show()

    def done(self, h: Handle) -> None:
        self.finished += 1
        self.done_its[id(h)] = h.work.iterations
        self.show()

    def show(self) -> None:
        part = sum(self.done_its.values()) / max(1, self.total)
        bar = "#" * round(30 * part)
        self.stream.write(
            f"\rray: [{bar:<30}] {100 * part:3.0f}%  {self.finished}/{self.count} tasks done  "
            f"{time.monotonic() - self.started:.0f} s"
        )
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
