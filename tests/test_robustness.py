"""The bad-input corpus and the write faults, on the real command line.

Every kind in CASES is one parametrised test: a refused input gives exit 2, one
line on stderr, no traceback and nothing written; an input that is merely
unusual is converted and stylised (exit 0). ``docs/robustness.md`` is generated
from CASES and FAULTS (``EIGENSTYLE_UPDATE_DOCS=1``) and checked against them,
so it cannot go stale. Most cases run ``cli.main`` in-process (a subprocess
costs a torch import each); a few run the real entry point.
"""

import errno
import os
import resource
import signal
import stat
import subprocess
import sys
from dataclasses import dataclass

import pytest
from PIL import Image

from eigenstyle import images
from eigenstyle.errors import EigenstyleError
from eigenstyle.files import atomic_path, default_file_mode
from eigenstyle.images import save_atomic

import corpus
from conftest import main_in_process, run_cli, said

ROOT = os.path.join(os.path.dirname(__file__), "..")
DOC = os.path.join(ROOT, "docs", "robustness.md")
TINY = ["--size", "32", "--iterations", "2", "--seed", "1", "-q"]


@dataclass(frozen=True)
class Case:
    kind: str
    make: object  # corpus generator for {f}, or None
    args: tuple  # command line; {c} content, {s} style, {f} the made file, {o} output, {d} output folder
    message: str  # refused: text of the one error line; accepted: "" or the text of the one note line
    accepted: bool = False
    size: tuple = None  # accepted: the output's expected size

    @property
    def id(self):
        kind = self.kind.replace("(", "").replace(")", "").replace(" ", "-")
        return kind.replace("×", "x").replace(">", "gt").replace(",", "")


def _stylize(*extra, bad="content"):
    head = ("{f}", "{s}") if bad == "content" else ("{c}", "{f}")
    return ("stylize", *head, "-o", "{o}", *extra)


def _opt(*extra):
    return ("stylize", "{c}", "{s}", "-o", "{o}", *extra)


def _out(path):
    return ("stylize", "{c}", "{s}", "-o", path)


STYLE_FILE = ("stylize", "{c}", "-o", "{o}", "--style-file", "{f}")


CASES = [
    # files that are not usable images: refused
    Case("zero-byte file", corpus.zero_byte, _stylize(), "the file is empty (0 bytes)"),
    Case("truncated PNG", corpus.truncated_png, _stylize(), "the file is truncated or damaged"),
    Case("truncated JPEG", corpus.truncated_jpeg, _stylize(bad="style"), "the file is truncated or damaged"),
    Case("text named .jpg", corpus.text_as_jpg, _stylize(), "it is a text file, not an image"),
    Case("HTML named .jpg", corpus.html_as_jpg, _stylize(), "it is an HTML page, not an image"),
    Case("decompression bomb header", corpus.bomb_png, _stylize(), "over the 100-megapixel limit"),
    Case("1×1 image", corpus.one_by_one, _stylize(), "is 1x1 px; eigenstyle needs at least 16 px on each side"),
    Case("1×5000 image", corpus.sliver, _stylize(bad="style"), "is 1x5000 px; eigenstyle needs at least 16 px"),
    Case("SVG", corpus.svg, _stylize(), "SVG is a vector format; export it as PNG or JPEG first"),
    Case("directory given as an image", corpus.directory, _stylize(), "is a directory, not an image"),
    Case("missing file", None, ("stylize", "{d}/nope.jpg", "{s}", "-o", "{o}"), "no such file"),
    # unusual images: converted and used
    Case("16-bit grey PNG", corpus.png16, _stylize(), "", True, (32, 24)),
    Case("16-bit RGB PNG", corpus.png16_rgb, _stylize(bad="style"), "", True, (32, 24)),
    Case("CMYK JPEG", corpus.cmyk_jpeg, _stylize(), "", True, (32, 24)),
    Case("palette PNG with transparency", corpus.palette_transparency, _stylize(), "", True, (32, 24)),
    Case("grey with alpha (LA)", corpus.la, _stylize(), "", True, (32, 24)),
    Case("greyscale JPEG", corpus.grayscale, _stylize(bad="style"), "", True, (32, 24)),
    Case("RGBA with alpha", corpus.rgba, _stylize(), "", True, (32, 24)),
    Case("EXIF-rotated JPEG", corpus.exif_rotated, _stylize(), "", True, (16, 32)),
    Case("animated GIF", corpus.animated_gif, _stylize(), "has 3 frames; using the first", True, (32, 24)),
    Case("WebP", corpus.webp, _stylize(), "", True, (32, 24)),
    Case(
        "multi-page TIFF", corpus.multipage_tiff, _stylize(bad="style"), "has 2 pages; using the first", True, (32, 24)
    ),
    # options: refused before any computation
    Case("unknown layer", None, _opt("--style-layers", "relu3_2,relu9_9"), "unknown layer 'relu9_9'"),
    Case("negative weight", None, _opt("--content-weight", "-1"), "--content-weight must be >= 0"),
    Case("zero style weight", None, _opt("--style-weight", "0"), "--style-weight must be > 0"),
    Case("NaN weight", None, _opt("--style-weight", "nan"), "--style-weight must be a finite number"),
    Case("infinite weight", None, _opt("--tv-weight", "inf"), "--tv-weight must be a finite number"),
    Case("negative blend weight", None, _opt("--style-blend-weights", "-1"), "--style-blend-weights must be >= 0"),
    Case("negative size", None, _opt("--size", "-5"), "--size must be an integer >= 16"),
    Case("zero size", None, _opt("--size", "0"), "--size must be an integer >= 16"),
    Case("NaN size", None, _opt("--size", "nan"), "expected an integer, got 'nan'"),
    Case("infinite size", None, _opt("--size", "inf"), "expected an integer, got 'inf'"),
    Case("zero iterations", None, _opt("--iterations", "0"), "--iterations must be an integer >= 1"),
    Case("negative iterations", None, _opt("--iterations", "-3"), "--iterations must be an integer >= 1"),
    Case("NaN iterations", None, _opt("--iterations", "nan"), "expected an integer, got 'nan'"),
    Case("infinite iterations", None, _opt("--iterations", "inf"), "expected an integer, got 'inf'"),
    Case("infinite style scale", None, _opt("--style-scale", "inf"), "--style-scale must be a finite number"),
    Case("empty --scales", None, _opt("--scales", ""), "--scales must be ascending sizes below --size"),
    Case("spread lo > hi", None, _opt("--mode", "variant", "--spread", "1.5,0.5"), "needs lo <= hi"),
    Case("NaN spread", None, _opt("--mode", "variant", "--spread", "nan,1"), "--spread must be finite"),
    Case("count 0", None, ("variants", "{c}", "{s}", "-o", "{d}/v", "--count", "0"), "--count must be >= 1"),
    Case(
        "NaN mutation amount",
        None,
        ("variants", "--mutate", "{c}", "--amount", "nan", "-o", "{d}/v"),
        "--amount must be in [0, 1]",
    ),
    # recipes and style files
    Case("corrupt recipe in a PNG", corpus.corrupt_recipe, ("reproduce", "{f}", "-o", "{o}"), "not valid JSON"),
    Case(
        "future-version recipe",
        corpus.future_recipe,
        ("reproduce", "{f}", "-o", "{o}"),
        "recipe version 99 was written by a newer eigenstyle",
    ),
    Case(
        "recipe with malformed options",
        corpus.malformed_recipe,
        ("reproduce", "{f}", "-o", "{o}"),
        "--size must be an integer >= 16",
    ),
    Case("PNG without a recipe", corpus.plain_png, ("reproduce", "{f}", "-o", "{o}"), "carries no eigenstyle recipe"),
    Case("truncated style file", corpus.truncated_style, STYLE_FILE, "is not a readable eigenstyle style file"),
    Case(
        "style file with wrong shapes",
        corpus.style_wrong_shape,
        STYLE_FILE,
        "relu2_1 has shape (64, 64), expected 128x128",
    ),
    Case("style file with NaNs", corpus.style_nan, STYLE_FILE, "holds non-finite or non-float32 values"),
    Case("future-version style file", corpus.style_future, STYLE_FILE, "was written by a newer eigenstyle"),
    # outputs
    Case("output folder that cannot be written", None, _out("/proc/out.png"), "cannot write to /proc"),
    Case("output folder that does not exist", None, _out("{d}/no/such/out.png"), "folder does not exist"),
    Case("output that is a directory", None, _out("{d}"), "is a directory; give a file name"),
    Case("output with an unknown extension", None, _out("{d}/out.gif"), "use a .png, .jpg, .jpeg, .tif or .tiff"),
]
SUBPROCESS = {"zero-byte file", "animated GIF", "NaN weight", "corrupt recipe in a PNG"}  # real entry point

# Faults: what the user sees, and the test that shows it.
FAULTS = [
    (
        "Ctrl-C during a run",
        "saves the current image, its recipe records `interrupted` and the iteration; exit 130",
        "tests/test_cli.py::test_signal_saves_the_current_image_with_its_recipe",
    ),
    ("SIGTERM during a run", "as Ctrl-C", "tests/test_cli.py::test_signal_saves_the_current_image_with_its_recipe"),
    (
        "Ctrl-C during a morph",
        "writes the clip of the frames made, its recipe records `interrupted`; exit 130",
        "tests/test_morph.py::test_ctrl_c_writes_the_clip_of_the_frames_made",
    ),
    (
        "a morph asked of no favourites, an unknown clip format, a file without a recipe, no frames",
        "one line, exit 2, nothing written",
        "tests/test_morph.py::test_bad_morph_requests_are_one_line",
    ),
    (
        "NaN, infinite or exploding loss (a divergence)",
        "starts afresh from the last sane image (fresh L-BFGS; the recipe's `restarted_at` says where)",
        "tests/test_loop.py::test_a_divergence_starts_afresh_from_the_last_sane_image_and_the_recipe_says_where",
    ),
    (
        "a run that keeps diverging (a fourth time)",
        "stops with a message, keeps the last sane image; exit 1",
        "tests/test_loop.py::test_a_run_that_keeps_diverging_stops_with_a_message_and_keeps_the_last_sane_image",
    ),
    (
        "out of device memory",
        "a message with a --size that would fit; exit 2",
        "tests/test_faults.py::test_out_of_memory_message",
    ),
    (
        "file-size limit (`ulimit -f`) during a write",
        "previous file intact, no temporary file left, one line saying so; exit 2",
        "tests/test_robustness.py::test_file_size_limit_keeps_the_previous_file",
    ),
    (
        "file-size limit with an empty weight cache",
        "the weight cache is skipped (the run is only slower), then "
        "the output write fails as above: previous file intact, one line; exit 2",
        "tests/test_robustness.py::test_file_size_limit_with_a_cold_weight_cache",
    ),
    (
        "disk full during a write",
        "previous file intact, no temporary file left, one line saying so; exit 2",
        "tests/test_robustness.py::test_disk_full_keeps_the_previous_file",
    ),
    (
        "Ctrl-C during a write",
        "previous file intact, no temporary file left",
        "tests/test_robustness.py::test_interrupted_write_keeps_the_previous_file",
    ),
    (
        "Ctrl-C or SIGTERM before the first iteration: preparing, timing the arithmetic, the first swatch, "
        "a render's reference swatch",
        "one line (`interrupted before the run started; nothing written`), nothing written, no timing "
        "remembered; exit 130",
        "tests/test_stops.py::test_a_signal_while_the_arithmetic_is_timed_writes_nothing",
    ),
    (
        "Ctrl-C or SIGTERM while a later scale is prepared or its swatch made",
        "the scale before's image is written as a stopped coarse scale (see below); exit 130",
        "tests/test_stops.py::test_a_signal_during_the_final_scales_swatch_keeps_the_coarse_scale",
    ),
    (
        "Ctrl-C or SIGTERM while a result is written",
        "waits until the image and its raw picture and swatch are written whole (the image last: a failed "
        "image write removes the others), then one line (`interrupted while writing; wrote X whole first`); "
        "exit 130",
        "tests/test_stops.py::test_a_signal_while_writing_waits_until_the_image_and_its_companions_are_written",
    ),
    (
        "an observer's stop (the studio's Cancel) during a swatch",
        "each run's start image (or a coarser scale's) written, interrupted, its recipe's `stopped` the reason",
        "tests/test_stops.py::test_an_executors_cancel_ends_variants_and_sweep_with_every_image_written",
    ),
    (
        "studio: the server stopped (or a Generate clicked) while it sharpens tiles in the background",
        "the step in progress keeps nothing and is made again when the studio is next idle; finished steps "
        "(`ID.sSIZE.png`, recipe embedded) and the tile's `sharp_size` survive a restart; the new job starts "
        "within one iteration",
        "tests/test_studio_sharpen.py::test_a_generate_during_sharpening_starts_at_once_and_a_stop_keeps_only_whole_steps",
    ),
    (
        "studio worker crash",
        "the job is marked failed with a message, the server keeps serving the next job",
        "tests/test_studio_api.py::test_a_crashing_job_fails_with_a_message_and_the_next_job_runs",
    ),
    (
        "studio: bad requests",
        "a 4xx answer with one line, nothing run",
        "tests/test_studio_api.py::test_bad_requests_get_4xx_with_one_line",
    ),
    (
        "studio: uploads",
        "bounded, decoded and re-encoded, renamed",
        "tests/test_studio_api.py::test_uploads_are_bounded_decoded_reencoded_and_renamed",
    ),
    (
        "existing output",
        "kept; the next free name is used and named (`--overwrite` replaces)",
        "tests/test_cli.py::test_existing_output_is_kept_and_next_free_name_used",
    ),
    (
        "existing style file (`--save-style`)",
        "kept; the next free name is used and named",
        "tests/test_robustness.py::test_existing_style_file_is_kept",
    ),
    (
        "leftover `NAME.raw.png` or `NAME_N.png` beside a free output name",
        "kept: the output moves to the next free name, so its companions cannot replace them",
        "tests/test_cli.py::test_files_beside_an_output_are_not_replaced_either",
    ),
]


def _argv(case, content_path, style_path, tmp_path):
    made = case.make(str(tmp_path / "in")) if case.make else ""
    out_dir = tmp_path / "out"
    fill = dict(c=content_path, s=style_path, f=made, o=out_dir / "o.png", d=out_dir)
    argv = [str(a).format(**fill) for a in case.args]
    if argv[0] != "reproduce":  # small settings, unless the case is about one of them
        argv += [x for flag, value in zip(TINY[:-1:2], TINY[1:-1:2]) if flag not in argv for x in (flag, value)]
    return argv + ["-q"]


@pytest.fixture
def dirs(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "out").mkdir()
    return tmp_path


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
@pytest.mark.slow
def test_corpus(case, content_path, style_path, dirs, capsys):
    argv = _argv(case, content_path, style_path, dirs)
    if case.kind in SUBPROCESS:
        r = run_cli(*argv)
        code, err = r.returncode, r.stderr
    else:
        code, err = main_in_process(argv, capsys)
    lines = said(err)
    assert "Traceback" not in err, err
    written = sorted(os.listdir(dirs / "out"))
    if case.accepted:
        assert code == 0, err
        assert written == ["o.png"], written  # no temporary files, nothing else
        assert Image.open(dirs / "out" / "o.png").size == case.size
        assert len(lines) == (1 if case.message else 0) and case.message in err, err
        if case.message:
            assert lines[0].startswith("eigenstyle: note:"), err
    else:
        assert code == 2, err
        assert len(lines) == 1 and case.message in lines[0], err
        assert written == [], written


def test_exif_rotation_is_applied_not_refused(tmp_path):
    im = images.load_rgb(corpus.exif_rotated(str(tmp_path)))
    assert im.size == (32, 64)  # stored 64x32, orientation 6: shown upright
    assert im.getpixel((31, 0))[0] < 40 and im.getpixel((0, 0))[0] < 40  # the stored left column is on top


def test_conversions_keep_the_picture(tmp_path):
    """Unusual encodings become the picture they show: alpha on white, 16 bit scaled, CMYK to RGB."""
    ref = corpus._picture()
    for make in (corpus.png16_rgb, corpus.cmyk_jpeg, corpus.webp):
        im = images.load_rgb(make(str(tmp_path)))
        diff = abs(int(im.getpixel((63, 0))[0]) - ref.getpixel((63, 0))[0])
        assert im.mode == "RGB" and im.size == ref.size and diff <= 12, (make.__name__, im.getpixel((63, 0)))
    pal = Image.new("P", (20, 20), 1)
    pal.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.save(tmp_path / "p.png", transparency=0)
    im = images.load_rgb(tmp_path / "p.png")
    assert im.getpixel((0, 0)) == (255, 255, 255) and im.getpixel((5, 5)) == (200, 10, 10)


def test_pixel_bound_between_ours_and_pils(tmp_path):
    """120 MP passes PIL's own bomb check (179 MP) but not eigenstyle's 100 MP bound."""
    path = tmp_path / "wide.png"
    path.write_bytes(corpus.png_header(12_000, 10_000))
    with pytest.raises(EigenstyleError, match=r"is 12000x10000 px \(120 megapixels\), over the 100-megapixel"):
        images.load_rgb(str(path))


def _limited(limit):
    def preexec():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def _stylize_limited(content_path, style_path, out, env=None):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "eigenstyle.cli",
            "stylize",
            content_path,
            style_path,
            "-o",
            str(out),
            "--overwrite",
            "--size",
            "48",
            "--iterations",
            "2",
            "--seed",
            "1",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limited(1024),
        env={**os.environ, **(env or {})},
    )


@pytest.mark.slow
def test_file_size_limit_keeps_the_previous_file(content_path, style_path, tmp_path):
    from eigenstyle.vgg.network import load_weights

    load_weights()  # the weight cache is filled (the limit is about the output here; see the cold-cache test)
    out = tmp_path / "out.png"
    out.write_bytes(b"previous result")
    r = _stylize_limited(content_path, style_path, out)
    assert r.returncode == 2, r.stderr
    assert said(r.stderr) == [
        f"eigenstyle: error: could not write {out}: File too large; the previous file is kept unchanged"
    ]
    assert out.read_bytes() == b"previous result"
    assert sorted(os.listdir(tmp_path)) == ["out.png"]  # no temporary file left


@pytest.mark.slow
def test_file_size_limit_with_a_cold_weight_cache(content_path, style_path, tmp_path):
    """The weight cache cannot be written either: the run goes on without it and the output write fails cleanly."""
    out = tmp_path / "out.png"
    out.write_bytes(b"previous result")
    r = _stylize_limited(content_path, style_path, out, env={"EIGENSTYLE_CACHE_DIR": str(tmp_path / "cache")})
    assert r.returncode == 2 and len(said(r.stderr)) == 1 and "Traceback" not in r.stderr, r.stderr
    assert out.read_bytes() == b"previous result"
    assert not [f for f in os.listdir(tmp_path / "cache") if f.startswith(".tmp-")]


def test_disk_full_keeps_the_previous_file(content_path, style_path, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out.png"
    out.write_bytes(b"previous result")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(images.os, "fsync", full)
    code, err = main_in_process(["stylize", content_path, style_path, "-o", str(out), "--overwrite", *TINY], capsys)
    assert code == 2 and said(err) == [
        f"eigenstyle: error: could not write {out}: No space left on device; the previous file is kept unchanged"
    ]
    assert out.read_bytes() == b"previous result" and sorted(os.listdir(tmp_path)) == ["out.png"]
    code, err = main_in_process(["stylize", content_path, style_path, "-o", str(tmp_path / "new.png"), *TINY], capsys)
    assert code == 2 and "No space left on device; nothing was written" in err
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_interrupted_write_keeps_the_previous_file(tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    out.write_bytes(b"previous result")

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(images.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_atomic(Image.new("RGB", (8, 8)), str(out), "{}")
    assert out.read_bytes() == b"previous result" and sorted(os.listdir(tmp_path)) == ["out.png"]


def test_atomic_path_leaves_the_previous_file_or_the_new_one_and_no_temporary_file(tmp_path):
    """The one atomic writer behind images, style files, the weight cache and the studio's previews."""
    out = tmp_path / "f.bin"
    out.write_bytes(b"previous")
    for failure in (KeyboardInterrupt, ValueError, OSError):
        with pytest.raises(failure):
            with atomic_path(str(out), ".bin", fsync=False) as tmp:
                with open(tmp, "wb") as f:
                    f.write(b"half")
                raise failure
        assert out.read_bytes() == b"previous" and sorted(os.listdir(tmp_path)) == ["f.bin"]
    with atomic_path(str(out), ".bin") as tmp:
        with open(tmp, "wb") as f:
            f.write(b"new")
    assert out.read_bytes() == b"new" and sorted(os.listdir(tmp_path)) == ["f.bin"]
    assert stat.S_IMODE(os.stat(out).st_mode) == default_file_mode()


def test_existing_style_file_is_kept(content_path, style_path, tmp_path, capsys):
    kept = tmp_path / "s.safetensors"
    kept.write_bytes(b"previous style")
    code, err = main_in_process(
        [
            "stylize",
            content_path,
            style_path,
            "-o",
            str(tmp_path / "o.png"),
            "--save-style",
            str(kept),
            "--style-layers",
            "relu2_1",
            *TINY,
        ],
        capsys,
    )
    assert code == 0, err
    assert kept.read_bytes() == b"previous style"
    assert f"writing {tmp_path / 's-1.safetensors'} instead" in err and (tmp_path / "s-1.safetensors").exists()


# --- docs/robustness.md: generated from CASES and FAULTS, checked against them -------------------


def robustness_doc() -> str:
    refused = [c for c in CASES if not c.accepted]
    lines = [
        "# Robustness: bad inputs and faults",
        "",
        "Generated from the parametrisation of `tests/test_robustness.py` (`EIGENSTYLE_UPDATE_DOCS=1 python -m "
        "pytest tests/test_robustness.py` rewrites it; otherwise a test checks this file against the cases, so "
        "it cannot go stale). Every row is a test. A refused input prints one line (`eigenstyle: error: ...`, "
        "which contains the text shown), exits with code 2, shows no traceback and writes nothing; an accepted "
        "one is converted and stylised (exit 0), with one `eigenstyle: note: ...` line where shown.",
        "",
        "## Bad inputs",
        "",
        "| # | kind | command | outcome | message (contains) | test |",
        "|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(CASES, 1):
        command = (
            " ".join(c.args)
            .replace("{c}", "CONTENT")
            .replace("{s}", "STYLE")
            .replace("{f}", "FILE")
            .replace("{o}", "OUT/o.png")
            .replace("{d}", "OUT")
            .replace("|", "\\|")
        )
        outcome = "accepted, exit 0" if c.accepted else "refused, exit 2"
        if c.accepted:
            outcome += f", output {c.size[0]}x{c.size[1]}"
        how = " (subprocess)" if c.kind in SUBPROCESS else ""
        lines.append(f"| {i} | {c.kind} | `{command}` | {outcome} | {c.message or '-'} | `test_corpus[{c.id}]`{how} |")
    lines += ["", "## Faults", "", "| fault | behaviour | test |", "|---|---|---|"]
    lines += [f"| {kind} | {what} | `{test}` |" for kind, what, test in FAULTS]
    lines += [
        "",
        "A stop keeps what was made, whatever the phase (`tests/test_stops.py`: `stylize`, `variants`, `render` "
        "and `sweep`, each stopped by Ctrl-C, SIGTERM or an observer). A coarse-to-fine run stopped after a "
        "coarser scale, while the next scale is prepared, its swatch made or it runs, writes that coarser "
        "scale's image to the output, marked interrupted: its recipe's `stopped_at_coarse_scale` is the size "
        "it has, `stopped_preparing` or `stopped_in_swatch` the size the run was on (a run stopped in its "
        "first swatch by an observer gets its start image, `iterations_done` 0). Such a recipe has no scales of "
        "its own, so `reproduce` runs it at the size it has.",
    ]
    import test_fuzz

    fuzz = [
        (name, fn._hypothesis_internal_use_settings.max_examples)
        for name, fn in vars(test_fuzz).items()
        if name.startswith("test_") and hasattr(fn, "_hypothesis_internal_use_settings")
    ]
    lines += [
        "",
        "## Fuzzing",
        "",
        "`tests/test_fuzz.py` (hypothesis) feeds arbitrary and mutated bytes to the image loader, the recipe "
        "parser and the style file reader: each returns or raises `EigenstyleError`, never anything else. "
        "CI runs a fixed set of examples; `EIGENSTYLE_FUZZ_EXAMPLES=3000` draws that many fresh ones per "
        "test (it found an `IndexError` on an empty `scales` list in a recipe, now fixed and kept as an "
        "explicit example).",
        "",
        "| property test | examples in CI |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {n} |" for name, n in fuzz]
    import test_studio_security  # the studio's Security section: its rows live with its tests

    lines += test_studio_security.doc_lines()
    lines += [
        "",
        "## Counts",
        "",
        f"Kinds of bad input tried: {len(CASES)} ({len(refused)} refused with a message, "
        f"{len(CASES) - len(refused)} accepted and converted); faults: {len(FAULTS)}; fuzz properties: "
        f"{len(fuzz)}. All pass in CI (a "
        "failing row fails the suite). The OOM and studio-crash rows name tests kept with that work "
        "(`tests/test_faults.py`, `tests/test_studio_api.py`). Left out: a real full disk (simulated by "
        "an ENOSPC from the write; the file-size limit is real).",
        "",
    ]
    return "\n".join(lines)


def test_docs_table_is_current():
    import test_fuzz

    if test_fuzz.DEEP:
        pytest.skip("the table lists CI's example counts; EIGENSTYLE_FUZZ_EXAMPLES changes them")
    text = robustness_doc()
    if os.environ.get("EIGENSTYLE_UPDATE_DOCS") == "1":
        with open(DOC, "w", encoding="utf-8") as f:
            f.write(text)
    with open(DOC, encoding="utf-8") as f:
        assert f.read() == text, "docs/robustness.md is stale: rerun with EIGENSTYLE_UPDATE_DOCS=1"
    for _, _, test in FAULTS:  # the named tests exist where the table says
        path, name = test.split("::")
        assert os.path.exists(os.path.join(ROOT, path)), test
        with open(os.path.join(ROOT, path), encoding="utf-8") as f:
            assert f"def {name}(" in f.read(), test
