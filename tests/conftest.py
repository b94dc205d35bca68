"""Shared fixtures: the bundled samples and small, fast settings.

Every test uses the real embedded VGG-19 weights; images are kept small
(48-64 px) so the whole suite runs in a few minutes on a 2-core CPU.
"""

import json
import os
import signal
import subprocess
import sys

import pytest

from eigenstyle.demo import sample

SMALL = dict(size=48, iterations=12, seed=3, print_every=0)

# A shell starts the commands of a background job with SIGINT ignored (`pytest &` in a script, nohup), and an
# ignored signal stays ignored in every process started from it: the tests that press Ctrl-C, here and in the
# CLI processes they start, would see nothing (and wait for a run of 2000 iterations). Python's own handler,
# as a terminal's foreground job has it, is given back for the whole run (a child then starts with the default).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def private_weight_cache(tmp_path_factory):
    """Tests (and the CLI processes they start) use their own weight cache, not the user's."""
    os.environ["EIGENSTYLE_CACHE_DIR"] = str(tmp_path_factory.mktemp("weight-cache"))
    _settle_the_arithmetic(os.environ["EIGENSTYLE_CACHE_DIR"])
    yield


@pytest.fixture(autouse=True)
def studio_without_sharpening(monkeypatch):
    """The studio sharpens its latest tiles whenever its queue is idle (runner.Sharpener): in a test that
    would take the 2 cores from the test's own next request. Off by default (``SHARP_SIZES = ()``);
    test_studio_sharpen.py turns it on with sizes of its own."""
    from eigenstyle.studio import runner

    monkeypatch.setattr(runner, "SHARP_SIZES", ())


def _settle_the_arithmetic(folder: str) -> None:
    """``--precision auto`` and ``--conv auto`` read their choice from the private cache, ranked as a quiet
    machine of this kind times them (docs/benchmarks.md): bf16 first where the CPU has bf16 units (AMX,
    AVX-512 BF16), then direct convolutions; Winograd first on an AVX2 CPU without them. Timing the
    candidates (vgg/speed.py) costs 10-30 s of full network passes at 128-384 px, again for each deepest
    layer and size class and in each CLI process started before the first wrote it; test_speed.py times
    them with a cache of its own. A loaded machine's timing no longer changes the
    arithmetic (and so test_loop.py's divergences) from one run of the suite to the next."""
    import torch

    from eigenstyle.layers import LAYER_NAMES
    from eigenstyle.vgg import speed

    cpu = torch.device("cpu")
    key = {**speed.machine_key(cpu), "format": speed.FORMAT}
    convs = ("auto", "direct", "winograd")
    sets = {tuple(speed.candidates(p, c, cpu)) for p in ("auto", "fp32", "bf16") for c in convs}
    fastest = ["bf16/direct", "fp32/direct", "fp32/winograd"] if speed.hardware_bf16(cpu) else ["fp32/winograd"]
    table = {}
    for pairs in (list(s) for s in sets if len(s) > 1):
        names = sorted((f"{p}/{c}" for p, c in pairs), key=lambda n: fastest.index(n) if n in fastest else 9)
        for side in (128, 256, 384):  # in proportion to the pixels, as real timings are (speed._far)
            seconds = {n: (1.0 + i) * (side / 128) ** 2 for i, n in enumerate(names)}
            for deepest in LAYER_NAMES:
                table[json.dumps({**key, "side": side, "deepest": deepest, "pairs": pairs}, sort_keys=True)] = seconds
    with open(os.path.join(folder, "speed.json"), "w", encoding="utf-8") as f:
        json.dump(table, f)


@pytest.fixture(scope="session")
def content_path():
    return sample("tubingen.jpg")


@pytest.fixture(scope="session")
def style_path():
    return sample("starry_night.jpg")


def run_cli(*args, cwd=None, timeout=300):
    """Run the real console entry point in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "eigenstyle.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def main_in_process(args, capsys) -> tuple:
    """cli.main as the console entry point runs it, in this process (a process start costs a second):
    its exit code and stderr. Anything it does not catch fails the test as a traceback would."""
    from eigenstyle import cli

    handler = signal.getsignal(signal.SIGTERM)  # main installs its own
    capsys.readouterr()
    try:
        code = cli.main(list(args))
    except SystemExit as e:  # argparse's errors
        code = e.code
    finally:
        signal.signal(signal.SIGTERM, handler)
    return code, capsys.readouterr().err


def said(err: str) -> list:
    """stderr's lines but the one-off note of the first run of a kind on a machine (the arithmetic's
    timing, vgg/speed.py): whether it shows depends on which tests ran before."""
    return [line for line in err.strip().splitlines() if not line.startswith("eigenstyle: note: timed the network")]


def assert_tiles_equal_whole(problem, x, tile: int) -> None:
    """The objective evaluated in tiles (tiled.py) gives the whole image's losses and gradient at ``x``."""
    import torch

    from eigenstyle import objective, tiled

    x = x.detach().requires_grad_(True)
    whole = objective.evaluate(problem, x)
    whole["total"].sum().backward()
    parts, grad = tiled.losses_and_gradient(problem, x.detach(), tile)
    assert tuple(parts) == tuple(whole)
    for k in whole:
        assert torch.allclose(parts[k], whole[k].detach(), rtol=1e-4, atol=1e-3), k
    assert torch.allclose(grad, x.grad, rtol=1e-3, atol=1e-3 * float(x.grad.abs().max()))
