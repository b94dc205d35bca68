"""The command line, run for real in subprocesses: outputs, aliases, errors, signals."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from PIL import Image

import eigenstyle

from conftest import main_in_process, run_cli

FAST = ["--size", "48", "--iterations", "3", "--seed", "1", "-q"]


@pytest.mark.slow
def test_stylize_writes_output_with_recipe(content_path, style_path, tmp_path):
    r = run_cli("stylize", content_path, style_path, "-o", tmp_path / "out.png", *FAST)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout and "peak memory" in r.stdout
    assert eigenstyle.read_recipe(str(tmp_path / "out.png"))["options"]["iterations"] == 3


@pytest.mark.slow
def test_existing_output_is_kept_and_next_free_name_used(content_path, style_path, tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    r = run_cli("stylize", content_path, style_path, "-o", out, *FAST)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == b"precious"
    assert (tmp_path / "out-1.png").exists() and "out-1.png" in r.stderr
    r = run_cli("stylize", content_path, style_path, "-o", out, "--overwrite", *FAST)
    assert r.returncode == 0 and out.read_bytes() != b"precious"


def test_files_beside_an_output_are_not_replaced_either(tmp_path):
    """NAME.raw.png (levels) and NAME_N.png (--save-every) are written beside NAME.png:
    a free NAME with a leftover companion must not reuse it."""
    from eigenstyle.cli import pick_output

    (tmp_path / "a.raw.png").write_bytes(b"raw")
    (tmp_path / "b_100.png").write_bytes(b"intermediate")
    assert pick_output(str(tmp_path / "a.png"), overwrite=False) == str(tmp_path / "a-1.png")
    assert pick_output(str(tmp_path / "b.png"), overwrite=False) == str(tmp_path / "b-1.png")
    assert pick_output(str(tmp_path / "c.png"), overwrite=False) == str(tmp_path / "c.png")
    assert pick_output(str(tmp_path / "a.png"), overwrite=True) == str(tmp_path / "a.png")


def test_list_layers():
    r = run_cli("list-layers")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 38 and re.match(r"relu3_2\s+256$", lines[1 + 13])


def _bad(tmp_path):
    (tmp_path / "text.jpg").write_text("<html>not an image</html>")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("x")
    return {
        "missing content": (["nope.jpg", "{s}"], "no such file"),
        "text named jpg": (["{t}/text.jpg", "{s}"], "cannot read"),
        "zero-byte file": (["{c}", "{t}/empty.png"], "cannot read"),
        "directory": (["{t}/adir", "{s}"], "is a directory"),
        "no style": (["{c}"], "at least one style"),
        "unknown layer": (["{c}", "{s}", "--style-layers", "relu9_9"], "unknown layer 'relu9_9'"),
        "zero size": (["{c}", "{s}", "--size", "0"], "--size must be"),
        "negative size": (["{c}", "{s}", "--size", "-5"], "--size must be"),
        "text size": (["{c}", "{s}", "--size", "big"], "expected an integer"),
        "zero iterations": (["{c}", "{s}", "--iterations", "0"], "--iterations must be"),
        "negative weight": (["{c}", "{s}", "--style-weight", "-1"], "--style-weight must be > 0"),
        "zero style weight": (["{c}", "{s}", "--style-weight", "0"], "--style-weight must be > 0"),
        "nan weight": (["{c}", "{s}", "--content-weight", "nan"], "finite"),
        "inf weight": (["{c}", "{s}", "--tv-weight", "inf"], "finite"),
        "missing folder": (["{c}", "{s}", "-o", "{t}/no/such/dir/out.png"], "folder does not exist"),
        "folder is a file": (["{c}", "{s}", "-o", "{t}/afile/out.png"], "folder does not exist"),
        "unwritable folder": (["{c}", "{s}", "-o", "/proc/out.png"], "cannot write"),
        "bad extension": (["{c}", "{s}", "-o", "{t}/out.gif"], ".png, .jpg"),
        "unknown option": (["{c}", "{s}", "--colour", "3"], "unrecognized arguments"),
        "bad choice": (["{c}", "{s}", "--optimizer", "sgd"], "invalid choice"),
        "missing model file": (["{c}", "{s}", "--model-file", "{t}/none.pth"], "no such file"),
    }


@pytest.mark.slow
def test_bad_input_gives_one_line_and_exit_2_and_writes_nothing(content_path, style_path, tmp_path, capsys,
                                                                 monkeypatch):  # fmt: skip
    cases = _bad(tmp_path)
    before = set(os.listdir(tmp_path))
    monkeypatch.chdir(tmp_path)
    for i, (name, (args, message)) in enumerate(cases.items()):
        args = [a.format(c=content_path, s=style_path, t=tmp_path) for a in args]
        if "-o" not in args:
            args += ["-o", str(tmp_path / "out.png")]
        if "--iterations" not in args:
            args += ["--iterations", "3"]
        if i % 7 == 0:  # every seventh through the real console entry point, in a process of its own
            r = run_cli("stylize", *args, "-q", cwd=tmp_path)
            code, err = r.returncode, r.stderr
        else:
            code, err = main_in_process(["stylize", *args, "-q"], capsys)
        assert code == 2, (name, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0] and "Traceback" not in err, (name, err)
        assert set(os.listdir(tmp_path)) == before, name


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.slow
def test_signal_saves_the_current_image_with_its_recipe(content_path, style_path, tmp_path, sig):
    out = tmp_path / "out.png"
    # A shell leaves SIGINT ignored in the children of a background job (as when the suite runs under
    # nohup ... &), and Python then never raises KeyboardInterrupt: give the child the default, as a
    # terminal's foreground job has.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "eigenstyle.cli",
            "stylize",
            content_path,
            style_path,
            "-o",
            out,
            "--size",
            "48",
            "--iterations",
            "100000",
            "--save-every",
            "2",
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.time() + 120
        while not (tmp_path / "out_2.png").exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.1)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # never leave a 100000-iteration child behind
    assert proc.returncode == 130, err
    data = eigenstyle.read_recipe(str(out))
    assert data["interrupted"] is True and 2 <= data["iterations_done"] < 100000
    assert f"interrupted at iteration {data['iterations_done']}" in err
    assert Image.open(out).size == (48, 36)
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".eigenstyle-")]  # no temp files left


@pytest.mark.slow
def test_demo_runs_on_bundled_samples(tmp_path):
    r = run_cli("demo", "--out", tmp_path / "demo", "--size", "48", "--iterations", "3", "-q")
    assert r.returncode == 0, r.stderr
    files = sorted(os.listdir(tmp_path / "demo"))
    randomised = [f"tubingen_starry_night-{r}" for r in ("variant-1", "variant-2", "fantasy-1")]
    expected = ["sheet.jpg", "tubingen_starry_night.png"] + [f"{r}.png" for r in randomised]
    expected += [f"{r}.swatch.png" for r in randomised] + ["tubingen_starry_night-fantasy-1.raw.png"]
    assert files == sorted(expected)  # plain, two variants and a fantasy, each randomised one with its swatch
    assert eigenstyle.read_recipe(str(tmp_path / "demo" / "tubingen_starry_night.png"))["options"]["init"] == "image"


def test_ci_runs_the_readme_test_command():
    root = os.path.join(os.path.dirname(__file__), "..")
    readme = open(os.path.join(root, "README.md"), encoding="utf-8").read()
    ci = open(os.path.join(root, ".ci", "run"), encoding="utf-8").read()
    command = [line for line in readme.splitlines() if "pytest" in line and line.startswith("python3 -m venv")]
    assert len(command) == 1 and command[0] in ci.splitlines()


def test_help_does_not_import_torch():
    """Start-up: `eigenstyle --help` and option parsing stay fast (torch is imported on first use)."""
    code = (
        "import sys, eigenstyle.cli as c; c.build_parser().parse_args(['stylize', 'a', 'b']); "
        "print('torch' in sys.modules)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "False", r.stderr
