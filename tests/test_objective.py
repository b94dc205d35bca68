"""The objective: named, weighted terms; the whole and the tiled evaluation from the same terms; a term of
one's own through the API, its recipe and reproduce."""

import dataclasses

import numpy as np
import pytest
import torch

from eigenstyle import objective
from eigenstyle.engine import stylize
from eigenstyle.errors import EigenstyleError
from eigenstyle.objective import FeatureTerm, Term
from eigenstyle.options import Options
from eigenstyle.printing import reproduce
from eigenstyle.problem import prepare, vary

FIXED = dict(precision="fp32", conv="direct", print_every=0, seed=2)


class Mirror(Term):
    """Left and right alike (docs/extending.md's example)."""

    name = "mirror"

    def __call__(self, x, feats, problem):
        return self.weight * (x - x.flip(3)).pow(2).flatten(1).mean(1)


class Energy(FeatureTerm):
    """A feature term without the tiled protocol: the mean squared activation of its layers."""

    name = "energy"

    def __call__(self, x, feats, problem):
        return sum(self.weight * feats[n].pow(2).flatten(1).mean(1) for n in self.layers)


@pytest.fixture(scope="module")
def problem(content_path, style_path):
    opts = Options(size=48, tv_weight=1e-3, chroma_tv_weight=0.05, **FIXED).settled()
    return vary(prepare(content_path, [style_path], opts), opts)


def test_the_total_is_the_sum_of_the_named_terms_in_float64(problem):
    x = torch.rand(2, 3, 36, 48, dtype=torch.float32) * 100
    got = objective.evaluate(problem, x)
    assert tuple(got) == objective.names(problem) == ("total", "content", "style", "tv", "chroma_tv", "anchor")
    feats = {k: v.double() for k, v in problem.net(x).items()}  # the terms again, independently, in float64
    o, t = problem.opts, problem.targets
    f = feats["relu4_2"]
    content = o.content_weight * ((f - t.content["relu4_2"].double()) ** 2).mean(dim=(1, 2, 3))
    style = 0
    for name in o.style_layers:
        n, c, h, w = feats[name].shape
        flat = feats[name].reshape(n, c, h * w)
        g = flat @ flat.transpose(1, 2) / (c * h * w)
        style = style + o.style_weight * ((g - t.style[name].double()) ** 2).mean(dim=(1, 2))
    xd = x.double()
    tv = o.tv_weight * (
        (xd[..., 1:] - xd[..., :-1]).abs().sum((1, 2, 3)) + (xd[:, :, 1:] - xd[:, :, :-1]).abs().sum((1, 2, 3))
    )
    for name, want in (("content", content), ("style", style), ("tv", tv)):
        np.testing.assert_allclose(got[name].double().numpy(), want.numpy(), rtol=2e-4, err_msg=name)
    assert float(got["chroma_tv"].min()) > 0 and float(got["anchor"].abs().max()) == 0
    total = sum(got[k].double() for k in objective.names(problem)[1:])
    np.testing.assert_allclose(got["total"].double().numpy(), total.numpy(), rtol=1e-6)


@pytest.mark.slow
def test_tiled_and_whole_come_from_the_same_terms(problem):
    """A pixel term of one's own is taken on the whole image in tiles too; a feature term without the tiled
    protocol is refused in one line."""
    from eigenstyle import tiled

    own = dataclasses.replace(problem, terms=(Mirror(0.5),))
    x = (torch.rand(1, 3, 36, 48) * 50).requires_grad_(True)
    whole = objective.evaluate(own, x)
    whole["total"].sum().backward()
    parts, grad = tiled.losses_and_gradient(own, x.detach(), 32)
    assert tuple(parts) == objective.names(own) and parts["mirror"].item() > 0
    for k in whole:
        assert torch.allclose(parts[k], whole[k].detach(), rtol=1e-4, atol=1e-3), k
    assert torch.allclose(grad, x.grad, rtol=1e-3, atol=1e-3 * float(x.grad.abs().max()))
    with pytest.raises(EigenstyleError, match="the term 'energy' cannot be evaluated in tiles"):
        tiled.losses_and_gradient(dataclasses.replace(problem, terms=(Energy(1.0, ["relu3_1"]),)), x.detach(), 32)


@pytest.mark.slow
def test_a_term_of_ones_own_through_the_api_its_recipe_and_reproduce(content_path, style_path, tmp_path):
    seen = []
    out = str(tmp_path / "m.png")
    run = dict(size=48, iterations=30, init="image", **FIXED)  # from the photograph: asymmetric
    mirrored = stylize(content_path, style_path, terms=[Mirror(1e4)], output=out, callback=seen.append, **run)
    plain = stylize(content_path, style_path, **run)
    assert "mirror" in seen[-1].losses and mirrored.recipe["terms"] == [
        {"name": "mirror", "weight": 1e4, "class": f"{__name__}.Mirror"}
    ]
    assert mirrored.recipe["losses"]["mirror"] > 0 and "mirror" not in plain.recipe["losses"]

    def asymmetry(im):
        a = np.asarray(im, dtype=float)
        return np.abs(a - a[:, ::-1]).mean()

    assert asymmetry(mirrored.image) < 0.6 * asymmetry(plain.image)  # the term does what it says
    with pytest.raises(EigenstyleError, match="made with objective terms of its own: mirror"):
        reproduce(out)
    again = reproduce(out, terms=[Mirror(1e4)])
    assert np.array_equal(np.asarray(again.image), np.asarray(mirrored.image))
    with pytest.raises(EigenstyleError, match="the name 'style' is taken"):
        stylize(content_path, style_path, terms=[type("Twin", (Mirror,), {"name": "style"})(1.0)], **run)
    with pytest.raises(EigenstyleError, match="energy reads relu3_3: add it"):
        stylize(content_path, style_path, terms=[Energy(1.0, ["relu3_3"])], **run)
