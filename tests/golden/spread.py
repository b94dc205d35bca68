"""Measure how far the golden set's recipes move when only the arithmetic changes.

The golden recipes run in fp32 with direct convolutions, but a CPU of another class (AVX2, AVX-512,
AVX-512 BF16, AMX) runs other kernels, which sum in another order; over a few L-BFGS iterations from
noise that rounding grows into visible differences. ``tests/test_golden.py`` compares exactly where the
CPU class matches the set's, and elsewhere within a tolerance taken from this script's measurement:
each case is run again here under every arithmetic path this machine has (fp32 direct as the
recipe says, under each oneDNN / ATen instruction-set cap the CPU allows; fp32 Winograd; bf16), and its
distance from the golden file is written to ``spread.json``::

    python tests/golden/spread.py            # prints the table, writes tests/golden/spread.json

Distances: an image's mean absolute difference as a share of full scale (0-1), a style file's
largest relative Frobenius difference over its Grams. ``test_golden.py`` allows a file
``MARGIN`` times the largest distance any path measured for it (at least ``FLOOR``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)


def caps() -> list[dict]:
    """The instruction-set caps this CPU allows, each an environment (the empty one: the CPU itself)."""
    sys.path.insert(0, TESTS)
    from capped import allowed_caps

    return allowed_caps()


PATHS = {  # name -> (precision, conv); fp32 direct is what the recipes ask for
    "fp32/direct": ("fp32", "direct"),
    "fp32/winograd": ("fp32", "winograd"),
}
# bf16 is measured with --bf16 and reported, not counted: the recipes pin fp32, so no machine runs them in
# bf16 (measured on an AVX2 EPYC, emulated: 0.010-0.30 of full scale, the style file 0.64 apart, 9.5 min)
EXTRA_CAPS = [{"ONEDNN_MAX_CPU_ISA": "SSE41", "ATEN_CPU_CAPABILITY": "default"}]  # other kernels still


def distances(arith: tuple, out: str, **change) -> dict:
    """Run every golden case with ``arith`` (precision, conv) in this process; each file's distance.
    ``change``: options changed on purpose (a behaviour change the tolerance must catch)."""
    import numpy as np
    from safetensors.torch import load_file

    sys.path.insert(0, TESTS)
    import test_golden as tg

    where = tempfile.mkdtemp(prefix="golden-files-")
    import pathlib
    import shutil

    shutil.copytree(os.path.join(HERE, "files"), where, dirs_exist_ok=True)
    where = pathlib.Path(where)
    precision, conv = arith
    found = {}
    for _, file in tg.IMAGES:
        path = os.path.join(HERE, "files", file)
        extra = {}
        if file == "save_style.png":
            extra["save_style"] = os.path.join(out, "style.safetensors")
        result = tg.again(path, where, precision=precision, conv=conv, **change, **extra)
        _, got, want, unit = tg.image_of(result, path, out)
        found[file] = float(np.abs(got.astype(float) - want).mean() / unit)
        if file == "save_style.png":
            found["style.safetensors"] = tg.gram_distance(
                load_file(os.path.join(out, "style.safetensors")),
                load_file(os.path.join(HERE, "files", "style.safetensors")),
            )
    return found


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        precision, conv = sys.argv[2].split("/")
        change = {k: json.loads(v) for k, v in (a.split("=", 1) for a in sys.argv[3:])}
        with tempfile.TemporaryDirectory() as out:
            print(json.dumps(distances((precision, conv), out, **change)))
        return
    sys.path.insert(0, TESTS)
    from golden.make import cpu

    paths = {**PATHS, "bf16/direct": ("bf16", "direct")} if "--bf16" in sys.argv else PATHS
    where = os.path.join(HERE, "spread.json")
    table = json.load(open(where))["distances"] if os.path.exists(where) else {}
    machine = cpu()
    for cap in [{}, *caps(), *EXTRA_CAPS]:
        label = ",".join(f"{k}={v}" for k, v in cap.items()) or "uncapped"
        for name in paths:
            env = {**os.environ, **cap}
            run = subprocess.run(
                [sys.executable, __file__, "--one", name], env=env, capture_output=True, text=True, cwd=TESTS
            )
            if run.returncode:
                sys.exit(f"{label} {name}: exit {run.returncode}\n{run.stderr[-2000:]}")
            found = json.loads(run.stdout.strip().splitlines()[-1])
            key = f"{machine['model']} ({','.join(machine['flags'])}) {label} {name}"
            table[key] = {"counted": name != "bf16/direct", "distances": found}
            print(f"{label:60s} {name:14s} median {median(found):.4f} largest {max(found.values()):.4f}", flush=True)
    with open(where, "w") as f:
        json.dump({"distances": table}, f, indent=1, sort_keys=True)


def median(found: dict) -> float:
    """The median distance of a run's images (the style file apart)."""
    values = sorted(v for k, v in found.items() if k.endswith(".png"))
    return (values[(len(values) - 1) // 2] + values[len(values) // 2]) / 2


if __name__ == "__main__":
    main()
