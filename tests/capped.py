"""Run the numerics-sensitive tests as the other CPU kinds would, on this machine: once under each
instruction-set cap the CPU allows (oneDNN's ``ONEDNN_MAX_CPU_ISA`` and ATen's ``ATEN_CPU_CAPABILITY``)::

    .venv/bin/python tests/capped.py            # every cap this CPU allows, one pytest run each
    .venv/bin/python tests/capped.py -k golden  # extra arguments go to each pytest run

The project's machines are of three kinds: AVX2 only, AVX-512 with BF16 (AMD EPYC), AMX (Intel Xeon).
A cap makes the libraries pick the kernels (and so the rounding) of a smaller instruction set, and
eigenstyle then sees the smaller machine (``vgg.speed.isa_cap``: no bf16 under an AVX2 or AVX-512 cap),
so an AMX machine runs the suite's numerics as an AVX2 one would, with the AVX2 kernels' sums.

What it does not prove: a cap is not the real CPU. It never lifts a machine (an AVX2 machine can
only run the AVX2 cap), it keeps the CPU's own cache sizes and core count, by which oneDNN also
chooses its blocking, and code outside oneDNN and ATen (OpenBLAS, the compiler's own vectorised
loops) still runs the CPU's widest instructions.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

# The tests whose results depend on the arithmetic: the golden set, the loop and its divergence guard,
# the choice of arithmetic, exact tiles and the memory model.
NUMERIC = ["tests/test_golden.py", "tests/test_loop.py", "tests/test_speed.py", "tests/test_tiled.py",
           "tests/test_optim.py", "tests/test_losses.py"]  # fmt: skip

# oneDNN's cap -> (the CPU flags it needs, ATen's capability at that cap)
AVX512 = {"avx512f", "avx512bw", "avx512dq", "avx512vl"}
CAPS = {
    "AVX2": ({"avx2", "fma"}, "avx2"),
    "AVX512_CORE": (AVX512, "avx512"),
    "AVX512_CORE_BF16": (AVX512 | {"avx512_bf16"}, "avx512"),
    "AVX512_CORE_AMX": (AVX512 | {"avx512_bf16", "amx_bf16", "amx_tile"}, "avx512"),
}


def allowed_caps() -> list[dict]:
    """An environment per cap this CPU can run (its own top cap included: the suite as that kind names it)."""
    from eigenstyle.vgg.speed import cpu_flags  # /proc/cpuinfo's flags: one home

    flags = cpu_flags()
    return [
        {"ONEDNN_MAX_CPU_ISA": cap, "ATEN_CPU_CAPABILITY": aten} for cap, (need, aten) in CAPS.items() if need <= flags
    ]


def main(args: list[str]) -> int:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    caps = allowed_caps()
    if not caps:
        print("capped: this CPU allows none of the caps (no AVX2): nothing to run")
        return 0
    failed = []
    for env in caps:
        label = env["ONEDNN_MAX_CPU_ISA"]
        print(f"\n=== {label} (ATEN_CPU_CAPABILITY={env['ATEN_CPU_CAPABILITY']}) ===", flush=True)
        start = time.perf_counter()
        code = subprocess.call(
            [sys.executable, "-m", "pytest", "-q", *NUMERIC, *args], cwd=root, env={**os.environ, **env}
        )
        print(f"=== {label}: exit {code} in {time.perf_counter() - start:.0f} s ===", flush=True)
        if code:
            failed.append(label)
    print("capped runs:", ", ".join(c["ONEDNN_MAX_CPU_ISA"] for c in caps), "- failed:", ", ".join(failed) or "none")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
