"""The studio's clips (issue 36): Morph through two or more tiles and Walk from one make a job whose frames
are announced and served as they come, whose clip (WebP to play, MP4 to download, the recipe inside) is
written at the end, or at a cancel with the frames made; bad requests are one line; a clip is no tile to
breed from. Real weights, real SQLite, tiny runs (starlette's TestClient)."""

import io
import time

import numpy as np
import pytest
from PIL import Image
from test_studio_api import SWATCH, finish, samples, submit

from eigenstyle import morph as motion
from eigenstyle.studio.app import create_app

from studio_live import client as client_of

pytestmark = pytest.mark.slow  # every test here makes tiles and clips for seconds
TILE = {"size": 48, "iterations": 10, "mode": "variant", "count": 2, **SWATCH}


@pytest.fixture
def studio(tmp_path):
    app = create_app(str(tmp_path / "ws"), preview_every=2, sharpen=())
    with client_of(app) as client:
        yield client, app


def tiles(client, **extra):
    data = submit(client, "/api/generate", {**samples(client), **TILE, **extra})
    assert finish(client, data["job"]["id"])[-1][1]["job"]["status"] == "done"
    return [r["id"] for r in data["results"]]


def frames_of(content: bytes) -> list:
    """A clip's frames as played: the encoder keeps a run of equal frames as one, shown for their time."""
    with Image.open(io.BytesIO(content)) as im:
        out = []
        for k in range(im.n_frames):
            im.seek(k)
            out += [np.asarray(im.convert("RGB"), dtype=np.float64)] * round(im.info["duration"] / 83)
        return out


def test_morph_and_walk_play_their_frames_as_they_come_and_write_the_clip(studio):
    client, app = studio
    a, b = tiles(client)
    job = submit(client, "/api/morph", {"ids": [a, b], "frames": 3})
    (rid,) = [r["id"] for r in job["results"]]
    evs = finish(client, job["job"]["id"])
    shown = [e for kind, e in evs if kind == "progress" and e.get("phase") == "frame"]
    # 1 + 2 legs (a to b, and back: a loop) x 3 frames, each announced once (the first, before the stream
    # was opened, perhaps not to this one), in order
    seen = [e["frame"] for e in shown]
    assert seen == sorted(set(seen)) and set(range(1, 7)) <= set(seen) <= set(range(7))
    assert all(e["frames"] == 7 and e["fps"] == 12 for e in shown)
    for k in range(7):  # each frame is there to play as soon as it is announced
        got = client.get(f"/api/results/{rid}/frames/{k}")
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    rec = client.get(f"/api/results/{rid}").json()["result"]
    assert rec["status"] == "done" and rec["kind"] == "morph" and rec["iterations_done"] == 7
    assert rec["image_url"] is None and rec["clip_url"] and (rec["parent_id"], rec["parent2_id"]) == (a, b)
    assert rec["recipe"]["format"] == motion.RECIPE_KEY and rec["recipe"]["frames_made"] == 7
    webp = client.get(rec["clip_url"])
    assert webp.headers["content-type"] == "image/webp"
    played = frames_of(webp.content)
    assert len(played) == 7
    tile_a, tile_b = (np.asarray(Image.open(app.state.studio.store.image_path(t)).convert("RGB"), dtype=np.float64)
                      for t in (a, b))  # fmt: skip
    assert np.abs(played[0] - tile_a).mean() < 1 and np.abs(played[-1] - tile_a).mean() < 1  # a loop: a to a
    assert np.abs(played[3] - tile_b).mean() < 1  # through b (lossless: what is left is its 8 bits)
    mp4 = client.get(f"/api/results/{rid}/clip?format=mp4&download=1")
    assert mp4.headers["content-type"] == "video/mp4" and mp4.headers["content-disposition"].endswith('.mp4"')
    assert mp4.content[4:8] == b"ftyp"
    assert client.get(f"/api/results/{rid}/frames/7").status_code == 404
    assert client.get(f"/api/results/{a}/clip").status_code == 404  # a still has no clip

    walk = submit(client, f"/api/results/{a}/walk", {"steps": 1, "frames": 2, "seed": 5})
    assert finish(client, walk["job"]["id"])[-1][1]["job"]["status"] == "done"
    rec = client.get(f"/api/results/{walk['results'][0]['id']}").json()["result"]
    assert rec["kind"] == "walk" and rec["iterations_done"] == 5 and rec["recipe"]["walk"]["seed"] == 5
    assert len(frames_of(client.get(rec["clip_url"]).content)) == 5

    # A clip is no tile to breed from, render or morph through; deleting it takes its files.
    for url, body in ((f"/api/results/{rid}/mutate", {}), (f"/api/results/{rid}/render", {"size": 2048}),
                      ("/api/morph", {"ids": [a, rid]}), (f"/api/results/{rid}/walk", {})):  # fmt: skip
        r = client.post(url, json=body)
        assert r.status_code == 400 and "is a clip" in r.json()["error"], (url, r.text)
    assert client.delete(f"/api/results/{rid}").status_code == 200
    assert client.get(f"/api/results/{rid}/frames/0").status_code == 404
    store = app.state.studio.store
    assert not any(name.startswith(rid) for folder in ("images", "previews") for name in _names(store, folder))


def _names(store, folder):
    import os

    return os.listdir(os.path.join(store.root, folder))


def test_clip_requests_that_cannot_run_are_one_line(studio):
    client, app = studio
    a, b = tiles(client)
    (c,) = tiles(client, size=64, count=1)
    (plain,) = tiles(client, mode="none", count=1)
    cases = [
        ({"ids": [a]}, "2 to 8 tiles"),
        ({"ids": [a, b], "frames": 0}, "frames must be a number from 2 to 48"),
        ({"ids": [a, b], "frames": 1000}, "frames must be a number from 2 to 48"),
        ({"ids": [a, b], "loop": "yes"}, "loop must be true or false"),
        ({"ids": [a, b], "size": 512}, "unknown field(s): size"),
        ({"ids": [a, "../../etc"]}, "no such result"),
        ({"ids": "everything"}, "ids must be a list"),
        ({"ids": [a, c]}, "differ in size"),
    ]
    for body, message in cases:
        r = client.post("/api/morph", json=body)
        assert r.status_code in (400, 404) and message in r.json()["error"], (body, r.text)
        assert "/ws/" not in r.json()["error"]  # the tiles by label, never the workspace's paths
    r = client.post(f"/api/results/{plain}/walk", json={})
    assert r.status_code == 400 and "plain run" in r.json()["error"]
    r = client.post(f"/api/results/{a}/walk", json={"steps": 99})
    assert r.status_code == 400 and "steps must be a number from 1 to 8" in r.json()["error"]
    assert client.get("/api/jobs").json()["jobs"][0]["kind"] == "generate"  # nothing was queued


def test_cancel_keeps_the_frames_made_as_a_clip(studio):
    client, app = studio
    a, b = tiles(client, iterations=120)  # frames of 24 iterations: 97 frames take a minute, time to cancel mid-way
    job = submit(client, "/api/morph", {"ids": [a, b], "frames": 48})
    rid = job["results"][0]["id"]
    deadline = time.monotonic() + 120
    while client.get(f"/api/results/{rid}").json()["result"]["iterations_done"] < 3:
        assert time.monotonic() < deadline, "no frames came"
        time.sleep(0.1)
    assert client.post(f"/api/jobs/{job['job']['id']}/cancel").status_code == 200
    started = time.monotonic()
    assert finish(client, job["job"]["id"])[-1][1]["job"]["status"] == "cancelled"
    assert time.monotonic() - started < 30
    rec = client.get(f"/api/results/{rid}").json()["result"]
    assert rec["status"] == "interrupted" and 3 <= rec["iterations_done"] < 97
    assert rec["recipe"]["interrupted"] and "stopped after" in rec["error"]
    assert len(frames_of(client.get(rec["clip_url"]).content)) == rec["iterations_done"]
