"""Make the golden set: small runs of every kind, whose recipes must reproduce pixel for pixel.

The set was made from main at the commit named in ``manifest.json`` before the refactoring of
issue 34 (one idea, one place), and ``tests/test_golden.py`` runs each recipe again with the code
of today and compares the pixels. Arithmetic differs between CPUs (fp32 kernels sum in another
order), so the comparison is exact on the CPU the set was made on and close elsewhere; to make the
set exact on another CPU, make it again *from that commit*, never from today's code::

    git worktree add /tmp/golden-base <commit>
    PYTHONPATH=/tmp/golden-base/src python tests/golden/make.py

Each case is a real command line (``eigenstyle stylize``, ``variants``, ``render``), in fp32 with
direct convolutions, 48-64 px and a few iterations.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from importlib import resources

HERE = os.path.dirname(os.path.abspath(__file__))
FIXED = ["--precision", "fp32", "--conv", "direct", "--print-every", "0", "-q", "--seed", "1"]
SMALL = ["--size", "64", "--iterations", "8", "--swatch-iterations", "8", *FIXED]

# name: (command, arguments, the files it writes that the set keeps)
CASES = {
    "plain": ("stylize", ["C", "S", *SMALL, "-o", "plain.png"], ["plain.png"]),
    "relu3_2": ("stylize", ["C", "S", *SMALL, "--style-layers", "relu3_2", "-o", "relu3_2.png"], ["relu3_2.png"]),
    "variant": (
        "stylize",
        ["C", "S", *SMALL, "--mode", "variant", "--variant-seed", "5", "-o", "variant.png"],
        ["variant.png"],
    ),
    "variant_b": (
        "stylize",
        ["C", "S", *SMALL, "--mode", "variant", "--variant-seed", "9", "-o", "variant_b.png"],
        ["variant_b.png"],
    ),
    "fantasy": (
        "stylize",
        ["C", "S", *SMALL, "--mode", "fantasy", "--variant-seed", "2", "-o", "fantasy.png"],
        ["fantasy.png"],
    ),
    "fantasy_reachable": (
        "stylize",
        [
            "C",
            "S",
            *SMALL,
            "--mode",
            "fantasy",
            "--target",
            "reachable",
            "--variant-seed",
            "4",
            "--style-layers",
            "relu3_1",
            "-o",
            "fantasy_reachable.png",
        ],
        ["fantasy_reachable.png"],
    ),
    "random": (
        "stylize",
        ["C", "S", *SMALL, "--mode", "random", "--variant-seed", "3", "-o", "random.png"],
        ["random.png"],
    ),
    "random_symmetric": (
        "stylize",
        [
            "C",
            "S",
            *SMALL,
            "--mode",
            "random",
            "--symmetric",
            "--variant-seed",
            "3",
            "--levels",
            "1",
            "-o",
            "random_symmetric.png",
        ],
        ["random_symmetric.png"],
    ),
    "coarse_to_fine": (
        "stylize",
        [
            "C",
            "S",
            *SMALL,
            "--mode",
            "variant",
            "--variant-seed",
            "6",
            "--scales",
            "32",
            "--scale-iterations",
            "5",
            "--anchor-weight",
            "100",
            "-o",
            "coarse_to_fine.png",
        ],
        ["coarse_to_fine.png"],
    ),
    "tiled": ("stylize", ["C", "S", *SMALL, "--tile", "32", "-o", "tiled.png"], ["tiled.png"]),
    "original_colors_16bit": (
        "stylize",
        [
            "C",
            "S",
            *SMALL,
            "--original-colors",
            "--bit-depth",
            "16",
            "--init",
            "image",
            "--optimizer",
            "adam",
            "--learning-rate",
            "5",
            "-o",
            "original_colors_16bit.png",
        ],
        ["original_colors_16bit.png"],
    ),
    "save_style": (
        "stylize",
        [
            "C",
            "S",
            *SMALL,
            "--style-layers",
            "relu2_1,relu3_1",  # a small file: five layers' Grams take 2.4 MB
            "--mode",
            "variant",
            "--variant-seed",
            "7",
            "--save-style",
            "style.safetensors",
            "-o",
            "save_style.png",
        ],
        ["save_style.png", "style.safetensors"],
    ),
    "style_file": (
        "stylize",
        [
            "C",
            "--style-file",
            "style.safetensors",
            *SMALL,
            "--mode",
            "fantasy",
            "--variant-seed",
            "8",
            "-o",
            "style_file.png",
        ],
        ["style_file.png"],
    ),
    "batch": (
        "variants",
        [
            "C",
            "S",
            *SMALL,
            "--mode",
            "variant",
            "--variant-seed",
            "11",
            "--count",
            "3",
            "--batch-size",
            "3",
            "-o",
            "batch",
        ],
        ["batch"],
    ),
    "mutation": (
        "variants",
        ["--mutate", "variant.png", "--amount", "0.3", "--count", "2", "--batch-size", "2", "-q", "-o", "mutation"],
        ["mutation"],
    ),
    "between": (
        "variants",
        ["--between", "variant.png", "variant_b.png", "--count", "1", "-q", "-o", "between"],
        ["between"],
    ),
    "render": (
        "render",
        ["variant.png", "--size", "112", "--iterations", "4", "--scale-iterations", "4", "-q", "-o", "render.png"],
        ["render.png"],
    ),
}


def cpu() -> dict:
    """What the arithmetic depends on: the CPU model and its flags, and torch's version."""
    import torch

    model, flags = "", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and not model:
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = sorted(line.split(":", 1)[1].split())
    except OSError:
        pass
    keep = [f for f in flags if f.startswith(("avx", "amx", "fma", "f16c"))]
    return {"model": model, "flags": keep, "torch": torch.__version__, "threads": torch.get_num_threads()}


def main(out: str = HERE) -> None:
    samples = resources.files("eigenstyle") / "samples"
    work = tempfile.mkdtemp(prefix="golden-")
    try:
        shutil.copy(samples / "tubingen.jpg", os.path.join(work, "C.jpg"))
        shutil.copy(samples / "starry_night.jpg", os.path.join(work, "S.jpg"))
        cases = {}
        for name, (command, args, keep) in CASES.items():
            args = [{"C": "C.jpg", "S": "S.jpg"}.get(a, a) for a in args]
            run = subprocess.run(
                [sys.executable, "-m", "eigenstyle.cli", command, *args], cwd=work, capture_output=True, text=True
            )
            if run.returncode:
                sys.exit(f"{name}: exit {run.returncode}\n{run.stderr}")
            files = []
            for k in keep:
                src = os.path.join(work, k)
                paths = [os.path.join(k, f) for f in sorted(os.listdir(src))] if os.path.isdir(src) else [k]
                files += [p for p in paths if p.endswith((".png", ".safetensors")) and "sheet" not in p]
            cases[name] = {"command": ["eigenstyle", command, *args], "files": files}
            print(name, files, flush=True)
        os.makedirs(os.path.join(out, "files"), exist_ok=True)
        for case in cases.values():
            for f in case["files"]:
                dest = os.path.join(out, "files", f)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copy(os.path.join(work, f), dest)
        import eigenstyle  # the code that made the set: its checkout's commit (a worktree of the base commit)

        where = os.path.dirname(os.path.abspath(eigenstyle.__file__))
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True).stdout.strip()
        with open(os.path.join(out, "manifest.json"), "w") as f:
            json.dump({"commit": commit, "cpu": cpu(), "cases": cases}, f, indent=1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
