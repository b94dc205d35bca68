"""Make the golden set: small runs of every kind, whose recipes must reproduce pixel for pixel.

The set was made from main at the commit named in ``manifest.json`` before the refactoring of
issue 34 (one idea, one place), and ``tests/test_golden.py`` runs each recipe again with the code
of today and compares the pixels. Arithmetic differs between CPUs (fp32 kernels sum in another
order), so the comparison is exact on the CPU the set was made on, and on each CPU whose fingerprints
(the pixels' and Grams' hashes) were recorded *from that commit* in ``exact.json``; elsewhere it is
within the tolerance measured by ``spread.py``. To record another CPU's fingerprints::

    git worktree add /tmp/golden-base <commit>
    PYTHONPATH=/tmp/golden-base/src python tests/golden/make.py --exact

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
    found = {"model": model, "flags": keep, "torch": torch.__version__, "threads": torch.get_num_threads()}
    caps = {k: os.environ[k] for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY") if os.environ.get(k)}
    return {**found, "caps": caps} if caps else found  # a capped run rounds as another CPU (tests/capped.py)


def fingerprint(path: str) -> str:
    """The sha256 of a golden file's content: an image's pixels as stored (8 or 16 bits; not its recipe,
    which names paths and versions), a style file's tensors."""
    import hashlib

    import numpy as np

    h = hashlib.sha256()
    if path.endswith(".png"):
        import png

        w, height, rows, _ = png.Reader(filename=path).asRGB()
        h.update(np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).tobytes())
    else:
        from safetensors.numpy import load_file

        for k, v in sorted(load_file(path).items()):
            h.update(k.encode() + v.tobytes())
    return h.hexdigest()


def exact() -> None:
    """Make the set on this CPU (from the eigenstyle on PYTHONPATH: the set's commit) and record its
    fingerprints for this CPU in exact.json. A case that reads an earlier case's file (a style file, a
    favourite to mutate or render) reads the golden one, as test_golden.py's runs do."""
    manifest = json.load(open(os.path.join(HERE, "manifest.json")))
    if commit_of_eigenstyle() != manifest["commit"]:
        sys.exit(
            f"eigenstyle here is {commit_of_eigenstyle()}, not the set's commit {manifest['commit']}: see this doc"
        )
    golden = {f for case in manifest["cases"].values() for f in case["files"]}
    sha = {}

    def keep(work: str, files: list) -> None:
        sha.update({f: fingerprint(os.path.join(work, f)) for f in files})

    def before(work: str, args: list) -> None:
        made = {args[i + 1] for i, a in enumerate(args) if a in ("-o", "--save-style")}
        for a in args:
            if a in golden and a not in made:
                shutil.copy(os.path.join(HERE, "files", a), os.path.join(work, a))

    from eigenstyle.recipe import read_recipe

    # the folder the set was made in: the golden favourites' recipes name their inputs there
    made_in = os.path.dirname(read_recipe(os.path.join(HERE, "files", "variant.png"))["content"]["path"])
    if os.path.exists(made_in):
        sys.exit(f"{made_in} exists: the set's folder is needed to make it again")
    os.makedirs(made_in)
    run_cases(keep, before, made_in)
    where = os.path.join(HERE, "exact.json")
    table = json.load(open(where)) if os.path.exists(where) else []
    table = [t for t in table if t["cpu"] != cpu()] + [{"cpu": cpu(), "sha256": sha}]
    with open(where, "w") as f:
        json.dump(table, f, indent=1)


def commit_of_eigenstyle() -> str:
    """The commit of the eigenstyle imported (a worktree of the set's commit on PYTHONPATH)."""
    import eigenstyle

    where = os.path.dirname(os.path.abspath(eigenstyle.__file__))
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True).stdout.strip()


def run_cases(after, before=lambda work, args: None, work: str = "") -> dict:
    """Run every case in a fresh folder (``work``, made and removed), in order; ``before(work, args)`` ahead
    of each, ``after(work, files)`` with the files it keeps. Returns the cases' commands and files."""
    samples = resources.files("eigenstyle") / "samples"
    work = work or tempfile.mkdtemp(prefix="golden-")
    try:
        shutil.copy(samples / "tubingen.jpg", os.path.join(work, "C.jpg"))
        shutil.copy(samples / "starry_night.jpg", os.path.join(work, "S.jpg"))
        cases = {}
        for name, (command, args, keep) in CASES.items():
            args = [{"C": "C.jpg", "S": "S.jpg"}.get(a, a) for a in args]
            before(work, args)
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
            after(work, files)
            print(name, files, flush=True)
        return cases
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(out: str = HERE) -> None:
    def copy(work: str, files: list) -> None:
        for f in files:
            dest = os.path.join(out, "files", f)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy(os.path.join(work, f), dest)

    cases = run_cases(copy)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"commit": commit_of_eigenstyle(), "cpu": cpu(), "cases": cases}, f, indent=1)


if __name__ == "__main__":
    exact() if sys.argv[1:] == ["--exact"] else main(*sys.argv[1:])
