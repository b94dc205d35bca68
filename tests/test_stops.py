"""Stopping a run at every phase it has: Ctrl-C, SIGTERM and an observer's stop (the studio's Cancel).

Whatever the phase (preparing, timing the arithmetic, each swatch a run can make, each scale, writing), a
stopped run says one line, exits with the documented code (130), leaves nothing half-written (no
temporary file, no partial image) and a written image's recipe says where it stopped.
"""

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import eigenstyle
from eigenstyle.loop import Observer

from conftest import said

TINY = dict(size=48, iterations=4, seed=3, print_every=0, style_layers=("relu2_1",), mode="variant", variant_seed=5)


class StopAt(Observer):
    """Stops the run the first time it sees ``phase`` (at ``size``, if given) at ``iteration``."""

    phases = ("swatch", "run")

    def __init__(self, phase: str, iteration: int = 2, size=None, reason: str = "cancelled"):
        self.phase, self.iteration, self.size, self.reason = phase, iteration, size, reason
        self.fired = False

    def wants(self, iteration: int) -> bool:
        return True

    def seen(self, step):
        if self.fired:
            return None
        if step.phase == self.phase and step.iteration >= self.iteration:
            if self.size is None or step.problem.opts.size == self.size:
                self.fired = True
                return self.reason
        return None


def leftovers(folder) -> list:
    """Temporary files a write left behind (files.atomic_path's names)."""
    return [n for n in os.listdir(folder) if ".tmp" in n or n.startswith(".")]


# The bug of issue 34: engine.stylize named its reference swatch ``swatch``, shadowing the module, so
# ``except swatch.Stopped`` raised AttributeError whenever anything left the swatch step.


@pytest.mark.slow
@pytest.mark.parametrize("where", ["coarse scale", "save-style"])
def test_an_observer_stopping_the_first_swatch_ends_the_run_cleanly(content_path, style_path, tmp_path, where):
    extra = dict(size=64, scales=(48,)) if where == "coarse scale" else dict(save_style=str(tmp_path / "s.safetensors"))
    stop = StopAt("swatch")
    r = eigenstyle.stylize(content_path, style_path, swatch_iterations=50, observers=[stop], **{**TINY, **extra})
    assert stop.fired and r.interrupted and r.recipe["stopped"] == "cancelled"
    assert r.recipe["iterations_done"] == 0 and r.recipe["stopped_in_swatch"] == 48
    assert os.listdir(tmp_path) == []  # no style file: its swatch was never made


@pytest.mark.slow
def test_an_observer_stopping_the_final_scales_swatch_keeps_the_coarse_scale(content_path, style_path, tmp_path):
    out = tmp_path / "x.png"
    stop = StopAt("swatch", size=64)
    r = eigenstyle.stylize(content_path, style_path, swatch_iterations=10, observers=[stop], output=str(out),
                           **{**TINY, "size": 64, "scales": (48,)})  # fmt: skip
    assert stop.fired and r.interrupted and r.image.size == (48, 36)  # the coarse scale's image, as it was
    data = eigenstyle.read_recipe(str(out))
    assert data["stopped_at_coarse_scale"] == 48 and data["stopped_in_swatch"] == 64
    assert data["stopped"] == "cancelled" and data["interrupted"] and data["iterations_done"] == 4
    assert leftovers(tmp_path) == [] and sorted(os.listdir(tmp_path)) == ["x.png", "x.swatch.png"]


@pytest.mark.slow
def test_an_observer_stopping_a_batchs_swatch_writes_each_start_image_saying_so(content_path, style_path, tmp_path):
    """run_batch writes every result it returns (a Tile of variants or sweep names its file)."""
    from eigenstyle.engine import run_batch
    from eigenstyle.plan import Preparation
    from eigenstyle.problem import resolve_seeds

    runs = [resolve_seeds(eigenstyle.Options(**{**TINY, "variant_seed": v}).validate()) for v in (1, 2)]
    outputs = [str(tmp_path / f"v{i}.png") for i in range(2)]
    made = run_batch(Preparation(content_path, [style_path]).problems(runs), observers=[StopAt("swatch")],
                     outputs=outputs)  # fmt: skip
    assert [r.interrupted for r in made] == [True, True]
    for i, path in enumerate(outputs):
        data = eigenstyle.read_recipe(path)
        assert data["stopped"] == "cancelled" and data["stopped_in_swatch"] == 48 and data["iterations_done"] == 0
        assert data["batch"] == {"size": 2, "index": i}
    assert leftovers(tmp_path) == []


def _cli(args, tmp_path):
    """The CLI in a subprocess with SIGINT at its default (a background job's children ignore it)."""
    return subprocess.Popen(
        [sys.executable, "-m", "eigenstyle.cli", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def signal_when(proc, sig, text: str, timeout: float = 120) -> tuple[str, str]:
    """Send ``sig`` to ``proc`` when a stderr line contains ``text``; its stdout and all of its stderr."""
    seen, deadline = [], time.time() + timeout
    try:
        for line in proc.stderr:
            seen.append(line)
            if text in line or time.time() > deadline:
                proc.send_signal(sig)
                break
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # never leave a long child behind
    return out, "".join(seen) + err


def complaints(err: str) -> list:
    """stderr's own lines (not progress lines)."""
    return [line for line in said(err) if line.startswith("eigenstyle:")]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_the_first_swatch_of_a_coarse_to_fine_run_is_one_line(content_path, tmp_path, style_path, sig):
    args = ["stylize", content_path, style_path, "-o", "x.png", "--mode", "variant", "--size", "64", "--scales", "48"]
    args += ["--swatch-iterations", "50", "--style-layers", "relu2_1", "--iterations", "4"]  # a line every 5
    proc = _cli(args, tmp_path)
    _, err = signal_when(proc, sig, "swatch: iteration")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert complaints(err) == ["eigenstyle: interrupted before the run started; nothing written"], err
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["final swatch", "coarse run"])
def test_a_signal_during_the_final_scales_swatch_keeps_the_coarse_scale(content_path, tmp_path, style_path, phase):
    """SIGTERM in the final scale's swatch, or Ctrl-C in the coarse scale's run: that scale's image is written."""
    args = ["stylize", content_path, style_path, "-o", "x.png", "--mode", "variant", "--size", "64", "--scales", "48"]
    args += ["--swatch-iterations", "10", "--style-layers", "relu2_1"]  # a swatch line each iteration
    args += ["--iterations", "4"] if phase == "final swatch" else ["--iterations", "200", "--scale-iterations", "200"]
    proc = _cli(args, tmp_path)
    seen, deadline = [], time.time() + 600
    try:
        for line in proc.stderr:  # the second swatch: the final scale's, after the coarse scale's run
            seen.append(line)
            if phase == "final swatch":
                due = line.startswith("swatch: iteration") and any(x.startswith("scale 1/2") for x in seen)
            else:
                due = line.startswith("scale 1/2") and "iteration 20/200" in line
            if due or time.time() > deadline:
                proc.send_signal(signal.SIGTERM if phase == "final swatch" else signal.SIGINT)
                break
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    err = "".join(seen) + err
    assert proc.returncode == 130, err
    (line,) = complaints(err)
    assert line.startswith("eigenstyle: interrupted at iteration ") and line.endswith("image to x.png"), err
    data = eigenstyle.read_recipe(str(tmp_path / "x.png"))
    assert data["interrupted"] and data["stopped_at_coarse_scale"] == 48
    if phase == "final swatch":
        assert data["stopped_in_swatch"] == 64 and data["iterations_done"] == 4
    else:
        assert "stopped_in_swatch" not in data and 20 <= data["iterations_done"] < 200
    assert leftovers(tmp_path) == [] and sorted(os.listdir(tmp_path)) == ["x.png", "x.swatch.png"]


@pytest.mark.slow
@pytest.mark.parametrize("command", ["variants", "sweep"])
def test_ctrl_c_during_a_batchs_swatch_writes_nothing_half_made(content_path, style_path, tmp_path, command):
    args = [command, content_path, style_path, "-o", "out", "--size", "48", "--style-layers", "relu2_1"]
    args += ["--iterations", "4", "--swatch-iterations", "50", "--batch-size", "2"]
    args += ["--count", "2"] if command == "variants" else ["--modes", "variant", "--seeds", "1,2"]
    proc = _cli(args, tmp_path)
    _, err = signal_when(proc, signal.SIGINT, "swatch: iteration")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert complaints(err) == ["eigenstyle: interrupted; kept 0 images (finished, or as far as they got)"], err
    assert os.listdir(tmp_path / "out") == []


# --- preparing, timing the arithmetic, writing ------------------------------------------------------------


def _patched_cli(patch: str, args, tmp_path, env=None):
    """The CLI in a subprocess after ``patch`` (Python run first: a phase made slow, saying when it starts)."""
    code = f"import sys\n{patch}\nfrom eigenstyle.cli import main\nsys.exit(main())"
    return subprocess.Popen(
        [sys.executable, "-c", code, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


# vgg/speed.py times the candidates (never read from the cache), each pass slow and said
SLOW_TIMING = """
import time, eigenstyle.vgg.speed as speed
speed._read = lambda key: None
def _pass(net, x, device):
    print("test: timing a pass", file=sys.stderr, flush=True)
    time.sleep(30)
    return 1.0
speed._pass = _pass
"""

# each atomic write waits 2 s (said) between its temporary file and its rename
SLOW_WRITES = """
import contextlib, os, time, eigenstyle.images as images
_atomic = images.atomic_path
@contextlib.contextmanager
def atomic_path(path, *a, **k):
    with _atomic(path, *a, **k) as tmp:
        yield tmp
        print("test: writing " + os.path.basename(path), file=sys.stderr, flush=True)
        time.sleep(0.5)  # the signal, sent on this line, arrives while the file is written
images.atomic_path = atomic_path
"""


def _speed_cache() -> tuple:
    """The private cache's speed.json (bytes, or None) and its temporary files."""
    folder = os.environ["EIGENSTYLE_CACHE_DIR"]
    path = os.path.join(folder, "speed.json")
    kept = open(path, "rb").read() if os.path.exists(path) else None
    return kept, [n for n in os.listdir(folder) if n.startswith(".")]


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_arithmetic_is_timed_writes_nothing(content_path, style_path, tmp_path, sig):
    before = _speed_cache()
    args = ["stylize", content_path, style_path, "-o", "x.png", "--size", "48", "--iterations", "4"]
    proc = _patched_cli(SLOW_TIMING, args + ["--precision", "auto", "--conv", "auto"], tmp_path)
    _, err = signal_when(proc, sig, "test: timing a pass")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert complaints(err) == ["eigenstyle: interrupted before the run started; nothing written"], err
    assert os.listdir(tmp_path) == [] and _speed_cache() == before  # no choice remembered from half a timing


@pytest.mark.slow
def test_ctrl_c_while_the_arithmetic_is_timed_remembers_nothing(content_path, style_path, tmp_path, monkeypatch):
    """The API: the timing's Ctrl-C goes on up, no choice is kept (in memory or the cache), the next run times again."""
    from eigenstyle.vgg import speed

    before, passes = _speed_cache(), []

    def interrupted(net, x, device):
        passes.append(1)
        raise KeyboardInterrupt

    monkeypatch.setattr(speed, "_MEMO", {})
    monkeypatch.setattr(speed, "_read", lambda key: None)
    monkeypatch.setattr(speed, "_pass", interrupted)
    with pytest.raises(KeyboardInterrupt):
        eigenstyle.stylize(content_path, style_path, output=str(tmp_path / "x.png"), precision="auto", conv="auto",
                           **{**TINY, "mode": "none"})  # fmt: skip
    assert passes and speed._MEMO == {} and _speed_cache() == before and os.listdir(tmp_path) == []


class Cancel(Observer):
    """The studio's Cancel as the loop's observers see it: once ``when()`` holds, ``stopping()`` (asked where
    no step is at hand: while a run is prepared, its arithmetic timed) and ``seen`` give the reason."""

    def __init__(self, when, reason: str = "cancelled"):
        self.when, self.reason, self.asked = when, reason, 0

    def wants(self, iteration: int) -> bool:
        return True

    def seen(self, step):
        return self.reason if self.when() else None

    def stopping(self):
        self.asked += 1
        return self.reason if self.when() else None


@pytest.mark.slow
@pytest.mark.parametrize("scales", [None, (40,)], ids=["one scale", "coarse to fine"])
def test_an_observer_stopping_while_the_arithmetic_is_timed_ends_it_between_passes(
    content_path, style_path, tmp_path, monkeypatch, scales
):
    """The studio's Cancel while the first run of a kind times its arithmetic (seconds of full network passes):
    no further pass, nothing remembered or written, and the executor reports a Work that never ran."""
    from eigenstyle.executors import Work, make
    from eigenstyle.vgg import speed

    before, passes, real = _speed_cache(), [], speed._pass

    def counted(net, x, device):
        passes.append(1)
        return real(net, x, device)

    monkeypatch.setattr(speed, "_MEMO", {})
    monkeypatch.setattr(speed, "_read", lambda key: None)
    monkeypatch.setattr(speed, "_pass", counted)
    opts = eigenstyle.Options(**{**TINY, "precision": "auto", "conv": "auto", "scales": scales})
    work = Work(content_path, [style_path], [opts], outputs=[str(tmp_path / "x.png")])
    executor = make("local")
    handle = executor.submit(work, stop=lambda: "cancelled in a test" if passes else None)
    assert list(executor.completed([handle])) == [handle]
    assert handle.results is None and handle.error is None and handle.reason == "cancelled in a test"
    assert len(passes) == 1  # of 2-3 candidates' warm-up and timed passes
    assert speed._MEMO == {} and _speed_cache() == before and os.listdir(tmp_path) == []


@pytest.mark.slow
def test_an_observer_stopping_while_a_later_scale_is_prepared_keeps_the_scale_before(content_path, style_path,
                                                                                     tmp_path):  # fmt: skip
    done = []

    class Finished(Observer):
        def wants(self, iteration: int) -> bool:
            return True

        def seen(self, step):
            if step.iteration == step.iterations:
                done.append(step.problem.opts.size)

    # the Cancel comes once the coarse scale has seen its last step (it is asked before Finished): the next
    # preparation stops
    cancel = Cancel(lambda: bool(done))
    out = tmp_path / "x.png"
    r = eigenstyle.stylize(content_path, style_path, output=str(out), observers=[cancel, Finished()],
                           **{**TINY, "mode": "none", "size": 64, "scales": (48,)})  # fmt: skip
    assert done == [48] and cancel.asked and r.interrupted and max(r.image.size) == 48
    data = eigenstyle.read_recipe(str(out))
    assert data["stopped_at_coarse_scale"] == 48 and data["stopped_preparing"] == 64
    assert data["stopped"] == "cancelled" and data["interrupted"] and data["iterations_done"] == 4
    assert sorted(os.listdir(tmp_path)) == ["x.png"]


@pytest.mark.slow
@pytest.mark.parametrize("final", [False, True], ids=["coarse scale", "final scale"])
def test_ctrl_c_while_a_later_scale_is_prepared_keeps_the_scale_before(content_path, style_path, tmp_path, final,
                                                                       monkeypatch):  # fmt: skip
    """Preparing a scale (its features, Grams, the arithmetic timed the first time) after a coarser one ran."""
    from eigenstyle import engine

    prepare, stopped_at = engine.prepare, 64 if final else 56

    def prepared(content, style, opts, *rest):
        if opts.size == stopped_at:
            raise KeyboardInterrupt
        return prepare(content, style, opts, *rest)

    monkeypatch.setattr(engine, "prepare", prepared)
    out = tmp_path / "x.png"
    r = eigenstyle.stylize(content_path, style_path, output=str(out), **{**TINY, "mode": "none", "size": 64,
                                                                       "scales": (48, 56)})  # fmt: skip
    kept = 56 if final else 48
    assert r.interrupted and max(r.image.size) == kept  # the scale before's image, as it was
    data = eigenstyle.read_recipe(str(out))
    assert data["stopped_at_coarse_scale"] == kept and data["stopped_preparing"] == stopped_at
    assert data["interrupted"] and data["iterations_done"] == 4 and "stopped" not in data
    assert sorted(os.listdir(tmp_path)) == ["x.png"]


@pytest.mark.slow
def test_a_signal_while_writing_waits_until_the_image_and_its_companions_are_written(content_path, style_path,
                                                                                      tmp_path):  # fmt: skip
    args = ["stylize", content_path, style_path, "-o", "x.png", "--mode", "variant", "--size", "48"]
    args += ["--iterations", "4", "--swatch-iterations", "10", "--style-layers", "relu2_1", "--levels", "auto"]
    proc = _patched_cli(SLOW_WRITES, args, tmp_path)
    _, err = signal_when(proc, signal.SIGINT, "test: writing x.raw.png")  # the first of the three
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert complaints(err) == ["eigenstyle: interrupted while writing; wrote x.png whole first"], err
    assert sorted(os.listdir(tmp_path)) == ["x.png", "x.raw.png", "x.swatch.png"]
    data = eigenstyle.read_recipe(str(tmp_path / "x.png"))
    assert not data["interrupted"] and data["iterations_done"] == 4  # the run had finished: written as it was


def test_stops_held_lets_a_set_of_files_be_written_whole_then_stops(tmp_path):
    from eigenstyle.files import StoppedWhileWriting, stops_held

    with pytest.raises(StoppedWhileWriting) as stop:
        with stops_held() as written:
            os.kill(os.getpid(), signal.SIGINT)  # held: the block goes on
            time.sleep(0.05)
            with stops_held() as inner:  # an inner hold is the outer one's
                (tmp_path / "a").write_text("a")
                inner.append("a")
            written.append("b")
    assert stop.value.paths == ["a", "b"] and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with stops_held() as written:  # no signal: nothing raised
        written.append("c")
    got = []

    def worker():  # signals reach the main thread only: a worker's block runs as it is
        with stops_held() as paths:
            got.append((paths, signal.getsignal(signal.SIGINT)))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert got == [([], signal.default_int_handler)]


def test_a_failed_image_write_removes_the_companions_it_made(tmp_path, monkeypatch):
    """Result.save: the image is written last and commits the set (its raw picture and swatch)."""
    from PIL import Image

    from eigenstyle import images
    from eigenstyle.errors import EigenstyleError
    from eigenstyle.results import Result

    im = Image.new("RGB", (8, 8))
    r = Result([im], {"options": {}}, raw_images=[im], swatch=im)
    save = images.save_atomic

    def failing(picture, path, *rest):
        if path.endswith("x.png"):
            raise EigenstyleError(f"could not write {path}: disk full; nothing was written")
        return save(picture, path, *rest)

    monkeypatch.setattr(images, "save_atomic", failing)
    with pytest.raises(EigenstyleError, match="disk full"):
        r.save(str(tmp_path / "x.png"))
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(images, "save_atomic", save)
    r.save(str(tmp_path / "x.png"))
    assert sorted(os.listdir(tmp_path)) == ["x.png", "x.raw.png", "x.swatch.png"]


# --- render: its reference swatch and its run ----------------------------------------------------------------


@pytest.fixture(scope="module")
def favourite(tmp_path_factory, content_path, style_path):
    """A 48 px variant, rendered larger: its swatch made again at 48 px (the reference), then the run."""
    path = tmp_path_factory.mktemp("favourite") / "fav.png"
    eigenstyle.stylize(content_path, style_path, output=str(path), **{**TINY, "swatch_iterations": 10})
    return path


@pytest.mark.slow
def test_ctrl_c_during_a_renders_reference_swatch_writes_nothing(favourite, tmp_path):
    args = ["render", favourite, "--size", "64", "-o", "r.png", "--iterations", "4", "--swatch-iterations", "50"]
    proc = _cli(args, tmp_path)
    _, err = signal_when(proc, signal.SIGINT, "swatch: iteration")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert complaints(err) == ["eigenstyle: interrupted before the run started; nothing written"], err
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_sigterm_during_a_renders_run_saves_its_current_image(favourite, tmp_path):
    args = ["render", favourite, "--size", "64", "-o", "r.png", "--iterations", "100", "--swatch-iterations", "10"]
    proc = _cli(args, tmp_path)
    _, err = signal_when(proc, signal.SIGTERM, "iteration 10/100", timeout=600)  # the run's own line
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    (line,) = complaints(err)
    assert line.startswith("eigenstyle: interrupted at iteration ") and line.endswith("the current image to r.png")
    data = eigenstyle.read_recipe(str(tmp_path / "r.png"))
    assert data["interrupted"] and 10 <= data["iterations_done"] < 100 and data["options"]["size"] == 64
    assert leftovers(tmp_path) == [] and "r.png" in os.listdir(tmp_path)


# --- variants and sweep: an executor's cancel (the studio's) ---------------------------------------------


def _cancelling(phase: str):
    """A local executor whose caller cancels each Work at its first tick of ``phase`` (the studio's Cancel)."""
    from eigenstyle.executors.local import LocalExecutor

    class CancelIn(LocalExecutor):
        def submit(self, work, on_tick=None, stop=lambda: None):
            return super().submit(work, lambda h, tick: tick.phase == phase and h.cancel("cancelled"), stop)

    return CancelIn(every=1)


@pytest.mark.slow
@pytest.mark.parametrize("command,phase", [("variants", "swatch"), ("sweep", "swatch")])
def test_an_executors_cancel_ends_variants_and_sweep_with_every_image_written(content_path, style_path, tmp_path,
                                                                              command, phase):  # fmt: skip
    from eigenstyle.explore import run_all, variant_options
    from eigenstyle.sweep import Grid, sweep_options

    base = eigenstyle.Options(**{**TINY, "swatch_iterations": 10})
    runs = variant_options(base, 2) if command == "variants" else sweep_options(base, Grid.of(seeds="1,2"))[0]
    tiles, _ = run_all(content_path, [style_path], runs, str(tmp_path), "x", progress=False, batch_size=2,
                       executor=_cancelling(phase), sheet=False)  # fmt: skip
    assert len(tiles) == 2 and leftovers(tmp_path) == []
    for t in tiles:
        data = eigenstyle.read_recipe(t.path)
        assert t.result.interrupted and data["interrupted"] and data["stopped"] == "cancelled"
        if phase == "swatch":
            assert data["stopped_in_swatch"] == 48 and data["iterations_done"] == 0
        else:
            assert "stopped_in_swatch" not in data and data["iterations_done"] == 1


@pytest.mark.slow
def test_an_observer_stopping_a_renders_reference_swatch_writes_its_start_image(favourite, tmp_path):
    """The studio's Cancel in a render's reference swatch (made at the favourite's size): the favourite as
    the render starts from it, written, its recipe saying so."""
    from eigenstyle.printing import recorded_inputs, render_options, start_of

    data = eigenstyle.read_recipe(str(favourite))
    content, styles = recorded_inputs(data, str(favourite))
    opts = render_options(data, start_of(str(favourite), data), 64, iterations=4, swatch_iterations=50)
    stop, out = StopAt("swatch"), tmp_path / "r.png"
    r = eigenstyle.stylize(content, styles, opts, observers=[stop], output=str(out))
    assert stop.fired and r.interrupted and max(r.image.size) == 64
    written = eigenstyle.read_recipe(str(out))
    assert written["stopped"] == "cancelled" and written["iterations_done"] == 0 and written["stopped_in_swatch"] == 64
    assert leftovers(tmp_path) == [] and "r.png" in os.listdir(tmp_path)


@pytest.mark.slow
def test_a_stop_while_a_batch_is_written_keeps_and_counts_its_images(content_path, style_path, tmp_path, monkeypatch):
    """Ctrl-C while variants' batch is written: every image is written whole first, and the stop names them
    (explore.Interrupted's tiles: the CLI says "kept 2 images", not 0)."""
    from eigenstyle import explore, results
    from eigenstyle.options import Options

    save, calls = results.Result.save, []

    def save_then_ctrl_c(self, path, index=0):
        out = save(self, path, index)
        calls.append(path)
        if len(calls) == 1:
            signal.raise_signal(signal.SIGINT)  # held until the batch is written
        return out

    monkeypatch.setattr(results.Result, "save", save_then_ctrl_c)
    opts = Options(mode="variant", size=48, iterations=2, swatch_iterations=2, seed=1, precision="fp32", print_every=0)
    runs = explore.variant_options(opts, explore.Brood.of(2))
    with pytest.raises(explore.Interrupted) as stop:
        explore.run_all(content_path, [style_path], runs, str(tmp_path), "v", progress=False, batch_size=2)
    assert len(calls) == 2 and sorted(t.path for t in stop.value.tiles) == sorted(calls)
    assert all(os.path.isfile(p) for p in calls) and not [f for f in os.listdir(tmp_path) if ".tmp" in f]
