"""--precision auto and --conv auto: the fastest allowed arithmetic on this machine, timed once on real
networks, cached on disk, recorded in the recipe, and reproduced from it."""

import json
import os
import subprocess
import sys

import pytest
import torch

import eigenstyle
from eigenstyle import recipe
from eigenstyle.errors import EigenstyleError
from eigenstyle.vgg import network, speed

from conftest import SMALL

CPU = torch.device("cpu")
BUSY = speed.BUSY
LAYERS = ("relu4_2", "relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
# what the timing tests build and time: the first two blocks, as cheap a network as still runs each candidate
# (the timing's bookkeeping is the same for any; the deepest layer it is filed under is choose's argument)
TIMED = ("relu1_1", "relu2_1")
# a run that times its candidates: its network is only as deep as its layers
SHALLOW = dict(content_layers=("relu2_1",), style_layers=("relu1_1", "relu2_1"))


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty disk cache and no choice remembered in this process; every timing kept, whatever else the
    machine is doing (the load test sets BUSY back)."""
    monkeypatch.setenv("EIGENSTYLE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(speed, "_MEMO", {})
    monkeypatch.setattr(speed, "BUSY", 0.0)
    return tmp_path / "cache" / "speed.json"


def build_counting(built: list):
    weights = network.embedded_weights()

    def build(p, c):
        built.append((p, c))
        return network.VGG(weights, TIMED, "max", p, c)

    return build


def test_candidates_follow_the_options_and_the_hardware():
    both = speed.candidates("auto", "auto", CPU)
    assert both[:2] == [("fp32", "direct"), ("fp32", "winograd")]
    # bf16 is timed only where the CPU has bf16 units: emulated, it is ~40x slower
    assert (("bf16", "direct") in both) == speed.hardware_bf16(CPU)
    assert speed.candidates("auto", "direct", CPU) == [("fp32", "direct")] + (
        [("bf16", "direct")] if speed.hardware_bf16(CPU) else []
    )
    assert speed.candidates("bf16", "auto", CPU) == [("bf16", "direct")]
    assert speed.candidates("fp32", "winograd", CPU) == [("fp32", "winograd")]
    assert speed.candidates("tf32", "auto", torch.device("cuda")) == [("tf32", "direct")]
    weights = network.embedded_weights()
    with pytest.raises(EigenstyleError, match="^conv winograd runs in fp32; it cannot be combined with precision bf16"):
        network.arithmetic("bf16", "winograd", CPU, weights, LAYERS, "max", 64)


def test_auto_times_every_candidate_keeps_the_fastest_and_caches_it(fresh):
    built = []
    choice = speed.choose(build_counting(built), "auto", "auto", CPU, 64, "relu5_1")
    pairs = speed.candidates("auto", "auto", CPU)
    assert built == pairs  # each allowed network was built and timed
    assert set(choice.seconds) == {f"{p}/{c}" for p, c in pairs}
    assert all(0 < s < 30 for s in choice.seconds.values())
    assert f"{choice.precision}/{choice.conv}" == min(choice.seconds, key=choice.seconds.get)
    assert choice.probe_px == 128 and not choice.cached
    assert choice.recipe()["chosen_by"] == "timing"

    # the disk cache answers a new process (an empty memo): nothing is built or timed again
    stored = json.loads(fresh.read_text())
    assert list(stored.values()) == [choice.seconds]
    speed._MEMO.clear()
    again = speed.choose(build_counting(built), "auto", "auto", CPU, 100, "relu5_1")
    assert (again.precision, again.conv, again.seconds, again.cached) == (
        choice.precision,
        choice.conv,
        choice.seconds,
        True,
    )
    assert len(built) == len(pairs)
    # another size class or another deepest layer is timed afresh
    speed.choose(build_counting(built), "auto", "auto", CPU, 64, "relu4_2")
    assert len(built) == 2 * len(pairs)
    assert len(json.loads(fresh.read_text())) == 2


def test_a_cached_timing_far_from_the_machines_others_is_timed_again(fresh):
    """An entry 10x slower per pixel than the same machine's timings of the same network at other sizes (made
    under a load that came and went with it) is timed again; one in line with them is read."""
    built = []
    real = speed.choose(build_counting(built), "fp32", "auto", CPU, 64, "relu5_1")  # side 128, really timed
    table = json.loads(fresh.read_text())
    (key,) = table
    for side, factor in ((256, 10 * 4), (384, 9)):  # 256: 10x too slow per pixel; 384: in line
        table[key.replace('"side": 128', f'"side": {side}')] = {k: v * factor for k, v in real.seconds.items()}
    fresh.write_text(json.dumps(table))
    speed._MEMO.clear()
    n = len(built)
    again = speed.choose(build_counting(built), "fp32", "auto", CPU, 300, "relu5_1")
    assert not again.cached and len(built) > n  # timed again, and the odd entry replaced
    assert json.loads(fresh.read_text())[key.replace('"side": 128', '"side": 256')] == again.seconds
    n = len(built)
    assert speed.choose(build_counting(built), "fp32", "auto", CPU, 500, "relu5_1").cached and len(built) == n


@pytest.mark.slow
def test_a_timing_made_under_load_serves_its_run_and_is_timed_again(fresh, monkeypatch):
    """With another job on every core the process gets about half its threads' time: that timing is used
    by the run that made it and not remembered; the next process, on a quiet machine, times again."""
    monkeypatch.setattr(speed, "BUSY", BUSY)
    burn = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        built = []
        loaded = speed.choose(build_counting(built), "fp32", "auto", CPU, 64, "relu5_1")
    finally:
        for b in burn:
            b.kill()
            b.wait()
    assert loaded.seconds and not fresh.exists()
    speed._MEMO.clear()
    quiet = speed.choose(build_counting(built), "fp32", "auto", CPU, 64, "relu5_1")
    assert not quiet.cached and list(json.loads(fresh.read_text()).values()) == [quiet.seconds]


def test_the_share_of_cpu_time_says_whether_another_job_had_the_cores():
    threads = min(torch.get_num_threads(), os.cpu_count())
    assert speed.cpu_share(threads * 1.0, 1.0, CPU) == 1.0
    assert speed.cpu_share(threads * 0.5, 1.0, CPU) == 0.5 < speed.BUSY
    assert speed.cpu_share(0.1, 1.0, torch.device("cuda")) == 1.0  # a GPU's host waits: no measure of load


def test_fixed_options_time_nothing(fresh):
    built = []
    choice = speed.choose(build_counting(built), "fp32", "direct", CPU, 64, "relu5_1")
    assert (choice.precision, choice.conv, built) == ("fp32", "direct", [])
    assert choice.recipe() == {"chosen_by": "options"} and not fresh.exists()


@pytest.mark.parametrize("damage", ["not json", '{"a": 1}', "[1, 2]", ""])
def test_a_damaged_cache_is_timed_again_and_rewritten(fresh, damage):
    fresh.parent.mkdir(parents=True)
    fresh.write_text(damage)
    built = []
    choice = speed.choose(build_counting(built), "fp32", "auto", CPU, 64, "relu5_1")
    assert built == [("fp32", "direct"), ("fp32", "winograd")]
    assert choice.seconds == next(v for k, v in json.loads(fresh.read_text()).items() if k != "a")


def test_no_disk_cache_still_times_once_per_process(tmp_path, monkeypatch):
    monkeypatch.setenv("EIGENSTYLE_CACHE_DIR", "off")
    monkeypatch.setattr(speed, "_MEMO", {})
    built = []
    first = speed.choose(build_counting(built), "fp32", "auto", CPU, 64, "relu5_1")
    second = speed.choose(build_counting(built), "fp32", "auto", CPU, 64, "relu5_1")
    assert len(built) == 2 and first == second


def test_too_little_memory_to_time_runs_the_plain_path(tmp_path):
    """Timing builds a network per candidate and passes a 384 px probe through each: where that does not
    fit (a tight memory limit), the run takes the plain path, remembered in this process only (a later
    one with room times them), instead of a traceback."""
    code = """
import json, os, resource, torch
from eigenstyle.vgg import network, speed
weights = network.embedded_weights()
build = lambda p, c: network.VGG(weights, ("relu1_1", "relu2_1", "relu3_1"), "max", p, c)
used = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
soft, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (used + 48 * 2**20, hard))  # a real allocation failure, not a mock
tight = speed.choose(build, "fp32", "auto", torch.device("cpu"), 1000, "relu3_1")
resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
print(json.dumps([tight.precision, tight.conv, tight.seconds, os.path.exists(speed._path())]))
"""
    env = {**os.environ, "EIGENSTYLE_CACHE_DIR": str(tmp_path / "cache")}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    precision, conv, seconds, cached = json.loads(r.stdout)
    assert (precision, conv, seconds, cached) == ("fp32", "direct", {}, False)  # nothing timed, nothing cached


def test_a_run_records_the_choice_and_reproduces_it(content_path, style_path, tmp_path, fresh):
    out = str(tmp_path / "a.png")
    result = eigenstyle.stylize(content_path, style_path, output=out, **{**SMALL, **SHALLOW, "iterations": 3})
    r = result.recipe
    chosen = r["arithmetic"]
    assert chosen["chosen_by"] == "timing" and chosen["probe_px"] == 128
    # the pair that ran is a fastest one as recorded (the recipe rounds to 0.1 ms: two pairs may tie there, and
    # the first of them need not be the one that was faster before rounding; a full run once failed so)
    assert chosen["seconds"][f"{r['precision']}/{r['conv']}"] == min(chosen["seconds"].values())
    # settled into the options, so the recipe runs the same arithmetic on any machine
    assert (r["options"]["precision"], r["options"]["conv"]) == (r["precision"], r["conv"])
    again = eigenstyle.reproduce(out, str(tmp_path / "b.png"))
    assert again.image.tobytes() == result.image.tobytes()
    assert again.recipe["arithmetic"] == {"chosen_by": "options"}


def test_a_recipe_from_before_the_timing_keeps_its_recorded_convolutions():
    """Before the choice by timing, recipes said --conv auto and ran Winograd on a CPU in fp32."""
    old = {"options": {"conv": "auto", "precision": "fp32"}, "conv": "winograd", "precision": "fp32"}
    opts = recipe.options_of(old)
    assert (opts.conv, opts.precision) == ("winograd", "fp32")
    assert recipe.options_of({"options": {"conv": "direct"}, "conv": "winograd"}).conv == "direct"


def test_the_cache_file_lives_in_the_cache_folder(fresh):
    speed.choose(build_counting([]), "fp32", "auto", CPU, 64, "relu5_1")
    assert os.path.isfile(fresh)


def test_a_tiled_run_keeps_the_arithmetic_its_memory_model_measured(content_path, style_path):
    """Tiles are chosen by memory.py's fp32 model: a run evaluated in tiles with --precision auto runs fp32."""
    r = eigenstyle.stylize(content_path, style_path, **{**SMALL, "size": 64, "iterations": 1, "tile": 32})
    assert r.recipe["precision"] == r.recipe["options"]["precision"] == "fp32"
    assert r.recipe["options"]["tile"] == 32
