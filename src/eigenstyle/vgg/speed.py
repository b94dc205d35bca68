"""The fastest arithmetic on this machine, chosen by timing it: ``--precision auto`` and ``--conv auto``.

Why: the fastest path depends on the CPU (or GPU) a run meets, and a rule written on one machine
leaves another's fastest path unused. On a 2-core AVX2 CPU without bf16 units Winograd convolutions
beat the library's direct kernels by 1.2-1.4x and bf16 is emulated (~40x slower); on an AMD EPYC with
AVX-512 BF16 the direct kernels got 1.5x faster and bf16 beats both by 1.5-1.9x (docs/benchmarks.md).
So the first run of a kind times each candidate for a few network passes (forward and backward, as
an iteration does) and keeps the fastest, in memory and in the on-disk cache, keyed by device,
instruction set (and caps: tests/capped.py), thread count and torch version. The recipe records the choice
and the timings. A timing is only as good as the quiet it was made in: one made while another job had the
cores (the process got under BUSY of its threads' time) serves its run and is timed again by the next, and
an entry far from the machine's other timings of the same network (FAR per pixel) is timed again.

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
BUSY = 0.75  # a timing during which the process had less of its threads' CPU time was made under load: not kept
FAR = 3.0  # a timing whose time per pixel is this far from the machine's others of the same network is not kept


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


def isa_cap() -> dict:
    """The instruction-set caps set for this process (oneDNN's ONEDNN_MAX_CPU_ISA, ATen's ATEN_CPU_CAPABILITY):
    under them the libraries run the kernels of a smaller CPU, and eigenstyle sees that CPU (tests/capped.py)."""
    return {k: os.environ[k].upper() for k in ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY") if os.environ.get(k)}


def hardware_bf16(device: torch.device) -> bool:
    """bf16 pays only where the hardware has it: CUDA with bf16 support, or a CPU with
    AVX-512 BF16 / AMX (elsewhere PyTorch emulates it, ~40x slower than fp32), not capped below them."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    cap = isa_cap().get("ONEDNN_MAX_CPU_ISA", "ALL")
    capped_below = cap not in ("ALL", "DEFAULT") and not any(w in cap for w in ("BF16", "AMX", "FP16", "AVX10"))
    return device.type == "cpu" and bool(cpu_flags() & {"avx512_bf16", "amx_bf16"}) and not capped_below


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
    key = {
        "device": device.type,
        "name": name,
        "isa": isa,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if device.type == "cpu" and isa_cap():
        key["cap"] = ",".join(f"{k}={v}" for k, v in sorted(isa_cap().items()))
    return key


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
    cached = seconds is not None and set(seconds) == {f"{p}/{c}" for p, c in pairs} and not _far(key, seconds)
    if not cached:
        try:
            seconds, share = time_pairs(build, pairs, device, side)
            if share >= BUSY and _far(key, seconds):  # unlike the machine's other timings: a second opinion
                seconds, share = time_pairs(build, pairs, device, side)
        except (RuntimeError, MemoryError) as e:
            if not is_out_of_memory(e):
                raise
            # too little memory to time the candidates (a tight limit, a full GPU): the plain path,
            # remembered for this process only, so that a later run with room times them
            _MEMO[key] = choice = Choice(*pairs[0])
            return choice
        if share >= BUSY:
            _write(key, seconds)  # else timed under load: for this process only, and timed again by the next
    best = min(seconds, key=seconds.get)
    p, c = best.split("/")
    _MEMO[key] = choice = Choice(p, c, seconds, side, cached)
    return choice


def time_pairs(build, pairs, device: torch.device, side: int) -> tuple[dict, float]:
    """Seconds of one forward+backward pass of each pair's network on a ``side`` px square: the fastest
    of ROUNDS, after one warm-up pass each (it pays one-off costs: oneDNN's kernel creation, the
    Winograd weights' transform). The rounds take the pairs in turn, so that a load that comes and
    goes (another job on the machine) slows every pair alike rather than the ones timed during it; a
    pair 2x slower than the best after a round is not timed again. Also the share of its threads' time
    the process had on a CPU while timing (:func:`cpu_share`: under BUSY, another job had the cores)."""
    x = torch.rand(1, 3, side, side, device=device, generator=torch.Generator(device).manual_seed(0))
    nets = {f"{p}/{c}": build(p, c) for p, c in pairs}
    for net in nets.values():
        checkpoint()  # an observer's stop (the studio's Cancel) between passes: the timing takes seconds
        _pass(net, x, device)
    seconds: dict = {}
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(ROUNDS):
        for name, net in nets.items():
            if name not in seconds or seconds[name] <= 2 * min(seconds.values()):
                checkpoint()
                seconds[name] = min(seconds.get(name, float("inf")), _pass(net, x, device))
    return seconds, cpu_share(time.process_time() - cpu, time.perf_counter() - wall, device)


def cpu_share(cpu_seconds: float, wall_seconds: float, device: torch.device) -> float:
    """The share of its threads' time the process spent on a CPU: near 1 on an idle machine (a pass keeps
    every thread busy), about half with another job on every core. On a GPU the host waits: always 1.

    >>> cpu_share(1.9, 1.0, torch.device("cpu")) if torch.get_num_threads() == 2 else 0.95
    0.95
    """
    if device.type != "cpu" or wall_seconds <= 0:
        return 1.0
    return cpu_seconds / (wall_seconds * min(torch.get_num_threads(), os.cpu_count() or 1))


def _far(key: str, seconds: dict) -> bool:
    """Whether a timing is unlike this machine's others: its fastest time per pixel FAR times (either way)
    from the median of the same machine's and network's entries at other sizes (one made under a load
    that came and went with it). With fewer than two others, which one is odd cannot be told: it stands."""
    mine = json.loads(key)
    same = {k: v for k, v in mine.items() if k not in ("side", "pairs")}
    rates = []
    for other, found in _table().items():
        try:
            theirs = json.loads(other)
        except ValueError:
            continue
        if other != key and isinstance(theirs, dict) and {k: theirs.get(k) for k in same} == same:
            try:
                rates.append(min(found.values()) / theirs["side"] ** 2)
            except (TypeError, ValueError, ZeroDivisionError):  # a damaged entry says nothing
                pass
    if len(rates) < 2:
        return False
    rates.sort()
    typical = rates[len(rates) // 2]
    rate = min(seconds.values()) / mine["side"] ** 2
    return not (typical / FAR <= rate <= typical * FAR)


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


def _table() -> dict:
    """The on-disk cache's entries (key -> seconds), or {}."""
    try:
        with open(_path(), encoding="utf-8") as f:
            table = json.load(f)
        return {k: v for k, v in table.items() if isinstance(v, dict)} if isinstance(table, dict) else {}
    except Exception:
        return {}


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
