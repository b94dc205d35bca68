"""Faults that come from the machine, not the input: running out of memory."""

import re
import resource
import subprocess
import sys

import pytest

from eigenstyle.errors import is_out_of_memory
from eigenstyle.memory import bytes_per_pixel

from conftest import said

# Enough address space for Python, torch and the weights (0.7-1.3 GB mapped), not for a 1200 px run
# whole (about 2.7 GB at SHALLOW's layers), nor for a 3000 px one even in tiles: real allocation failures
# in the CLI process.
ADDRESS_SPACE = int(2.7 * 2**30)
# Three style layers and a shallow content layer: the same budget, tiles and message as the five default
# layers (the memory model is per layer), with a short halo, so a tiled run costs seconds, not a minute
SHALLOW = ["--style-layers", "relu1_1,relu2_1,relu3_1", "--content-layers", "relu2_1"]


def _limited_cli(*args):
    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))

    return subprocess.run(
        [sys.executable, "-m", "eigenstyle.cli", *map(str, args)],
        preexec_fn=limit,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_a_size_too_large_to_run_whole_runs_in_tiles_within_the_memory(content_path, style_path, tmp_path):
    """1200 px does not fit whole under the limit: the budget (what is free) gives a shorter L-BFGS
    history and tiles, each said in one note, and the run completes there (it used to fail)."""
    out = tmp_path / "big.png"
    r = _limited_cli("stylize", content_path, style_path, "--size", 1200, *SHALLOW, "--iterations", 1, "-o", out, "-q")
    assert r.returncode == 0, r.stderr
    notes = said(r.stderr)
    assert len(notes) == 2 and "L-BFGS correction pairs" in notes[0] and "px tiles" in notes[1], r.stderr
    assert out.exists()


@pytest.mark.slow
def test_out_of_memory_message(content_path, style_path, tmp_path):
    """Not even tiles fit: one line, exit 2, nothing written, and a --size that then does fit under the same limit."""
    out = tmp_path / "big.png"
    r = _limited_cli("stylize", content_path, style_path, "--size", 3000, *SHALLOW, "--iterations", 2, "-o", out, "-q")
    assert r.returncode == 2, r.stderr
    lines = [line for line in r.stderr.strip().splitlines() if "note:" not in line]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    m = re.search(
        r"out of memory on the CPU at --size 3000 \(about [\d.]+ GiB needed, [\d.]+ GiB free\): "
        r"--size (\d+) should fit",
        r.stderr,
    )
    assert m, r.stderr
    assert list(tmp_path.iterdir()) == []
    size = int(m.group(1))
    assert 64 <= size < 3000
    r = _limited_cli("stylize", content_path, style_path, "--size", size, *SHALLOW, "--iterations", 1, "-o", out, "-q")
    assert r.returncode == 0, r.stderr
    assert out.exists()


def test_memory_model_grows_with_the_layers_and_history():
    deep = bytes_per_pixel(("relu4_2", "relu5_1"), "lbfgs", 100)
    shallow = bytes_per_pixel(("relu3_2",), "lbfgs", 100)
    assert shallow < deep
    assert bytes_per_pixel(("relu5_1",), "lbfgs", 10) < bytes_per_pixel(("relu5_1",), "lbfgs", 100)
    assert bytes_per_pixel(("relu5_1",), "adam", 100) < bytes_per_pixel(("relu5_1",), "lbfgs", 100)


def test_what_counts_as_out_of_memory():
    import torch

    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1"))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))
