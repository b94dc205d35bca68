"""The Ray executor against a real local Ray cluster (``ray start --head``, 2 CPUs), never a mock:
a sweep through Ray gives the local executor's images, a killed worker is survived, cancel keeps
the running run's image, the studio runs a job through Ray, and a cluster that goes away is one line.

The cluster is started once for this module (its own temporary folder and ports); the last test
stops it.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli

try:
    import ray
except ImportError:  # skipped with a hint on a developer's machine, never in CI
    if os.environ.get("CI"):
        raise
    pytest.skip("the Ray tests need Ray: pip install -e '.[test]'", allow_module_level=True)

pytestmark = pytest.mark.slow
RAY = os.path.join(os.path.dirname(sys.executable), "ray")
# small and exact: fp32 direct convolutions on every side (the arithmetic's own choice is a timing), and a
# short swatch (what is sent to a worker and back is the same whatever its length)
FAST = ["--size", "64", "--iterations", "15", "--seed", "3", "--precision", "fp32", "--conv", "direct",
        "--swatch-iterations", "10"]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A head node with 2 CPUs on this machine; its address."""
    temp = f"/tmp/ray-es-{os.getpid()}"  # Ray's socket paths must stay short
    port = _free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    started = subprocess.run(
        [RAY, "start", "--head", f"--port={port}", "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false",
         f"--temp-dir={temp}", "--disable-usage-stats"],
        capture_output=True, text=True, env=env, timeout=180,
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    address = f"127.0.0.1:{port}"
    yield address
    if ray.is_initialized():
        ray.shutdown()
    subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)
    shutil.rmtree(temp, ignore_errors=True)


def test_an_address_nobody_answers_is_one_line_at_once(content_path, style_path, tmp_path):
    started = time.monotonic()
    r = run_cli("variants", content_path, style_path, "--count", "1", *FAST, "-o", tmp_path / "v",
                "--executor", "ray", "--address", f"127.0.0.1:{_free_port()}")  # fmt: skip
    assert r.returncode == 2 and time.monotonic() - started < 60
    assert r.stderr.strip().splitlines()[-1].startswith("eigenstyle: error: cannot reach a Ray cluster at '127.0.0.1:")
    assert "Traceback" not in r.stderr and not os.path.exists(tmp_path / "v")
    # nor does it start a cluster of its own (Ray's token file would keep later clients out: docs/cluster.md)
    r = run_cli("variants", content_path, style_path, *FAST, "-o", tmp_path / "v", "--executor", "ray",
                "--address", "local")  # fmt: skip
    assert r.returncode == 2 and r.stderr.strip() == (
        "eigenstyle: error: --address local is not offered: "
        "start a cluster with `ray start --head`, then --address auto"
    )


def _pixels(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def _recipe(path):
    from eigenstyle import read_recipe

    return read_recipe(str(path))


def test_a_sweep_through_ray_gives_the_local_images(cluster, content_path, style_path, tmp_path, monkeypatch):
    grid = tmp_path / "grid.toml"
    grid.write_text('modes = ["variant", "fantasy"]\nseeds = "1-2"\n')
    common = ["sweep", content_path, style_path, "--grid", grid, *FAST, "-q"]
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the local run's threads: a task's, with --cpus-per-run 2
    local = run_cli(*common, "-o", tmp_path / "local")
    assert local.returncode == 0, local.stderr
    far = run_cli(*common, "-o", tmp_path / "ray", "--executor", "ray", "--address", cluster, "--cpus-per-run", "2")
    assert far.returncode == 0, far.stderr
    names = sorted(n for n in os.listdir(tmp_path / "local") if n.endswith(".png"))
    assert len([n for n in names if "." not in n[:-4]]) == 4  # 2 modes x 2 seeds (and their raw and swatch files)
    assert sorted(n for n in os.listdir(tmp_path / "ray") if n.endswith(".png")) == names
    for n in names:  # the same arithmetic with the same threads: the same pixels, bit for bit
        assert np.array_equal(_pixels(tmp_path / "local" / n), _pixels(tmp_path / "ray" / n)), n
        ra, rb = _recipe(tmp_path / "local" / n), _recipe(tmp_path / "ray" / n)
        assert ra["options"] == rb["options"] and ra["content"] == rb["content"] and ra["styles"] == rb["styles"]
        assert rb["machine"]["threads"] == 2  # the recipe says where it ran: the worker's device and threads
    assert os.path.isfile(tmp_path / "ray" / "tubingen-starry_night-sweep-mode-x-seed.jpg")
    # an image made on a worker reproduces here
    first = tmp_path / "ray" / names[0]
    again = run_cli("reproduce", first, "-o", tmp_path / "again.png", "-q")
    assert again.returncode == 0, again.stderr
    assert np.array_equal(_pixels(first), _pixels(tmp_path / "again.png"))  # here, with the same threads


def _work(content_path, style_path, tmp_path, seeds, iterations=40, name="w"):
    from eigenstyle.executors import Work
    from eigenstyle.options import Options

    o = Options(size=64, iterations=iterations, seed=3, mode="variant", precision="fp32", conv="direct", print_every=0,
                swatch_iterations=10)  # fmt: skip
    return [
        Work(content_path, [style_path], [o.replace(variant_seed=s)], outputs=[str(tmp_path / f"{name}{s}.png")])
        for s in seeds
    ]


def test_a_killed_worker_is_survived_and_its_result_written_once(cluster, content_path, style_path, tmp_path):
    from eigenstyle.executors import make

    ex = make("ray", address=cluster, cpus_per_run=2, max_retries=2)
    (work,) = _work(content_path, style_path, tmp_path, [7], iterations=60)
    pids, killed = [], []

    def tick(handle, t):
        pid = handle.state["started"]["pid"]
        if pid not in pids:
            pids.append(pid)
        if not killed and t.iteration >= 5:
            os.kill(pid, signal.SIGKILL)  # the worker process dies mid-run
            killed.append(pid)

    h = ex.submit(work, on_tick=tick)
    done = list(ex.completed([h]))
    assert done == [h] and h.error is None and killed
    assert len(pids) == 2 and pids[0] == killed[0]  # Ray ran the task again, in a new worker
    assert h.results[0].recipe["iterations_done"] == 60 and not h.results[0].interrupted
    assert os.path.isfile(work.outputs[0])
    assert sorted(os.listdir(tmp_path)) == ["w7.png", "w7.swatch.png"]  # written once, no temporaries


def test_cancel_keeps_the_running_image_and_drops_the_waiting(cluster, content_path, style_path, tmp_path):
    from eigenstyle.executors import make

    ex = make("ray", address=cluster, cpus_per_run=2)  # one task at a time on the 2-CPU cluster
    works = _work(content_path, style_path, tmp_path, [1, 2, 3], iterations=400)
    handles = [ex.submit(w) for w in works]
    seen = []

    def tick(handle, t):
        seen.append(t.iteration)
        if t.phase == "run" and t.iteration >= 10:
            ex.cancel_all(handles, "cancelled in a test")

    handles[0].on_tick = tick
    done = list(ex.completed(handles))
    assert len(done) == 3
    first = handles[0].results[0]
    assert first.interrupted and 10 <= first.recipe["iterations_done"] < 400
    assert "cancelled in a test" in json.dumps(first.recipe)
    assert os.path.isfile(works[0].outputs[0])
    assert all(h.results is None for h in handles[1:]) and not os.path.exists(works[1].outputs[0])


def test_the_studio_runs_a_job_through_ray_with_previews_and_cancel(cluster, tmp_path):
    from test_studio_api import SWATCH, finish, samples, submit, wait_running

    from eigenstyle.studio.app import create_app

    from studio_live import client as client_of

    app = create_app(str(tmp_path / "ws"), preview_every=2, executor={"name": "ray", "address": cluster})
    assert app.state.studio.queue.devices == ["ray"]
    with client_of(app) as client:
        pair = samples(client)
        body = {**pair, **SWATCH, "size": 48, "iterations": 6, "mode": "variant", "count": 2}
        data = submit(client, "/api/generate", body)
        evs = finish(client, data["job"]["id"])
        assert evs[-1][1]["job"]["status"] == "done", evs[-1]
        progress = [d for e, d in evs if e == "progress"]
        for r in data["results"]:  # previews came from the worker: the swatch's, then the run's
            its = [d["iteration"] for d in progress if d["id"] == r["id"] and d["phase"] == "run"]
            assert its[0] == 1 and its[-1] == 6, its
            rec = client.get(f"/api/results/{r['id']}").json()["result"]
            assert rec["status"] == "done" and rec["iterations_done"] == 6, rec
            assert client.get(rec["image_url"]).status_code == 200 and client.get(rec["preview_url"]).status_code == 200

        # Cancel: the running tile keeps its current image, as interrupted
        long = submit(client, "/api/generate", {**pair, **SWATCH, "size": 48, "iterations": 5000, "count": 1})
        rid = long["results"][0]["id"]
        wait_running(client, rid, timeout=120)
        assert client.post(f"/api/jobs/{long['job']['id']}/cancel").status_code == 200
        evs = finish(client, long["job"]["id"])
        rec = client.get(f"/api/results/{rid}").json()["result"]
        assert rec["status"] == "interrupted" and 1 <= rec["iterations_done"] < 5000, rec
        assert client.get(rec["image_url"]).status_code == 200


def test_ctrl_c_keeps_what_is_done_and_cancels_the_rest(cluster, content_path, style_path, tmp_path):
    out = tmp_path / "v"
    proc = subprocess.Popen(
        [sys.executable, "-m", "eigenstyle.cli", "variants", content_path, style_path, "--count", "4", *FAST[:2],
         "--iterations", "2000", *FAST[4:], "-o", out, "--executor", "ray", "--address", cluster,
         "--cpus-per-run", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and "%" not in _peek(proc):  # the progress line over all tasks has moved
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    stdout, rest = proc.communicate(timeout=120)
    stderr = proc.peeked + rest
    assert proc.returncode == 130, stderr
    assert "ray: [" in stderr and "Traceback" not in stderr  # one progress line over every task
    assert "interrupted; kept 1 images" in stderr, stderr
    kept = [n for n in _names(out) if n.endswith(".png") and ".swatch" not in n]
    assert len(kept) == 1  # the running one, at its current image; the three waiting never ran
    rec = _recipe(out / kept[0])
    assert rec["interrupted"] and 0 < rec["iterations_done"] < 2000
    assert any(n.endswith("-sheet.jpg") for n in _names(out))


def test_a_morph_s_legs_run_as_ray_tasks_and_give_the_local_frames(cluster, content_path, style_path, tmp_path,
                                                                    monkeypatch):  # fmt: skip
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the local run's threads: a task's, with --cpus-per-run 2
    favs = []
    for seed in (1, 2):
        favs.append(tmp_path / f"fav{seed}.png")
        r = run_cli("stylize", content_path, style_path, "-o", favs[-1], *FAST, "--mode", "variant",
                    "--variant-seed", seed, "-q")  # fmt: skip
        assert r.returncode == 0, r.stderr
    common = ["morph", *favs, "--loop", "--frames", "3", "--frame-iterations", "4", "--swatch-iterations", "3"]
    local = run_cli(*common, "-o", tmp_path / "local.webp", "--frames-dir", tmp_path / "local", "-q")
    assert local.returncode == 0, local.stderr
    far = run_cli(*common, "-o", tmp_path / "ray.webp", "--frames-dir", tmp_path / "ray", "--executor", "ray",
                  "--address", cluster, "--cpus-per-run", "2")  # fmt: skip
    assert far.returncode == 0, far.stderr
    assert "2/2 tasks done" in far.stderr  # the two legs, each a task of its own
    names = sorted(os.listdir(tmp_path / "local"))
    assert len(names) == 7 and sorted(os.listdir(tmp_path / "ray")) == names  # 1 + 2 legs x 3 frames
    for n in names:  # each leg warm-starts from its favourite: the same frames wherever it runs, bit for bit
        assert np.array_equal(_pixels(tmp_path / "local" / n), _pixels(tmp_path / "ray" / n)), n
    assert not np.array_equal(_pixels(tmp_path / "ray" / names[0]), _pixels(tmp_path / "ray" / names[3]))


def _peek(proc) -> str:
    """What the process has written to stderr so far (without waiting for more)."""
    import fcntl

    fd = proc.stderr.fileno()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
    try:
        chunk = os.read(fd, 1 << 16).decode(errors="replace")
    except BlockingIOError:
        chunk = ""
    proc.peeked = getattr(proc, "peeked", "") + chunk
    return proc.peeked


def test_a_cluster_that_goes_away_is_one_line_and_keeps_what_was_written(cluster, content_path, style_path,
                                                                            tmp_path):  # fmt: skip
    out = tmp_path / "v"
    proc = subprocess.Popen(
        [sys.executable, "-m", "eigenstyle.cli", "variants", content_path, style_path, "--count", "6", *FAST[:2],
         "--iterations", "60", *FAST[4:], "-o", out, "-q", "--executor", "ray", "--address", cluster,
         "--cpus-per-run", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 240
    while time.time() < deadline and not any(n.endswith("seed-") or n.endswith(".png") for n in _names(out)):
        time.sleep(0.5)
    assert any(n.endswith(".png") for n in _names(out)), "no run finished"
    subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)  # the whole cluster goes
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode not in (0, None)
    lines = [ln for ln in stderr.strip().splitlines() if ln.startswith("eigenstyle:")]
    assert lines and "Ray cluster" in lines[-1] and "Traceback" not in stderr, stderr
    kept = [n for n in _names(out) if n.endswith(".png") and ".swatch" not in n]
    assert kept and all(_recipe(out / n)["iterations_done"] == 60 for n in kept)
    assert not [n for n in _names(out) if n.startswith(".eigenstyle-")]  # no half-written file


def _names(folder):
    return os.listdir(folder) if os.path.isdir(folder) else []
