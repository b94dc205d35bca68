"""The settings of a run: one typed dataclass, the single source of truth.

Defaults, help texts and neural-style's spellings of every option live here;
the CLI builds its parser from these fields and the README's option table is
checked against them by the tests, so the three cannot drift apart.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Optional

from .errors import EigenstyleError

DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEFAULT_CONTENT_LAYERS = ("relu4_2",)
MODELS = ("vgg19-caffe-q8", "torchvision-vgg19")


def opt(default: Any, help: str, *, alias: tuple[str, ...] = (), choices: tuple = (),
        metavar: Optional[str] = None, differs: str = ""):
    """A field with its CLI metadata. ``differs`` says where and why the default
    departs from neural-style's."""
    meta = {"help": help, "alias": alias, "choices": choices, "metavar": metavar, "differs": differs}
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda: tuple(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class Options:
    """Every setting of a stylisation run, with neural-style's defaults."""

    # --- size and layers ---
    size: int = opt(512, "Longest side of the output image, in pixels.", alias=("-image_size",))
    iterations: int = opt(1000, "Number of optimiser iterations (one loss evaluation each).",
                          alias=("-num_iterations",))
    content_layers: tuple = opt(DEFAULT_CONTENT_LAYERS, "Comma-separated content layers.",
                                alias=("-content_layers",), metavar="LAYERS")
    style_layers: tuple = opt(DEFAULT_STYLE_LAYERS, "Comma-separated style layers (see `eigenstyle list-layers`).",
                              alias=("-style_layers",), metavar="LAYERS")
    # --- loss weights ---
    content_weight: float = opt(5.0, "Weight of the content loss (0 gives pure texture synthesis).",
                                alias=("-content_weight",))
    style_weight: float = opt(100.0, "Weight of the style loss.", alias=("-style_weight",))
    tv_weight: float = opt(1e-3, "Weight of the total-variation smoothing loss (0 disables it).",
                           alias=("-tv_weight",))
    style_blend_weights: Optional[tuple] = opt(
        None, "Comma-separated blend weights, one per style image (normalised to sum 1; default equal).",
        alias=("-style_blend_weights",), metavar="WEIGHTS")
    style_scale: float = opt(1.0, "Style image size relative to --size.", alias=("-style_scale",))
    normalize_gradients: bool = opt(False, "Divide each loss term's gradient by its L1 norm (neural-style's "
                                    "-normalize_gradients).", alias=("-normalize_gradients",))
    # --- initialisation and optimiser ---
    init: str = opt("random", "Start image: 'random' (small noise), 'image' (the content) or a file path.",
                    alias=("-init",), metavar="random|image|PATH")
    seed: Optional[int] = opt(None, "Seed for the random start image; drawn and recorded when not given.",
                              alias=("-seed",))
    optimizer: str = opt("lbfgs", "Optimiser.", alias=("-optimizer",), choices=("lbfgs", "adam"))
    learning_rate: float = opt(1.0, "Step size (L-BFGS) or learning rate (Adam).", alias=("-learning_rate",))
    lbfgs_history: int = opt(100, "Number of correction pairs L-BFGS keeps.", alias=("-lbfgs_num_correction",))
    # --- network ---
    model: str = opt("vgg19-caffe-q8", "Network weights: the embedded 8-bit Caffe VGG-19, or torchvision's "
                     "ImageNet VGG-19 (downloaded through torch.hub).", choices=MODELS,
                     differs="neural-style loads a full-precision Caffe model file by default; eigenstyle "
                     "embeds the same Caffe VGG-19, quantised to 8 bits, so it runs offline with no download.")
    model_file: Optional[str] = opt(None, "Full-precision Caffe-converted VGG-19 state dict (neural-style-pt's "
                                    "vgg19-d01eb7cb.pth format, `features.N.weight`); overrides --model.",
                                    alias=("-model_file",), metavar="PATH")
    pooling: str = opt("max", "Pooling layers of the network.", alias=("-pooling",), choices=("max", "avg"))
    device: str = opt("auto", "Device: auto (CUDA if present, else CPU), cpu, cuda, cuda:N.", alias=("-gpu",),
                      differs="neural-style's -gpu takes an index (default 0, 'c' for CPU); eigenstyle "
                      "picks the GPU when there is one and accepts -gpu c / -gpu N as aliases.")
    # --- output ---
    original_colors: bool = opt(False, "Keep the content's colours (luminance-only transfer).",
                                alias=("-original_colors",))
    print_every: int = opt(50, "Print the losses every N iterations (0: only the progress bar).",
                           alias=("-print_iter",))
    save_every: int = opt(0, "Save an intermediate image every N iterations (0: never).", alias=("-save_iter",),
                          differs="neural-style saves every 100 iterations by default; eigenstyle writes only "
                          "the final image unless asked, to keep folders of variants clean.")

    # ------------------------------------------------------------------
    def validate(self) -> "Options":
        """Check every value; raise :class:`EigenstyleError` with one clear line."""
        from .network import check_layers  # layer names live with the network

        def positive_int(name, value, minimum=1):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise EigenstyleError(f"--{_flag(name)} must be an integer >= {minimum}, got {value!r}")

        def finite(name, value, *, strictly_positive):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise EigenstyleError(f"--{_flag(name)} must be a finite number, got {value!r}")
            if value < 0 or (strictly_positive and value == 0):
                kind = "> 0" if strictly_positive else ">= 0"
                raise EigenstyleError(f"--{_flag(name)} must be {kind}, got {value!r}")

        positive_int("size", self.size, 16)
        positive_int("iterations", self.iterations)
        positive_int("lbfgs_history", self.lbfgs_history)
        positive_int("print_every", self.print_every, 0)
        positive_int("save_every", self.save_every, 0)
        finite("content_weight", self.content_weight, strictly_positive=False)
        finite("style_weight", self.style_weight, strictly_positive=True)
        finite("tv_weight", self.tv_weight, strictly_positive=False)
        finite("style_scale", self.style_scale, strictly_positive=True)
        finite("learning_rate", self.learning_rate, strictly_positive=True)
        if self.style_blend_weights is not None:
            for w in self.style_blend_weights:
                finite("style_blend_weights", w, strictly_positive=False)
            if sum(self.style_blend_weights) <= 0:
                raise EigenstyleError("--style-blend-weights must not all be zero")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)
                                      or not 0 <= self.seed < 2**63):
            raise EigenstyleError(f"--seed must be an integer in [0, 2^63), got {self.seed!r}")
        for name in ("optimizer", "pooling", "model"):
            choices = FIELDS[name].metadata["choices"]
            if getattr(self, name) not in choices:
                raise EigenstyleError(f"--{_flag(name)} must be one of {', '.join(choices)}, "
                                      f"got {getattr(self, name)!r}")
        if not self.style_layers:
            raise EigenstyleError("--style-layers must name at least one layer")
        check_layers(self.content_layers, "--content-layers")
        check_layers(self.style_layers, "--style-layers")
        return self

    def replace(self, **changes) -> "Options":
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise EigenstyleError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "Options":
        """Rebuild from a recipe; unknown keys (from a newer version) are an error, not ignored."""
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise EigenstyleError(f"recipe has options this version does not know: {', '.join(sorted(unknown))}")
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in data.items()})


FIELDS = {f.name: f for f in dataclasses.fields(Options)}


def _flag(name: str) -> str:
    return name.replace("_", "-")
