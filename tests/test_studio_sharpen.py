"""Tiles that sharpen while the artist looks (issue 35): when no job waits, the studio renders the latest
job's tiles larger, coarse to fine from each tile (Render large's path), one size after another; any action
from the page pre-empts it at once, and a stopped server keeps every finished step.

The queue's side (Background work, pre-emption, quiet) is tested with plain Python work; the studio's with
real runs of the embedded VGG at small sizes (tiles of 32 px sharpened to 48 and 64 px).
"""

import io
import os
import sqlite3
import threading
import time

import pytest
from PIL import Image
from test_studio_api import SWATCH, finish, samples, submit

from eigenstyle import recipe
from eigenstyle.errors import EigenstyleError
from eigenstyle.studio.app import create_app
from eigenstyle.studio.jobs import Background, Broker, Job, JobQueue
from eigenstyle.studio.store import MIGRATIONS, SCHEMA_VERSION, Store

from studio_live import client as client_of

SIZES = (48, 64)
TILE = {"size": 32, "iterations": 6, "count": 2}


# --- the queue: background work while idle -----------------------------------------------------------------
class Recorder:
    """Background work that runs until cancelled (or ``seconds``), recording what happened to it."""

    def __init__(self, seconds=30.0):
        self.seconds, self.started, self.ended, self.cancelled = seconds, [], [], []

    def __call__(self, device, q):
        def run(device, cancel):
            self.started.append(time.monotonic())
            cancel.wait(self.seconds)
            self.ended.append(time.monotonic())
            self.cancelled.append(cancel.is_set())

        return Background("record", run)


def _queue(tmp_path, idle, runner_fn, quiet_s=0.3):
    q = JobQueue(Store(str(tmp_path / "ws")), Broker(), runner_fn, ["cpu"], idle=idle, quiet_s=quiet_s)
    q.start()
    return q


def _wait(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_submitted_job_preempts_background_work_at_once_and_it_resumes_after_quiet(tmp_path):
    work, ran = Recorder(), []
    q = _queue(tmp_path, work, lambda job, device, q: ran.append((job.id, time.monotonic())))
    try:
        _wait(lambda: work.started)  # idle from the start: the background work begins
        submitted = time.monotonic()
        q.submit(Job("a" * 32, "generate", None, None, []))
        _wait(lambda: ran)
        assert work.cancelled == [True] and work.ended[0] - submitted < 0.2  # it yielded at once
        assert ran[0][1] - submitted < 0.5  # and the job ran straight away
        _wait(lambda: len(work.started) == 2)  # idle again: the work resumes, after the quiet
        assert work.started[1] - ran[0][1] >= 0 and work.started[1] - submitted >= 0.3
        q.preempt()  # any other action on the page
        _wait(lambda: len(work.ended) == 2)
        assert work.cancelled == [True, True]
    finally:
        q.stop()
    assert len(work.started) == len(work.ended)  # stop cancels running background work and waits for it


def test_idle_is_asked_again_only_after_a_job_finishes_when_it_had_nothing(tmp_path):
    asked = []

    def idle(device, q):
        asked.append(time.monotonic())
        return None

    q = _queue(tmp_path, idle, lambda job, device, q: None)
    try:
        _wait(lambda: asked)
        time.sleep(0.5)
        assert len(asked) == 1  # nothing to do: no busy polling
        q.submit(Job("b" * 32, "generate", None, None, []))
        _wait(lambda: len(asked) == 2)
    finally:
        q.stop()


def test_an_idle_that_fails_leaves_the_worker_serving_jobs(tmp_path, capsys):
    def idle(device, q):
        raise OSError("the disk went away")

    ran = []
    q = _queue(tmp_path, idle, lambda job, device, q: ran.append(job.id))
    try:
        q.submit(Job("e" * 32, "generate", None, None, []))
        _wait(lambda: ran)
    finally:
        q.stop()
    assert "the disk went away" in capsys.readouterr().err


def test_the_sharpened_picture_needs_the_token_and_a_trusted_host(tmp_path):
    from starlette.testclient import TestClient

    app = create_app(str(tmp_path / "ws"), token="t" * 32, sharpen=())
    url, token = f"/api/results/{'f' * 32}/sharp", {"X-Eigenstyle-Token": "t" * 32}
    with TestClient(app, base_url="http://127.0.0.1:7860") as c:
        assert c.get(url).status_code == 401
        assert c.get(url, headers={**token, "Host": "evil.example:7860"}).status_code == 403
        assert c.get(url, headers=token).status_code == 404  # past the guard: no such result


# --- the studio: real runs -----------------------------------------------------------------------------------
def _sharpened(client, ids, size, timeout=120.0):
    deadline = time.monotonic() + timeout
    while True:
        recs = [client.get(f"/api/results/{i}").json()["result"] for i in ids]
        if all(r["sharp_size"] == size for r in recs):
            return recs
        assert time.monotonic() < deadline, [r["sharp_size"] for r in recs]
        time.sleep(0.1)


@pytest.mark.slow
def test_the_latest_tiles_sharpen_to_each_size_with_recipes_and_are_kept_across_a_restart(tmp_path):
    ws = tmp_path / "ws"
    with client_of(create_app(str(ws), preview_every=2, sharpen=SIZES)) as client:
        job = submit(client, "/api/generate", {**samples(client), **TILE, **SWATCH})
        assert finish(client, job["job"]["id"])[-1][1]["job"]["status"] == "done"
        ids = [r["id"] for r in job["results"]]
        recs = _sharpened(client, ids, 64)
        app = client.app
        store = app.state.studio.store
        for r in recs:
            assert r["sharp_url"].endswith("/sharp?v=64") and r["size"] == 32  # the tile itself is unchanged
            png = client.get(r["sharp_url"])
            assert png.status_code == 200 and max(Image.open(io.BytesIO(png.content)).size) == 64
            data = recipe.read_recipe(store.sharp_path(r["id"], 64))  # each step carries its recipe
            assert data["options"]["size"] == 64 and data["options"]["reference_size"] == 32
            assert data["options"]["init"].startswith(str(ws)) and ".s48" in data["options"]["init"]
            step48 = recipe.read_recipe(store.sharp_path(r["id"], 48))  # from the tile itself
            assert step48["options"]["init"] in (store.image_path(r["id"], raw=True), store.image_path(r["id"]))
        # Render large goes on from what the tile shows: its 64 px picture, not the 32 px tile
        render = submit(client, f"/api/results/{ids[1]}/render", {"size": 96, "iterations": 2})
        opts = render["results"][0]["options"]
        assert ".s64" in opts["init"] and opts["reference_size"] == 32 and not opts["scales"]
        assert finish(client, render["job"]["id"])[-1][1]["job"]["status"] == "done"
        # a tile deleted takes its sharpened steps with it
        client.delete(f"/api/results/{ids[0]}")
        assert not [n for n in os.listdir(ws / "images") if n.startswith(ids[0])]
    with client_of(create_app(str(ws), sharpen=SIZES)) as client:  # a later launch keeps them
        rec = client.get(f"/api/results/{ids[1]}").json()["result"]
        assert rec["sharp_size"] == 64 and client.get(rec["sharp_url"]).status_code == 200


@pytest.mark.slow
def test_a_generate_during_sharpening_starts_at_once_and_a_stop_keeps_only_whole_steps(tmp_path):
    ws = tmp_path / "ws"
    slow = (256,)  # a step long enough to be caught in the middle
    with client_of(create_app(str(ws), preview_every=2, sharpen=slow)) as client:
        pair = samples(client)
        first = submit(client, "/api/generate", {**pair, **TILE, **SWATCH, "count": 1})
        finish(client, first["job"]["id"])
        q = client.app.state.studio.queue
        _wait(lambda: q._background, timeout=30)  # sharpening the tile now
        (step,) = q._background
        client.post(f"/api/results/{first['results'][0]['id']}/star", json={"starred": True})
        assert step.cancel.is_set()  # any action on the page pre-empts it, not only a job
        _wait(lambda: q._background and step not in q._background, timeout=30)  # made again after the quiet
        submitted = time.time()
        second = submit(client, "/api/generate", {**pair, **TILE, **SWATCH, "count": 1})
        started = []
        threading.Thread(target=lambda: started.append(finish(client, second["job"]["id"])), daemon=True).start()
        _wait(lambda: client.get(f"/api/jobs/{second['job']['id']}").json()["job"]["started"], timeout=30)
        job = client.get(f"/api/jobs/{second['job']['id']}").json()["job"]
        assert job["started"] - submitted < 2.0  # the sharpening yielded at once
        rec = client.get(f"/api/results/{first['results'][0]['id']}").json()["result"]
        assert rec["sharp_size"] is None  # the cut-off step kept nothing
        _wait(lambda: started, timeout=60)
        _wait(lambda: q._background, timeout=30)  # now sharpening the second job's tile
    # the server stopped in the middle of a step: nothing half-written, nothing recorded
    left = [n for n in os.listdir(ws / "images") if ".s256" in n]
    assert left == []
    store = Store(str(ws))
    assert store.get_result(second["results"][0]["id"])["sharp_size"] is None
    store.close()


def test_a_workspace_of_schema_1_opens_with_its_results_unsharpened(tmp_path):
    (tmp_path / "ws").mkdir()
    db = sqlite3.connect(tmp_path / "ws" / "studio.sqlite3")
    db.executescript(MIGRATIONS[0] + ";PRAGMA user_version=1;")
    db.execute(
        "INSERT INTO results (id, job_id, idx, kind, label, status, mode, style_layers, size, iterations, options, "
        "created) VALUES (?, ?, 0, 'generate', 'old', 'done', 'variant', 'relu3_2', 128, 100, '{}', 0)",
        ("c" * 32, "d" * 32),
    )
    db.commit()
    db.close()
    db = sqlite3.connect(tmp_path / "ws" / "studio.sqlite3")
    db.execute("INSERT INTO inputs VALUES (?, 'old.png', 'ab', 8, 8, 0, 0)", ("e" * 32,))  # a schema-1 input
    db.commit()
    db.close()
    store = Store(str(tmp_path / "ws"))
    assert store.schema_version() == SCHEMA_VERSION  # every migration since: a sharp size, a mask flag
    rec = store.get_result("c" * 32)
    assert rec["sharp_size"] is None and rec["sharp_url"] is None and rec["label"] == "old"
    assert store.get_input("e" * 32)["mask"] == 0  # an input from before masks is no mask
    store.close()


def test_sharpen_sizes_are_checked_before_the_workspace_is_made(tmp_path):
    with pytest.raises(EigenstyleError, match="--sharpen sizes must be 16-1024 px"):
        create_app(str(tmp_path / "ws"), sharpen=(256, 5000))
    assert not (tmp_path / "ws").exists()
