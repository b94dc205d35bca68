"""The fastest arithmetic on this machine, chosen by timing it: ``--precision auto`` and ``--conv auto``.

Why: the fastest path depends on the CPU (or GPU) a run meets, and a rule written on one machine
leaves another's fastest path unused. On a 2-core AVX2 CPU without bf16 units Winograd convolutions
beat the library's direct kernels by 1.2-1.4x and bf16 is emulated (~40x slower); on an AMD EPYC with
AVX-512 BF16 the direct kernels got 1.5x faster and bf16 beats both by 1.5-1.9x (docs/benchmarks.md).
So the first run of a kind times each candidate for a few network passes (forward and backward, as
an iteration does) and keeps the fastest, in memory and in the on-disk cache, keyed by device,
instruction set, thread count and torch version. The recipe records the choice and the timings.

Candidates are only paths that give the direct fp32 path's results to float tolerance (Winograd,
tested) or whose results were measured to be as good (bf16: final losses within 2 % of fp32's over
seeds, docs/benchmarks.md). bf16 is a candidate only where the hardware has it (AVX-512 BF16 or AMX
on a CPU, bf16 support on CUDA): timing an emulated bf16 pass would cost tens of seconds to learn
that it loses.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import torch

from ..errors import is_out_of_memory
from ..files import atomic_path
from ..layers import LAYER_INDEX, LAYER_NAMES
from ..stopping import checkpoint
from .cache import cache_dir

FORMAT = "2"  # bump when what is timed changes, so old choices are timed again
ROUNDS = 3  # timed passes per candidate (after one untimed warm-up), taken in turn; the fastest counts
_MEMO: dict = {}  # key -> Choice: one timing per process even without a disk cache


@dataclass(frozen=True)
class Choice:
    """The arithmetic a run uses and why: ``seconds`` holds each timed candidate's forward+backward
    time at ``probe_px`` (empty when the options left only one candidate)."""

    precision: str
    conv: str
    seconds: dict = field(default_factory=dict)
    probe_px: int = 0
    cached: bool = False

    def recipe(self) -> dict:
        """What a recipe records of the choice."""
        if not self.seconds:
            return {"chosen_by": "options"}
        return {
            "chosen_by": "timing",
            "probe_px": self.probe_px,
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            "cached": self.cached,
        }


def _cpuinfo(field: str) -> str:
    """The first /proc/cpuinfo line of ``field`` (its value; empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.split(":", 1)[0].strip() == field:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpu_flags() -> set:
    """The CPU's instruction-set flags."""
    return set(_cpuinfo("flags").split())


def hardware_bf16(device: torch.device) -> bool:
    """bf16 pays only where the hardware has it: CUDA with bf16 support, or a CPU with
    AVX-512 BF16 / AMX (elsewhere PyTorch emulates it, ~40x slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def candidates(precision: str, conv: str, device: torch.device) -> list[tuple[str, str]]:
    """The (precision, conv) pairs the options allow on ``device``, the plain path first.

    >>> candidates("fp32", "direct", torch.device("cpu"))
    [('fp32', 'direct')]
    >>> candidates("fp32", "auto", torch.device("cpu"))
    [('fp32', 'direct'), ('fp32', 'winograd')]
    """
    plain = "tf32" if device.type == "cuda" else "fp32"
    precisions = [plain] + (["bf16"] if hardware_bf16(device) else []) if precision == "auto" else [precision]
    pairs = []
    for p in precisions:
        # Winograd is written for fp32 on a CPU; GPU libraries pick their own algorithms
        convs = ["direct", "winograd"] if p == "fp32" and device.type == "cpu" else ["direct"]
        pairs += [(p, c) for c in convs if conv in ("auto", c)]
    return pairs or [(precisions[0], conv)]  # an impossible pair: the network's check words the error


def probe_side(size: int) -> int:
    """The side of the square timed: the size class of the run (relative speeds shift with size,
    little within a class), at most 384 px so that a first large run waits ~10 s, not a minute."""
    return 128 if size <= 192 else 256 if size <= 384 else 384


def machine_key(device: torch.device) -> dict:
    """What the fastest path depends on besides the network: the device and its instruction set,
    the threads torch uses and torch's version."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        isa = "sm_%d%d" % torch.cuda.get_device_capability(device)
    else:
        name = _cpuinfo("model name") or platform.processor() or platform.machine()
        wanted = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile", "asimd", "sve")
        isa = ",".join(sorted(f for f in cpu_flags() if f in wanted))
    return {
        "device": device.type,
        "name": name,
        "isa": isa,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


def choose(
    build: Callable[[str, str], torch.nn.Module],
    precision: str,
    conv: str,
    device: torch.device,
    size: int,
    deepest: str,
) -> Choice:
    """The fastest of the allowed (precision, conv) pairs for a run of ``size`` px whose deepest
    layer is ``deepest``; ``build(precision, conv)`` makes that network. Timed once per machine
    and size class, then read from memory or the cache."""
    pairs = candidates(precision, conv, device)
    if len(pairs) == 1:
        return Choice(*pairs[0])
    side = probe_side(size)
    key = json.dumps(
        {**machine_key(device), "side": side, "deepest": deepest, "pairs": pairs, "format": FORMAT}, sort_keys=True
    )
    if key in _MEMO:
        return _MEMO[key]
    seconds = _read(key)
    cached = seconds is not None and set(seconds) == {f"{p}/{c}" for p, c in pairs}
    if not cached:
        try:
            seconds = time_pairs(build, pairs, device, side)
        except (RuntimeError, MemoryError) as e:
            if not is_out_of_memory(e):
                raise
            # too little memory to time the candidates (a tight limit, a full GPU): the plain path,
            # remembered for this process only, so that a later run with room times them
            _MEMO[key] = choice = Choice(*pairs[0])
            return choice
        _write(key, seconds)
    best = min(seconds, key=seconds.get)
    p, c = best.split("/")
    _MEMO[key] = choice = Choice(p, c, seconds, side, cached)
    return choice


def time_pairs(build, pairs, device: torch.device, side: int) -> dict:
    """Seconds of one forward+backward pass of each pair's network on a ``side`` px square: the fastest
    of ROUNDS, after one warm-up pass each (it pays one-off costs: oneDNN's kernel creation, the
    Winograd weights' transform). The rounds take the pairs in turn, so that a load that comes and
    goes (another job on the machine) slows every pair alike rather than the ones timed during it; a
    pair 2x slower than the best after a round is not timed again."""
    x = torch.rand(1, 3, side, side, device=device, generator=torch.Generator(device).manual_seed(0))
    nets = {f"{p}/{c}": build(p, c) for p, c in pairs}
    for net in nets.values():
        checkpoint()  # an observer's stop (the studio's Cancel) between passes: the timing takes seconds
        _pass(net, x, device)
    seconds: dict = {}
    for _ in range(ROUNDS):
        for name, net in nets.items():
            if name not in seconds or seconds[name] <= 2 * min(seconds.values()):
                checkpoint()
                seconds[name] = min(seconds.get(name, float("inf")), _pass(net, x, device))
    return seconds


@torch.enable_grad()  # a caller may be in no_grad (the studio's warm-up): an iteration has a backward
def _pass(net, x: torch.Tensor, device: torch.device) -> float:
    img = x.clone().requires_grad_(True)
    _sync(device)
    start = time.perf_counter()
    sum(v.square().mean() for v in net(img).values()).backward()
    _sync(device)
    return time.perf_counter() - start


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def deepest_of(layers) -> str:
    """The deepest of ``layers`` (the one that sets how much of the network runs)."""
    return LAYER_NAMES[max(LAYER_INDEX[name] for name in layers)]


def _path() -> Optional[str]:
    d = cache_dir()
    return None if d is None else os.path.join(d, "speed.json")


def _read(key: str) -> Optional[dict]:
    path = _path()
    try:
        with open(path, encoding="utf-8") as f:
            seconds = json.load(f)[key]
        if (
            isinstance(seconds, dict)
            and seconds
            and all(isinstance(v, (int, float)) and v > 0 for v in seconds.values())
        ):
            return {str(k): float(v) for k, v in seconds.items()}
    except Exception:  # no cache, another machine's entries only, or a damaged file: time again
        pass
    return None


def _write(key: str, seconds: dict) -> None:
    path = _path()
    if path is None:
        return
    try:
        try:
            with open(path, encoding="utf-8") as f:
                table = json.load(f)
            table = table if isinstance(table, dict) else {}
        except Exception:
            table = {}
        table[key] = seconds
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path, ".json", prefix=".tmp-", fsync=False) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(table, f, indent=1, sort_keys=True)
    except Exception:  # a read-only home or a full disk: the choice just is not remembered
        pass
