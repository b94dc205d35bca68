"""Direct against Winograd convolutions, per VGG-19 layer and for the whole network.

    python benchmarks/winograd.py [--size 256] [--repeats 5] [--device cpu]

For each 3x3 layer up to conv5_1 at the sizes a --size run gives it (tubingen's 4:3 aspect): the
time of forward + input gradient with the library's direct kernel (channels_last) and with
eigenstyle's Winograd F(4x4,3x3) (forced, whatever the thresholds), and the relative error of each
against float64; "(used)" marks the layers --conv winograd runs that way (winograd.MIN_CHANNELS
input channels and winograd.MIN_TILES tiles or more). Then the network's forward + backward to
relu5_1 (neural-style's default layers) with --conv direct and with --conv winograd, and with
--min-channels a comparison threshold, alternated. Medians of --repeats.
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from eigenstyle.layers import LAYERS
from eigenstyle.vgg import winograd
from eigenstyle.vgg.network import VGG, embedded_weights
from eigenstyle.vgg.winograd import MIN_CHANNELS, MIN_TILES, WinogradConv2d


def timed(fn, repeats):
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def fwd_bwd(layer, x, up):
    def run():
        xi = x.detach().requires_grad_(True)
        (layer(xi) * up).sum().backward()

    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--min-channels", type=int, help="also time the network with this MIN_CHANNELS")
    args = ap.parse_args()
    dev = torch.device(args.device)
    weights = embedded_weights()
    h, w = args.size * 3 // 4, args.size
    print("| layer | in→out | H×W | direct ms | Winograd ms | speed-up | error direct | error Winograd |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for index, (name, cout, cin) in enumerate(LAYERS):
        if name == "conv5_2":
            break
        if name.startswith("pool"):
            h, w = h // 2, w // 2
        if cin is None:
            continue
        conv = torch.nn.Conv2d(cin, cout, 3, padding=1).requires_grad_(False)
        conv.weight.copy_(weights.state[f"features.{index}.weight"])
        conv.bias.copy_(weights.state[f"features.{index}.bias"])
        conv = conv.to(dev, memory_format=torch.channels_last)
        fast = WinogradConv2d(conv).to(dev)
        used = " (used)" if cin >= MIN_CHANNELS and -(-h // 4) * -(-w // 4) >= MIN_TILES else ""
        winograd.MIN_TILES = 0  # force it for this table
        x = torch.rand(1, cin, h, w, device=dev).contiguous(memory_format=torch.channels_last) * 50
        up = torch.randn(1, cout, h, w, device=dev)
        ref = F.conv2d(x.double(), conv.weight.double(), conv.bias.double(), padding=1)

        def err(y, ref=ref):
            return float((y.double() - ref).norm() / ref.norm())

        with torch.no_grad():
            e_direct, e_fast = err(conv(x)), err(fast(x))
        td, tf = timed(fwd_bwd(conv, x, up), args.repeats), timed(fwd_bwd(fast, x, up), args.repeats)
        winograd.MIN_TILES = MIN_TILES
        print(
            f"| {name}{used} | {cin}→{cout} | {h}×{w} | {td * 1e3:.1f} | {tf * 1e3:.1f} | {td / tf:.2f}× "
            f"| {e_direct:.1e} | {e_fast:.1e} |",
            flush=True,
        )
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
    x = torch.rand(1, 3, args.size * 3 // 4, args.size, device=dev) * 255 - 120
    nets = {c: VGG(weights, layers, conv=c).to(dev) for c in ("direct", "winograd")}
    if args.min_channels:
        winograd.MIN_CHANNELS = args.min_channels
        nets[f"winograd from {args.min_channels} channels"] = VGG(weights, layers, conv="winograd").to(dev)
        winograd.MIN_CHANNELS = MIN_CHANNELS

    def network(net):
        def run():
            xi = x.detach().requires_grad_(True)
            sum((v**2).mean() for v in net(xi).values()).backward()

        return run

    runs = {c: network(n) for c, n in nets.items()}
    for run in runs.values():
        run()  # warm-up (Winograd makes its transformed weights here)
    samples = {c: [] for c in nets}
    for _ in range(args.repeats):  # alternated, so that a slow spell of the machine hits all alike
        for c, run in runs.items():
            start = time.perf_counter()
            run()
            samples[c].append(time.perf_counter() - start)
    t = {c: statistics.median(v) for c, v in samples.items()}
    print(
        f"\nnetwork forward+backward to relu5_1 at {x.shape[3]}x{x.shape[2]}: "
        + ", ".join(f"{c} {v * 1e3:.0f} ms ({t['direct'] / v:.2f}x)" for c, v in t.items())
        + f"; torch {torch.__version__}, {torch.get_num_threads()} threads, device {dev}"
    )


if __name__ == "__main__":
    main()
