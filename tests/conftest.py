"""Shared fixtures: the bundled samples and small, fast settings.

Every test uses the real embedded VGG-19 weights; images are kept small
(48-64 px) so the whole suite runs in a few minutes on a 2-core CPU.
"""

import os
import subprocess
import sys

import pytest

from eigenstyle.demo import sample

SMALL = dict(size=48, iterations=12, seed=3, print_every=0)


@pytest.fixture(scope="session", autouse=True)
def private_weight_cache(tmp_path_factory):
    """Tests (and the CLI processes they start) use their own weight cache, not the user's."""
    os.environ["EIGENSTYLE_CACHE_DIR"] = str(tmp_path_factory.mktemp("weight-cache"))
    yield


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


def said(err: str) -> list:
    """stderr's lines but the one-off note of the first run of a kind on a machine (the arithmetic's
    timing, vgg/speed.py): whether it shows depends on which tests ran before."""
    return [line for line in err.strip().splitlines() if not line.startswith("eigenstyle: note: timed the network")]
