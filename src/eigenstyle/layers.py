"""VGG-19's layer table, without torch: names, channels, order, and the check of a layer name.

Options, the memory model, style files and the command line need the layer names and their channel
counts, not the network; here they read them without importing torch (``eigenstyle --help`` and an
option's validation stay fast). :mod:`eigenstyle.vgg.network` builds the network from the same table.
"""

from __future__ import annotations

from .errors import EigenstyleError

# (name, channels) for every layer in order; pools keep the previous channel count.
BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def _layer_table():
    table, channels_in = [], 3
    for b, (channels, convs) in enumerate(BLOCKS, 1):
        for c in range(1, convs + 1):
            table.append((f"conv{b}_{c}", channels, channels_in))
            table.append((f"relu{b}_{c}", channels, None))
            channels_in = channels
        table.append((f"pool{b}", channels, None))
    return table


LAYERS = _layer_table()
LAYER_NAMES = tuple(name for name, _, _ in LAYERS)
LAYER_INDEX = {name: i for i, name in enumerate(LAYER_NAMES)}
CHANNELS = {name: c for name, c, _ in LAYERS}


def block(name: str) -> int:
    """The VGG block (1..5) a layer name is in: relu3_2 -> 3, pool2 -> 2."""
    return int(name[4])


def check_layers(layers, what: str) -> None:
    for name in layers:
        if name not in LAYER_INDEX:
            raise EigenstyleError(
                f"{what}: unknown layer {name!r}; valid names are conv1_1 .. pool5 (see `eigenstyle list-layers`)"
            )
