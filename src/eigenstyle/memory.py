"""Memory: the peak a run used, and a useful answer when a run does not fit.

Running out of memory is the usual way a larger size fails, and the raw error
("CUDA out of memory. Tried to allocate 1.2 GiB ...") does not say what to do.
We turn it into one line with the size that should fit, from a simple model:
memory grows with the pixel count (the activations kept for the backward pass,
plus the optimiser's per-pixel state), which the measured peaks follow (about
2.5 KB a pixel for the activations to relu5_1 on the CPU).
"""

from __future__ import annotations

import math
import os
import resource
from typing import Optional

import torch

from .errors import EigenstyleError
from .layers import LAYER_NAMES, LAYERS
from .values import option_name as n

BACKWARD_FACTOR = 1.25  # activations kept for backward, plus the gradients alive at the peak
HEADROOM = 0.8  # aim the suggestion at 80 % of what is available
# What a run allocates besides its activations and optimiser state, before or after the budget is read:
# Winograd's transformed weights (~200 MB), the loss's temporaries, the allocator's slack. Kept out of
# the room that tiles and the L-BFGS history are chosen for (measured: 1000 px under a 2.7 GB address
# space failed at its first step without it).
RESERVE = 512 * 2**20


def room(budget: int) -> float:
    """The bytes that activations and optimiser state may take of a ``budget``."""
    return max(0.0, HEADROOM * budget - RESERVE)


def peak_memory_mb(device: torch.device) -> float:
    """Peak memory so far: the device allocator's on CUDA, the process's resident peak on the CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def bytes_per_pixel(layers, optimizer: str, lbfgs_history: int) -> float:
    """Bytes per content pixel per image: every layer output up to the deepest
    layer used (conv and ReLU outputs, pool outputs and their indices), plus the
    image-sized optimiser state (L-BFGS keeps 2·history image-sized vectors).
    (Winograd's transformed tiles are worked through in bands of a few MiB.)"""
    return sum(split_bytes_per_pixel(layers, optimizer, lbfgs_history))


def split_bytes_per_pixel(layers, optimizer: str, lbfgs_history: int) -> tuple[float, float]:
    """(the network's activations, the image-sized state) in bytes per pixel: a tiled run needs
    the first only for a tile and its halo, the second for the whole image."""
    deepest = max(LAYER_NAMES.index(n) for n in layers)
    floats, scale = 0.0, 1.0
    for name, channels, _ in LAYERS[: deepest + 1]:
        if name.startswith("pool"):
            scale /= 4
            floats += channels * scale * 3  # output, and int64 indices for max pooling
        else:
            floats += channels * scale
    state = 2 * lbfgs_history + 6 if optimizer == "lbfgs" else 6
    return 4 * BACKWARD_FACTOR * floats, 4 * 3 * state


MIN_HISTORY = 5  # fewer correction pairs and L-BFGS is little better than gradient descent
STATE_SHARE = 0.5  # the most of the budget the image-sized optimiser state may take before history shrinks


def history_for(opts, pixels: int, budget: Optional[int]) -> int:
    """The L-BFGS history in force: the one asked for, else 100 where its image-sized state (2 vectors
    per correction pair) takes at most half the budget's room, else the most pairs that do, at least
    MIN_HISTORY: at print sizes the history, not the network, is what fills the memory (2048 px,
    3.1 MP: 100 pairs are 7.5 GB), and a warm-started fine scale needs few pairs."""
    from .options import LBFGS_HISTORY

    if opts.lbfgs_history is not None:
        return opts.lbfgs_history
    if opts.optimizer != "lbfgs" or not budget:
        return LBFGS_HISTORY
    per_pair = 2 * 3 * 4 * pixels  # two float32 image-sized vectors
    fit = int((STATE_SHARE * room(budget) - 6 * 3 * 4 * pixels) // per_pair)
    return max(MIN_HISTORY, min(LBFGS_HISTORY, fit))


def tile_for(opts, height: int, width: int, budget: int, halo: int, align: int) -> Optional[int]:
    """The tile side a run needs to stay within ``budget`` bytes (its :func:`room`, as the model is
    approximate): the largest side on the pooling grid whose tile, with its halo on both sides,
    fits beside the image-sized state. None when the whole image fits, or when not even tiles
    would: the optimiser's image-sized state alone is too much, or the tile would be smaller than
    its halo (each tile would then compute over 9x its own pixels: hours per iteration)."""
    layers = tuple(opts.content_layers) + tuple(opts.style_layers)
    act, state = split_bytes_per_pixel(layers, opts.optimizer, opts.lbfgs_history)
    free = room(budget)
    if (act + state) * height * width <= free:
        return None
    side = int(math.sqrt(max(0.0, free - state * height * width) / act)) - 2 * halo
    if side < max(align, halo):  # not even in tiles: run whole; out of memory, the message names a size that fits
        return None
    return side // align * align


def available_bytes(device: torch.device) -> Optional[int]:
    """What this process could still allocate: free device memory on CUDA; on the
    CPU the smaller of the system's available memory and an address-space limit."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    limits = []
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        limits.append(int(info["MemAvailable"].split()[0]) * 1024)
    except (OSError, KeyError, ValueError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        try:
            with open("/proc/self/statm") as f:
                used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            limits.append(soft - used)
        except (OSError, ValueError):
            pass
    return max(0, min(limits)) if limits else None


def out_of_memory_error(
    opts, pixels: int, batch: int, device: torch.device, min_side: int, free: Optional[int]
) -> EigenstyleError:
    """The one-line error: what was asked, what was free when the run started
    (measured then: after the failure, the half-built pass still holds memory),
    and a --size that should fit."""
    per_image = bytes_per_pixel(
        tuple(opts.content_layers) + tuple(opts.style_layers), opts.optimizer, opts.lbfgs_history
    )
    need = per_image * pixels * batch
    where = "the GPU" if device.type == "cuda" else "the CPU"
    head = f"out of memory on {where} at {n('size')} {opts.size}"
    head += f" with {batch} images in a batch" if batch > 1 else ""
    if free is None:
        return EigenstyleError(f"{head} (about {need / 2**30:.1f} GiB needed); try a smaller {n('size')}")
    fit = opts.size * math.sqrt(max(0.0, HEADROOM * free) / need)
    size = int(fit // 16 * 16)
    hint = f"{n('size')} {size} should fit" if size >= max(16, min_side) else f"even a small {n('size')} may not fit"
    if batch > 1:
        hint += f"; or use a smaller {n('batch_size')}"
    return EigenstyleError(f"{head} (about {need / 2**30:.1f} GiB needed, {free / 2**30:.1f} GiB free): {hint}")
