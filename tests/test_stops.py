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
    assert r.recipe["iterations_done"] == 0
    assert os.listdir(tmp_path) == []  # no style file: its swatch was never made


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
