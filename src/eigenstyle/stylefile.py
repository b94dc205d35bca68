"""Style files: a style found on one photo, reusable on others.

A ``.safetensors`` file holding the (randomised) Gram target of each style
layer as float32 [C, C], exactly as optimised against, plus metadata (source
style hashes, weights identity, layers, mode, seeds, spread, strength) and, for
a randomised style, its swatch (uint8 [H, W, 3] under the key ``swatch``: the
style as a picture). Loading checks every shape, value and the weights identity,
and fails with one line.
"""

from __future__ import annotations

import json
import os

import torch
from PIL import Image

from ._version import __version__
from .errors import EigenstyleError
from .files import atomic_path
from .layers import CHANNELS, LAYER_INDEX
from .randomize import STYLE_OPTIONS
from .values import option_name

FORMAT = "eigenstyle-style"
VERSION = 2  # 2: may carry a swatch
SWATCH = "swatch"


def save_style(path: str, problem) -> str:
    """Write the problem's style targets and their provenance, atomically. A randomised style's swatch
    is made by the caller first (swatch.reach or swatch.given): this only writes."""
    from safetensors.torch import save

    o = problem.opts
    if o.mode != "none" and problem.swatch is None:
        raise ValueError("a randomised style's swatch must be made before its style file is written (swatch.reach)")
    tensors = {
        name: problem.targets.style[name][0].detach().to("cpu", torch.float32).contiguous() for name in o.style_layers
    }
    if problem.swatch is not None:
        import numpy as np

        tensors[SWATCH] = torch.from_numpy(np.array(problem.swatch.convert("RGB"), dtype=np.uint8))
    settings = o.to_dict()
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "eigenstyle": __version__,
        "styles": problem.inputs.get("styles", []),
        "style_file": problem.inputs.get("style_file"),
        "weights": problem.weights.identity(),
        "layers": list(o.style_layers),
        **{name: settings[name] for name in STYLE_OPTIONS},
        "random_layers": list(o.random_layers_value()) if o.mode != "none" else None,
        "target": o.target_value(),  # a plain run's too (its Grams are reachable)
        "size": o.size,
        "style_scale": o.style_scale,
        "randomization": problem.report,
    }
    data = save(tensors, metadata={FORMAT: json.dumps(meta, sort_keys=True)})
    if not path.endswith(".safetensors"):
        raise EigenstyleError(f"{option_name('save_style')}: use a .safetensors file name, got {path}")
    try:
        with atomic_path(path, ".safetensors") as tmp, open(tmp, "wb") as f:
            f.write(data)
    except OSError as e:
        kept = "the previous file is kept unchanged" if os.path.exists(path) else "nothing was written"
        raise EigenstyleError(f"{option_name('save_style')}: cannot write {path}: {e.strerror or e}; {kept}") from None
    return path


def load_style(path: str) -> tuple[dict, dict]:
    """Grams ({layer: [1, C, C] float32}) and metadata of a style file."""
    from safetensors.torch import load

    if not os.path.isfile(path):
        raise EigenstyleError(f"{option_name('style_file')}: no such file: {path}")
    try:
        with open(path, "rb") as f:
            raw = f.read()
        tensors = load(raw)
        from safetensors import safe_open

        with safe_open(path, framework="pt") as f:
            header = f.metadata() or {}
        meta = json.loads(header[FORMAT])
    except Exception as e:  # safetensors raises its own error types for truncated or bad files
        raise EigenstyleError(
            f"{option_name('style_file')}: {path} is not a readable eigenstyle style file ({type(e).__name__})"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise EigenstyleError(f"{option_name('style_file')}: {path} is not an eigenstyle style file")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise EigenstyleError(f"{option_name('style_file')}: {path} has no valid version")
    if version > VERSION:
        raise EigenstyleError(
            f"{option_name('style_file')}: {path} was written by a newer eigenstyle ({meta.get('eigenstyle')})"
        )
    layers = meta.get("layers")
    swatch = tensors.pop(SWATCH, None)
    if swatch is not None and (
        swatch.dtype != torch.uint8 or swatch.ndim != 3 or swatch.shape[2] != 3 or min(swatch.shape[:2]) < 1
    ):
        raise EigenstyleError(f"{option_name('style_file')}: {path}: its swatch is not an 8-bit RGB image")
    if (
        not isinstance(layers, list)
        or not layers
        or not all(isinstance(n, str) for n in layers)
        or len(set(layers)) != len(layers)
        or set(layers) != set(tensors)
    ):
        raise EigenstyleError(f"{option_name('style_file')}: {path}: its layers and tensors do not match")
    grams = {}
    for name in layers:
        g = tensors[name]
        if name not in LAYER_INDEX or tuple(g.shape) != (CHANNELS[name], CHANNELS[name]):
            raise EigenstyleError(
                f"{option_name('style_file')}: {path}: {name} has shape {tuple(g.shape)}, expected "
                f"{CHANNELS.get(name, '?')}x{CHANNELS.get(name, '?')}"
            )
        if g.dtype != torch.float32 or not bool(torch.isfinite(g).all()):
            raise EigenstyleError(f"{option_name('style_file')}: {path}: {name} holds non-finite or non-float32 values")
        grams[name] = g.unsqueeze(0)
    if not isinstance(meta.get("weights"), dict):
        raise EigenstyleError(
            f"{option_name('style_file')}: {path} does not record the network weights it was made with"
        )
    meta["swatch_image"] = None if swatch is None else Image.fromarray(swatch.numpy(), "RGB")
    return grams, meta
