"""Stopping a run at every phase it has: Ctrl-C, SIGTERM and an observer's stop (the studio's Cancel).

Whatever the phase (preparing, timing the arithmetic, each swatch a run can make, each scale, writing), a
stopped run says one line, exits with the documented code (130), leaves nothing half-written (no
temporary file, no partial image) and a written image's recipe says where it stopped.
"""

import os
import signal
import subprocess
import sys
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
    r = eigenstyle.stylize(content_path, style_path, swatch_iterations=20, observers=[stop], output=str(out),
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
    args += ["--swatch-iterations", "200", "--style-layers", "relu2_1", "--iterations", "4"]
    proc = _cli(args, tmp_path)
    _, err = signal_when(proc, sig, "swatch: iteration")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert complaints(err) == ["eigenstyle: interrupted before the run started; nothing written"], err
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
def test_a_signal_during_the_final_scales_swatch_keeps_the_coarse_scale(content_path, tmp_path, style_path):
    args = ["stylize", content_path, style_path, "-o", "x.png", "--mode", "variant", "--size", "64", "--scales", "48"]
    args += ["--swatch-iterations", "20", "--style-layers", "relu2_1", "--iterations", "4"]  # a line every 2
    proc = _cli(args, tmp_path)
    seen, deadline = [], time.time() + 600
    try:
        for line in proc.stderr:  # the second swatch: the final scale's, after the coarse scale's run
            seen.append(line)
            if (line.startswith("swatch: iteration") and any(x.startswith("scale 1/2") for x in seen)) or (
                time.time() > deadline
            ):
                proc.send_signal(signal.SIGTERM)
                break
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    err = "".join(seen) + err
    assert proc.returncode == 130, err
    assert complaints(err) == ["eigenstyle: interrupted at iteration 4; saved the current image to x.png"], err
    data = eigenstyle.read_recipe(str(tmp_path / "x.png"))
    assert data["interrupted"] and data["stopped_at_coarse_scale"] == 48 and data["stopped_in_swatch"] == 64
    assert leftovers(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("command", ["variants", "sweep"])
def test_ctrl_c_during_a_batchs_swatch_writes_nothing_half_made(content_path, style_path, tmp_path, command):
    args = [command, content_path, style_path, "-o", "out", "--size", "48", "--style-layers", "relu2_1"]
    args += ["--iterations", "4", "--swatch-iterations", "200", "--batch-size", "2"]
    args += ["--count", "2"] if command == "variants" else ["--modes", "variant", "--seeds", "1,2"]
    proc = _cli(args, tmp_path)
    _, err = signal_when(proc, signal.SIGINT, "swatch: iteration")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert complaints(err) == ["eigenstyle: interrupted; kept 0 images (finished, or as far as they got)"], err
    assert os.listdir(tmp_path / "out") == []
