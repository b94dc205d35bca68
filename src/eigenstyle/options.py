"""The settings of a run: one typed dataclass, the single source of truth.

Defaults, help texts and neural-style's spellings of every option live here;
the CLI builds its parser from these fields and the README's option table is
checked against them by the tests, so the three cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from . import modes
from .errors import EigenstyleError
from .values import USES, check, complete_kinds, opt, option_name, parse

DEFAULT_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEFAULT_CONTENT_LAYERS = ("relu4_2",)
MODELS = ("vgg19-caffe-q8", "torchvision-vgg19")
FANTASY_DRAWS = ("uniform", "normal", "signed-uniform")
GRAM_SCALES = ("frobenius", "trace", "none")
TARGETS = ("reachable", "raw")
SWATCH_PADDINGS = ("circular", "zeros")
SWATCH_LAYERS = ("randomised", "all")
MULTI_LAYER_STYLE_WEIGHT = 100.0
SWATCH_SIDE = 128  # the default swatch's side (at most --size): docs/quality.md
LBFGS_HISTORY = 100  # neural-style's; the auto history where it fits (memory.history_for)

# Default style weight when a single style layer is used: the weight at which that layer's style
# loss from a blank start equals the five-layer default's (100 · Σ mean(G²) over relu1_1..relu5_1 /
# mean(G_layer²)), measured on the 5 bundled/shared styles at 256 px: stable within 1.5x across them,
# and it reproduces the 18x relu3_2/relu3_3 ratio of the findings. Table: docs/layers.md.
SINGLE_LAYER_STYLE_WEIGHT = {
    "relu1_1": 3e5,
    "relu1_2": 6e2,
    "relu2_1": 2.4e3,
    "relu2_2": 1.8e3,
    "relu3_1": 5.4e3,
    "relu3_2": 2.5e3,
    "relu3_3": 1.4e2,
    "relu3_4": 2e1,
    "relu4_1": 1.1e2,
    "relu4_2": 5.5e2,
    "relu4_3": 7.9e3,
    "relu4_4": 6.8e5,
    "relu5_1": 8.8e5,
}


@dataclass
class Options:
    """Every setting of a stylisation run, with neural-style's defaults."""

    size: int = opt(
        512,
        "Longest side of the output image, in pixels.",
        alias=("-image_size",),
        low=16,
        group="size and layers",
        uses=("prepare", "studio"),
    )
    margin: int = opt(
        0,
        "Paint N px more on every side, the photograph reflected into them, and crop them away: the picture's "
        "edge is then no edge of the run, whose zero-padded convolutions paint a frame darker or lighter than "
        "the rest there. The studio's tiles use 12 at 128 px, in proportion at other sizes (docs/quality.md). "
        "Not with --scales.",
        metavar="N",
        low=0,
        group="size and layers",
        uses=("prepare",),
    )
    iterations: int = opt(
        1000,
        "Number of optimiser iterations (one loss evaluation each).",
        alias=("-num_iterations",),
        low=1,
        group="size and layers",
        uses=("studio",),
    )
    stop_at: float = opt(
        0.0,
        "Stop before --iterations once the picture stops changing: when the total loss changed by less than this "
        "fraction over the last 10 iterations (of every image of a batch), e.g. 0.002. The recipe records the "
        "iteration it stopped at (converged_at). 0: run every iteration, as neural-style.",
        low=0,
        high=1,
        group="size and layers",
    )
    content_layers: tuple = opt(
        DEFAULT_CONTENT_LAYERS,
        "Comma-separated content layers.",
        alias=("-content_layers",),
        metavar="LAYERS",
        kind="layers",
        group="size and layers",
        uses=("prepare",),
    )
    style_layers: tuple = opt(
        DEFAULT_STYLE_LAYERS,
        "Comma-separated style layers (see `eigenstyle list-layers`).",
        alias=("-style_layers",),
        metavar="LAYERS",
        kind="layers",
        group="size and layers",
        uses=("prepare", "studio"),
    )
    content_weight: float = opt(
        5.0,
        "Weight of the content loss (0 gives pure texture synthesis).",
        alias=("-content_weight",),
        low=0,
        group="loss weights",
        uses=("studio",),
    )
    style_weight: Optional[float] = opt(
        None,
        "Weight of the style loss. Default (auto): 100, or with a single style layer that layer's "
        "balanced weight (docs/options.md); with the raw target (fantasy and random) 0.3x that, 0.6x with "
        "several style layers.",
        alias=("-style_weight",),
        differs="neural-style's default is 100 whatever the layers; eigenstyle keeps 100 for several style "
        "layers and uses a measured per-layer weight for a single layer, whose scale differs by up to 1e4x.",
        low=0,
        strict=True,
        group="loss weights",
        uses=("studio",),
    )
    tv_weight: float = opt(
        1e-3,
        "Weight of the total-variation smoothing loss (0 disables it).",
        alias=("-tv_weight",),
        low=0,
        group="loss weights",
        uses=("studio",),
    )
    chroma_tv_weight: Optional[float] = opt(
        None,
        "Weight of a total-variation loss on the colour alone (Cb and Cr): calms coloured speckle and leaves "
        "light and dark strokes free. Default (auto): 0.05 for fantasy and random with the raw target, whose "
        "unreachable Grams leave speckle; 0 otherwise (docs/quality.md).",
        low=0,
        group="loss weights",
    )
    style_layer_weights: Optional[tuple] = opt(
        None,
        "Comma-separated factors, one per style layer, on each layer's weight: with the auto style weight each "
        "layer's own balanced weight (the one it has alone), so relu3_2,relu3_3 at 1,0 is the relu3_2 run, 0,1 "
        "the relu3_3 run and 0.5,0.5 an even mix of their strokes; with --style-weight W, W times the factor. "
        "A layer at 0 costs no network work past the other layers'.",
        alias=("-style_layer_weights",),
        differs="not in neural-style; a fork's -style_layer_weights multiplies the style weight per layer, as "
        "eigenstyle does with --style-weight given.",
        metavar="FACTORS",
        kind="floats",
        low=0,
        group="loss weights",
        uses=("prepare", "studio"),  # prepare times the arithmetic on the layers computed
    )
    style_blend_weights: Optional[tuple] = opt(
        None,
        "Comma-separated blend weights, one per style image (normalised to sum 1; default equal).",
        alias=("-style_blend_weights",),
        metavar="WEIGHTS",
        kind="floats",
        low=0,
        group="loss weights",
        uses=("prepare",),
    )
    style_scale: float = opt(
        1.0,
        "Style image size relative to --size.",
        alias=("-style_scale",),
        low=0,
        strict=True,
        group="loss weights",
        uses=("prepare",),
    )
    normalize_gradients: bool = opt(
        False,
        "Divide each loss term's gradient by its L1 norm (neural-style's -normalize_gradients).",
        alias=("-normalize_gradients",),
        group="loss weights",
    )
    mask: Optional[tuple] = opt(
        None,
        "Regions of the picture, each with its own style (--region): one picture whose flat colours are the "
        "regions (named red, white, ... or #rrggbb), or this option again for each of several grey masks (named "
        "by their files: sky.png is sky; what none covers is rest). The content's shape, any size.",
        metavar="MASK",
        kind="texts",
        group="regions",
        uses=("prepare",),
    )
    region: Optional[tuple] = opt(
        None,
        "A region's style, NAME=STYLE, once per region: none (the photograph's own look), plain (the style "
        "image), style (the run's style, --mode and all), variant:N, fantasy:N or random:N (that randomisation "
        "of the style, its own swatch), a style image or a .safetensors style file (docs/regions.md).",
        metavar="NAME=STYLE",
        kind="texts",
        group="regions",
        uses=("prepare",),  # the studio takes a region's style by its own field (actions.with_regions): never a path
    )
    mask_blur: float = opt(
        0.0,
        "0: at each layer, each position is wholly the region covering most of it, and the network's receptive "
        "fields blend the styles over a few px (no seam, no halo: docs/regions.md). PX > 0: a wider edge that "
        "the regions share, each mask blurred by PX (a Gaussian's sigma, in px of the picture).",
        metavar="PX",
        low=0,
        group="regions",
        uses=("prepare",),
    )
    scales: Optional[tuple] = opt(
        None,
        "Coarse-to-fine: smaller sizes to run first, ascending, e.g. 128,256; "
        "each scale starts from the previous result, upscaled, and the last run is "
        "at --size.",
        metavar="SIZES",
        kind="ints",
        low=16,
        group="coarse to fine",
    )
    scale_iterations: Optional[int] = opt(
        None, "Iterations at each coarser scale (default: --iterations).", low=1, group="coarse to fine"
    )
    anchor_weight: float = opt(
        0.0,
        "How firmly each scale of a coarse-to-fine run keeps the image it started from: the scale's result, "
        "reduced to the size of the one before (for the first scale, of the --init image) and blurred there, is "
        "held to it, so a finer scale adds detail without repainting the picture. 0: free. `eigenstyle render` "
        "uses 1e4 (docs/render.md).",
        low=0,
        group="coarse to fine",
    )
    reference_size: Optional[int] = opt(
        None,
        "The size a randomised style was found at (a favourite's, when it is rendered at another --size): its "
        "swatch is made at this size, as the favourite's was, and the run's targets are the swatch's Grams with "
        "the swatch scaled by --size / this, so the strokes keep their size relative to the picture. "
        "Default: --size. Set by `eigenstyle render`.",
        low=16,
        group="coarse to fine",
    )
    init: Optional[str] = opt(
        None,
        "Start image: 'random' (small noise), 'image' (the content) or a file path. Default (auto): noise, "
        "for every mode.",
        alias=("-init",),
        metavar="random|image|PATH",
        group="start and optimiser",
        uses=("studio",),
    )
    seed: Optional[int] = opt(
        None,
        "Seed for the random start image; drawn and recorded when not given.",
        alias=("-seed",),
        kind="seed",
        group="start and optimiser",
        uses=("studio",),
    )
    optimizer: str = opt(
        "lbfgs",
        "Optimiser.",
        alias=("-optimizer",),
        choices=("lbfgs", "adam"),
        group="start and optimiser",
        uses=("prepare",),
    )
    learning_rate: float = opt(
        1.0,
        "Step size (L-BFGS) or learning rate (Adam).",
        alias=("-learning_rate",),
        low=0,
        strict=True,
        group="start and optimiser",
    )
    lbfgs_history: Optional[int] = opt(
        None,
        "Number of correction pairs L-BFGS keeps. Default (auto): 100, fewer where the image-sized history "
        "would take more than half the memory budget (large sizes; see --max-memory), at least 5.",
        alias=("-lbfgs_num_correction",),
        low=1,
        differs="neural-style keeps 100 at any size; at print sizes 100 image-sized vectors alone exceed a "
        "machine's memory (2048 px: 7.5 GB), so eigenstyle keeps fewer there.",
        group="start and optimiser",
        uses=("prepare",),
    )
    model: str = opt(
        "vgg19-caffe-q8",
        "Network weights: the embedded 8-bit Caffe VGG-19, or torchvision's "
        "ImageNet VGG-19 (downloaded through torch.hub).",
        choices=MODELS,
        differs="neural-style loads a full-precision Caffe model file by default; eigenstyle "
        "embeds the same Caffe VGG-19, quantised to 8 bits, so it runs offline with no download.",
        group="network and arithmetic",
        uses=("prepare",),
    )
    model_file: Optional[str] = opt(
        None,
        "Full-precision Caffe-converted VGG-19 state dict (neural-style-pt's "
        "vgg19-d01eb7cb.pth format, `features.N.weight`); overrides --model.",
        alias=("-model_file",),
        metavar="PATH",
        group="network and arithmetic",
        uses=("prepare",),
    )
    pooling: str = opt(
        "max",
        "Pooling layers of the network.",
        alias=("-pooling",),
        choices=("max", "avg"),
        group="network and arithmetic",
        uses=("prepare",),
    )
    precision: str = opt(
        "auto",
        "Arithmetic of the network: fp32, tf32 (CUDA matmuls), bf16 (autocast convolutions; Grams, "
        "losses and optimiser stay fp32; its final losses are within 2 % of fp32's) or auto (the "
        "fastest on this machine, timed once: bf16 where the hardware has it and it wins, else fp32, "
        "tf32 on CUDA). fp32 reproduces neural-style's arithmetic.",
        choices=("fp32", "tf32", "bf16", "auto"),
        differs="neural-style runs fp32 only.",
        group="network and arithmetic",
        uses=("prepare",),
    )
    conv: str = opt(
        "auto",
        "Convolution algorithm: direct, winograd (F(4x4,3x3) for the layers with >= 256 "
        "input channels: a quarter of the multiplications, results within ~3e-6 of direct; fp32 "
        "on a CPU) or auto (the fastest on this machine, timed once with --precision auto).",
        choices=("auto", "direct", "winograd"),
        differs="neural-style always runs the library's direct convolutions.",
        group="network and arithmetic",
        uses=("prepare",),
    )
    tile: Optional[int] = opt(
        None,
        "Evaluate the network in tiles of this side (pixels, each with its context), for images too large to "
        "run whole: the losses and gradient are exact (equal to an untiled run's to float precision). "
        "Default: untiled.",
        low=16,
        group="network and arithmetic",
        uses=("prepare",),
    )
    max_memory: Optional[float] = opt(
        None,
        "Memory budget in GiB for choosing tiles: when the whole image would not fit, the run is evaluated in "
        "the largest tiles that do (see --tile). Default: what the machine has free.",
        low=0,
        strict=True,
        group="network and arithmetic",
        uses=("prepare",),
    )
    device: str = opt(
        "auto",
        "Device: auto (CUDA if present, else CPU), cpu, cuda, cuda:N.",
        alias=("-gpu",),
        differs="neural-style's -gpu takes an index (default 0, 'c' for CPU); eigenstyle "
        "picks the GPU when there is one and accepts -gpu c / -gpu N as aliases.",
        group="network and arithmetic",
        uses=("prepare",),
    )
    original_colors: bool = opt(
        False,
        "Keep the content's colours (luminance-only transfer).",
        alias=("-original_colors",),
        group="output",
    )
    print_every: int = opt(
        50,
        "Print the losses every N iterations (0: only the progress bar).",
        alias=("-print_iter",),
        low=0,
        group="output",
    )
    save_every: int = opt(
        0,
        "Save an intermediate image every N iterations (0: never).",
        alias=("-save_iter",),
        differs="neural-style saves every 100 iterations by default; eigenstyle writes only "
        "the final image unless asked, to keep folders of variants clean.",
        low=0,
        group="output",
    )
    bit_depth: int = opt(
        8,
        "Bits per channel of PNG and TIFF outputs: 8, or 16 to keep the optimiser's float image "
        "without 8-bit rounding (for print and further editing). JPEG is always 8-bit.",
        choices=(8, 16),
        group="output",
    )

    mode: str = opt(
        "none",
        "Gram randomisation: none (plain neural style) or a mode of eigenstyle.modes: variant (eigenvectors "
        "times U[spread]), fantasy (random eigenvectors), random (a random Gram), ... (docs/options.md).",
        choices=modes.NAMES,
        group="randomised styles",
        uses=("style", "studio"),
    )
    spread: tuple = opt(
        (0.1, 1.9),
        "Range lo,hi of the variant multipliers.",
        metavar="LO,HI",
        kind="floats",
        group="randomised styles",
        uses=("style", "studio"),
    )
    keep_top: Optional[int] = opt(
        None,
        "Variant: the K eigenvectors of largest eigenvalue stay unbent (they carry a single layer's big strokes). "
        "0: every one is bent, as the article does. Default (auto): 1 with a single style layer, whose variants "
        "kept 0.53-0.66x plain's big strokes fully bent and 0.74-0.83x so; 0 with several, whose deep layers "
        "are not bent (docs/quality.md).",
        metavar="K",
        kind="int",
        group="randomised styles",
        uses=("style",),
    )
    palette_turn: Optional[float] = opt(
        None,
        "The swatch's colours turned round the colour wheel by up to +-DEG degrees (each genome its own angle, "
        "times --strength; luminance kept): a palette of its own for each variant. Default (auto): 15 for "
        "variants at a single style layer, whose palette lives in the eigenvector --keep-top keeps for the "
        "strokes (1.6-2.0x plain's colour spread without it, 4.5x with it at 384 px); 0 otherwise "
        "(docs/quality.md). Needs the reachable target (a swatch).",
        metavar="DEG",
        kind="float",
        group="randomised styles",
        uses=("style",),
    )
    fantasy: str = opt(
        "uniform",
        "Fantasy eigenvector draw: uniform U[0,1) (colourful), normal or "
        "signed-uniform U[-1,1) (zero-mean: bleak, grey).",
        choices=FANTASY_DRAWS,
        group="randomised styles",
        uses=("style", "studio"),
    )
    symmetric: bool = opt(
        False,
        "Random mode: a random symmetric PSD matrix instead of a plain random one.",
        group="randomised styles",
        uses=("style",),
    )
    strength: float = opt(
        1.0,
        "Blend between the style's Gram (0) and the randomised one (1).",
        low=0,
        high=1,
        group="randomised styles",
        uses=("style", "studio"),
    )
    random_layers: Optional[tuple] = opt(
        None,
        "Style layers to randomise. Default (auto): the mode's: for variants the style layers of VGG's first "
        "three blocks (relu1_1..relu3_4; all of them if there is none), whose colours and small strokes they "
        "bend, while the deeper layers keep the painting's big forms (docs/quality.md); all for the others.",
        metavar="LAYERS",
        kind="layers",
        group="randomised styles",
        uses=("style",),
    )
    eigenvalue_layers: Optional[tuple] = opt(
        None,
        "Style layers outside --random-layers whose eigenvalues a randomised style bends, each times U[--spread], "
        "their eigenvectors kept (the eigenvalues mode): the painting's own strokes and forms at other "
        "strengths, where bending the eigenvectors would lose them (the deep layers). Default: none.",
        metavar="LAYERS",
        kind="layers",
        group="randomised styles",
        uses=("style",),
    )
    gram_scale: str = opt(
        "frobenius",
        "Scale the randomised Gram to the original's Frobenius norm or trace "
        "(or not at all), so the style weight keeps its meaning.",
        choices=GRAM_SCALES,
        group="randomised styles",
        uses=("style",),
    )
    target: Optional[str] = opt(
        None,
        "What a randomised run optimises against: reachable (synthesise the randomised style's texture "
        "first, the swatch, and use its Grams: the style's texture, cleanly) or raw (the randomised Gram "
        "itself, as the seed article did: out of reach, colourful and far-out). Default (auto): reachable "
        "for variants; raw for fantasy and random, at 0.3x the balanced style weight (0.6x with several "
        "style layers) and with --chroma-tv-weight (docs/quality.md).",
        choices=TARGETS,
        group="randomised styles",
        uses=("style", "studio"),
    )
    swatch_size: Optional[int] = opt(
        None,
        "Side of the square swatch (the randomised style's picture), in pixels; default: --size, at most 128.",
        low=16,
        group="swatch",
        uses=("style", "studio"),
    )
    swatch_iterations: int = opt(
        100, "Iterations of the swatch synthesis.", low=1, group="swatch", uses=("style", "studio")
    )
    swatch_padding: str = opt(
        "circular",
        "How the swatch's synthesis sees its border: circular (the swatch is one period of an endless "
        "texture: no frame, it tiles seamlessly, and its Grams carry no border) or zeros (the network's zero "
        "padding, which gives the swatch a darker frame; recipes from before this option).",
        choices=SWATCH_PADDINGS,
        group="swatch",
        uses=("style",),
    )
    swatch_layers: str = opt(
        "randomised",
        "With a reachable target, which style layers optimise against the swatch's Grams: randomised (those of "
        "--random-layers; the others keep the style image's own Grams, and with them the painting's big forms, "
        "which a small swatch does not have) or all (every layer from the swatch; recipes from before this "
        "option). The same whenever every style layer is randomised.",
        choices=SWATCH_LAYERS,
        group="swatch",
        uses=("style",),
    )
    swatch_chroma_blur: Optional[float] = opt(
        None,
        "Blur the swatch's colour (its Cb and Cr, Gaussian sigma in pixels, wrapping round) before its Grams "
        "are taken, leaving its light and dark strokes as they are: a fantasy's or random Gram's swatch carries "
        "a fine coloured checker that every result would copy. Default (auto): 2 for fantasy and random, 0 "
        "(off) for variants (docs/quality.md).",
        low=0,
        group="swatch",
        uses=("style",),
    )
    variant_seed: Optional[int] = opt(
        None,
        "Seed of the randomisation, independent of --seed; drawn and recorded when not given.",
        kind="seed",
        group="randomised styles",
        uses=("style", "batch", "studio"),
    )
    levels: Optional[str] = opt(
        None,
        "Level adjustment: auto (0.5 % per-channel percentile stretch), a clip "
        "percentage, or none. Default: auto for fantasy and random, none otherwise. "
        "The raw image is kept as NAME.raw.png.",
        metavar="auto|none|P",
        group="output",
        uses=("studio",),
    )
    style_file: Optional[str] = opt(
        None,
        "Use the Gram targets saved in this .safetensors style file "
        "(see --save-style) instead of style images; its layers become the style "
        "layers, and --mode randomises on top of it.",
        metavar="FILE",
        group="randomised styles",
        uses=("prepare",),
    )
    genome: Optional[dict] = opt(
        None,
        "Lineage of a mutated or in-between variant (set by --mutate/--between; recorded in recipes).",
        cli=False,
        group="randomised styles",
        uses=("style", "batch"),
    )

    # ------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, values: dict, base: Optional["Options"] = None) -> "Options":
        """Validated options from ``values`` over ``base`` (default: the defaults): the one way in for
        the CLI, the studio and the API. Text values (a command line, a web form) are read by each
        field's kind; other values are taken as they are. Every key given is set, None included."""
        unknown = set(values) - set(FIELDS)
        if unknown:
            raise EigenstyleError(f"unknown option(s): {', '.join(sorted(unknown))}")
        typed = {}
        for name, value in values.items():
            kind = FIELDS[name].metadata["kind"]
            if isinstance(value, str) and kind not in ("text", "choice"):
                try:
                    value = parse(kind, value)
                except ValueError as e:
                    raise EigenstyleError(f"{option_name(name)}: {e}") from None
            elif isinstance(value, (list, tuple)):  # a JSON list; a form may send its numbers as text
                try:
                    value = tuple(
                        parse(kind[:-1], v) if isinstance(v, str) and kind in ("ints", "floats") else v for v in value
                    )
                except ValueError as e:
                    raise EigenstyleError(f"{option_name(name)}: {e}") from None
            typed[name] = value
        return (base or cls()).replace(**typed).validate()

    def validate(self) -> "Options":
        """Check every value and the relations between them; raise :class:`EigenstyleError` with one
        clear line. Each field's own check comes from its kind and bounds (values.check)."""
        from .layers import check_layers
        from .levels import parse_levels

        for name, f in FIELDS.items():
            check(name, getattr(self, name), f.metadata)
        n = option_name
        if self.margin and (self.scales or 4 * self.margin > self.size):
            raise EigenstyleError(
                f"{n('margin')} {self.margin} must be at most a quarter of {n('size')} {self.size}"
                if not self.scales
                else f"{n('margin')} goes with a run at one size, not with {n('scales')}"
            )
        if self.scales is not None and (
            not self.scales or list(self.scales) != sorted(set(self.scales)) or self.scales[-1] >= self.size
        ):
            raise EigenstyleError(
                f"{n('scales')} must be ascending sizes below {n('size')} {self.size}, "
                f"got {','.join(map(str, self.scales))}"
            )
        if self.style_blend_weights is not None and sum(self.style_blend_weights) <= 0:
            raise EigenstyleError(f"{n('style_blend_weights')} must not all be zero")
        if not self.style_layers:
            raise EigenstyleError(f"{n('style_layers')} must name at least one layer")
        if bool(self.mask) != bool(self.region):
            raise EigenstyleError(
                f"{n('mask')} goes with {n('region')}: the mask names the regions, {n('region')} gives each its style"
                if self.mask
                else f"{n('region')} needs {n('mask')}, the picture that names the regions"
            )
        if self.mask:
            from .regions import specs_of

            specs_of(self)
        if self.style_layer_weights is not None:
            if len(self.style_layer_weights) != len(self.style_layers):
                raise EigenstyleError(
                    f"{n('style_layer_weights')} has {len(self.style_layer_weights)} factors for "
                    f"{len(self.style_layers)} style layers ({','.join(self.style_layers)})"
                )
            if not any(self.style_layer_weights):
                raise EigenstyleError(f"{n('style_layer_weights')} must not all be zero")
        check_layers(self.content_layers, n("content_layers"))
        check_layers(self.style_layers, n("style_layers"))
        if self.keep_top is not None and (
            isinstance(self.keep_top, bool) or not isinstance(self.keep_top, int) or self.keep_top < 0
        ):
            raise EigenstyleError(f"{n('keep_top')} must be an integer >= 0, got {self.keep_top!r}")
        if self.palette_turn is not None and not 0 <= self.palette_turn <= 180:
            raise EigenstyleError(f"{n('palette_turn')} must be 0-180 degrees, got {self.palette_turn:g}")
        if len(self.spread) != 2:
            raise EigenstyleError(f"{n('spread')} must be two numbers lo,hi, got {self.spread!r}")
        if self.spread[0] > self.spread[1]:
            raise EigenstyleError(f"{n('spread')} lo,hi needs lo <= hi, got {self.spread[0]},{self.spread[1]}")
        for field_name in ("random_layers", "eigenvalue_layers"):  # a subset of the style layers, when given
            chosen = getattr(self, field_name)
            if chosen is not None:
                check_layers(chosen, n(field_name))
                outside = [layer for layer in chosen if layer not in self.style_layers]
                if outside:
                    raise EigenstyleError(f"{n(field_name)} {','.join(outside)} not among {n('style_layers')}")
        parse_levels(self.levels)
        return self

    def settled(self, prepared: Optional["Options"] = None) -> "Options":
        """These options with every auto value filled in, so that the recipe records what ran and the loop,
        tiles and losses read plain fields. The one place auto values are settled (problem.vary calls it,
        once the style source is read): from ``prepared``, the options problem.prepare settled (a style
        file's layers, the arithmetic, the L-BFGS history and tiles it chose for the device and size), and
        then from the options themselves (the start image, the target, the colour TV, the swatch's colour
        blur, the style weight: each mode's defaults, modes.Mode).

        >>> o = Options(mode="fantasy", style_layers=("relu3_2",)).settled()
        >>> (o.init, o.target, o.chroma_tv_weight, o.style_weight) == ("random", "raw", 0.05, 750.0)
        True
        """
        o = self
        if prepared is not None:
            o = o.replace(
                style_layers=prepared.style_layers if o.style_file else o.style_layers,
                tile=o.tile if o.tile is not None else prepared.tile,
                lbfgs_history=o.lbfgs_history if o.lbfgs_history is not None else prepared.lbfgs_history,
                precision=prepared.precision if o.precision == "auto" else o.precision,
                conv=prepared.conv if o.conv == "auto" else o.conv,
            )
        if o.region:  # a run with regions: each region settles its style's values itself (problem.vary), the run
            return o.replace(init=o.init_value(), chroma_tv_weight=o.chroma_tv_weight_value())  # its pixels' own
        randomised = o.mode != "none"
        o = o.replace(
            init=o.init_value(),
            target=o.target_value() if randomised else o.target,
            swatch_chroma_blur=o.swatch_chroma_blur_value() if randomised else o.swatch_chroma_blur,
            keep_top=o.keep_top_value() if randomised else o.keep_top,
            palette_turn=o.palette_turn_value() if randomised else o.palette_turn,
        )
        o = o.replace(chroma_tv_weight=o.chroma_tv_weight_value())
        if o.style_layer_weights is not None and o.style_weight is None:
            # factors on each layer's own balanced weight: settled as the layers' weights themselves
            alone = [o.replace(style_layers=(name,), style_layer_weights=None) for name in o.style_layers]
            factors = tuple(f * a.style_weight_value() for f, a in zip(o.style_layer_weights, alone))
            return o.replace(style_weight=1.0, style_layer_weights=factors)
        return o.replace(style_weight=o.style_weight_value())

    def active_style_layers(self) -> tuple:
        """The style layers the run computes: those with a factor above 0 (--style-layer-weights)."""
        factors = self.style_layer_weights or (1.0,) * len(self.style_layers)
        return tuple(name for name, f in zip(self.style_layers, factors) if f > 0)

    def layer_weights(self) -> dict:
        """Each computed style layer's weight in the objective: the style weight in force times its factor
        (settled options: see :meth:`settled` for the auto weight with factors).

        >>> Options(style_layers=("relu3_2", "relu3_3"), style_layer_weights=(0.5, 0)).settled().layer_weights()
        {'relu3_2': 1250.0}
        """
        w, factors = self.style_weight_value(), self.style_layer_weights or (1.0,) * len(self.style_layers)
        return {name: w * f for name, f in zip(self.style_layers, factors) if f > 0}

    def style_weight_value(self) -> float:
        """The style weight in force (auto resolved)."""
        if self.style_weight is not None:
            return float(self.style_weight)
        balanced = MULTI_LAYER_STYLE_WEIGHT
        if len(self.active_style_layers()) == 1:
            balanced = SINGLE_LAYER_STYLE_WEIGHT.get(self.active_style_layers()[0], MULTI_LAYER_STYLE_WEIGHT)
        if self.mode != "none" and self.target_value() == "raw":  # its unreachable residual would swamp the content
            return modes.get(self.mode).raw_style_share[self._several()] * balanced
        return balanced

    def eigenvalue_layers_value(self) -> tuple:
        """The style layers whose eigenvalues alone a randomised style bends: those asked, less the randomised
        layers (their eigenvectors bent already) and any at factor 0."""
        if self.mode == "none" or not self.eigenvalue_layers:
            return ()
        bent, active = set(self.random_layers_value()), self.active_style_layers()
        return tuple(name for name in self.eigenvalue_layers if name in active and name not in bent)

    def random_layers_value(self) -> tuple:
        """The style layers randomised (auto resolved: the mode's ``random_blocks``; all if that leaves none)."""
        if self.random_layers is not None:
            return tuple(self.random_layers)
        blocks, active = modes.get(self.mode).random_blocks, self.active_style_layers()
        if blocks is None:
            return active
        from .layers import block

        shallow = tuple(name for name in active if block(name) <= blocks)
        return shallow or active

    def keep_top_value(self) -> int:
        """The eigenvectors left unbent in force (auto resolved: the mode's ``keep_top_single`` with one style
        layer, whose big strokes its largest eigenvector carries; 0 with several)."""
        if self.keep_top is not None:
            return self.keep_top
        return modes.get(self.mode).keep_top_single if len(self.active_style_layers()) == 1 else 0

    def palette_turn_value(self) -> float:
        """The largest turn of a swatch's colours in force, degrees (auto resolved: the mode's
        ``palette_turn_single`` with one style layer, 0 with several)."""
        if self.palette_turn is not None:
            return float(self.palette_turn)
        return modes.get(self.mode).palette_turn_single if len(self.active_style_layers()) == 1 else 0.0

    def target_value(self) -> str:
        """The target in force (auto resolved): the raw randomised Gram for fantasy and random, whose
        swatches came out as grey gratings (everything everywhere: docs/quality.md), reachable for variants."""
        if self.target is not None:
            return self.target
        return modes.get(self.mode).target

    def chroma_tv_weight_value(self) -> float:
        """The colour-only TV weight in force (auto resolved): on for the raw target's speckle, in a run with
        regions where any region's style has it."""
        if self.chroma_tv_weight is not None:
            return float(self.chroma_tv_weight)
        if self.region:
            from .regions import specs_of

            modes_ = [s.mode for s in specs_of(self) if s.kind == "mode"] + [self.mode]
            return max(self.replace(mode=m, region=None, mask=None).chroma_tv_weight_value() for m in modes_)
        return modes.get(self.mode).raw_chroma_tv if self.mode != "none" and self.target_value() == "raw" else 0.0

    def _several(self) -> int:
        """0 for one style layer, 1 for several: the index of the raw target's measured style share."""
        return int(len(self.active_style_layers()) > 1)

    def init_value(self) -> str:
        """The start image in force (auto resolved): noise, as neural-style, for randomised styles too: from
        the content they stayed the photograph under a fine texture, more photographic than a plain run
        (docs/quality.md, "From noise")."""
        return self.init if self.init is not None else "random"

    def lbfgs_history_value(self) -> int:
        """The L-BFGS history in force: prepare() settles auto by the memory budget; unsettled, 100."""
        return self.lbfgs_history if self.lbfgs_history is not None else LBFGS_HISTORY

    def swatch_chroma_blur_value(self) -> float:
        """The swatch's chroma blur in force (auto resolved): measured to bring fantasy and random within
        plain's colour speckle; variants are within it already."""
        if self.swatch_chroma_blur is not None:
            return float(self.swatch_chroma_blur)
        return modes.get(self.mode).swatch_chroma_blur

    def swatch_side(self) -> int:
        """The swatch's side in force (auto resolved)."""
        return self.swatch_size if self.swatch_size is not None else min(self.size, SWATCH_SIDE)

    def levels_clip(self):
        """The clip percentage to apply, or None (mode-dependent default)."""
        from .levels import parse_levels

        return parse_levels(self.levels if self.levels is not None else modes.get(self.mode).levels)

    def replace(self, **changes) -> "Options":
        unknown = set(changes) - set(FIELDS)
        if unknown:
            raise EigenstyleError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> "Options":
        """Rebuild from a recipe, validated like any other mapping; unknown keys (from a newer version)
        are an error, not ignored."""
        unknown = set(data) - set(FIELDS)
        if unknown:
            raise EigenstyleError(f"recipe has options this version does not know: {', '.join(sorted(unknown))}")
        # recipes from before --conv ran direct convolutions; from before --target, raw targets; from
        # before --swatch-padding, zero-padded swatches; from before --swatch-layers, every layer from the swatch;
        # from before --chroma-tv-weight, none; from before --keep-top's auto, every eigenvector bent; from
        # before --palette-turn, the swatch's own colours
        return cls.from_mapping(
            {
                "conv": "direct",
                "target": "raw",
                "swatch_padding": "zeros",
                "swatch_layers": "all",
                "swatch_chroma_blur": 0.0,
                "chroma_tv_weight": 0.0,
                "keep_top": 0,
                "palette_turn": 0.0,
                **data,
                **legacy_random_layers(data),
            }
        )


def legacy_random_layers(data: dict) -> dict:
    """A recipe from before --swatch-layers randomised every style layer when it named none (auto was all)."""
    if "swatch_layers" in data or data.get("random_layers") is not None:
        return {}
    return {"random_layers": data.get("style_layers", DEFAULT_STYLE_LAYERS)}


FIELDS = complete_kinds(Options)
GROUPS = tuple(dict.fromkeys(f.metadata["group"] for f in FIELDS.values()))  # in declaration order (docs, --help)


def names(use: str) -> tuple:
    """The options declared with ``use`` (values.USES), in declaration order: every list of options that
    one part of eigenstyle treats alike is read here, never kept by hand.

    >>> names("batch")
    ('variant_seed', 'genome')
    """
    if use not in USES:
        raise ValueError(f"unknown use {use!r}: one of {', '.join(USES)}")
    return tuple(name for name, f in FIELDS.items() if use in f.metadata["uses"])
