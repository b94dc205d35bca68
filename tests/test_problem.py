"""Preparing a run (problem.py): what prepare() reads, and the auto values it settles for the recipe."""

import os

import pytest

from eigenstyle import Options


def test_the_preparation_key_is_what_prepare_reads(content_path, style_path, monkeypatch):
    """problem.PREPARED_FROM (the planner's key) names every option prepare() reads, and no other:
    a run that changes one of them gets its own preparation, any other change only a vary()."""
    from eigenstyle import problem
    from eigenstyle.options import FIELDS, Options

    read = set()

    class Recording(Options):
        def __getattribute__(self, name):
            if name in FIELDS:
                read.add(name)
            return super().__getattribute__(name)

    monkeypatch.setattr(problem, "vary", lambda plain, o, swatch=None: plain)
    # (an explicit history and arithmetic: settling auto replaces the options, and a replace reads every field)
    # (and regions: a mask is read and its regions' style images would be, by prepare)
    sky = os.path.join(os.path.dirname(content_path), "tubingen-sky.png")
    opts = Recording(
        size=48, iterations=2, seed=1, lbfgs_history=100, precision="fp32", conv="direct",
        mask=(f"sky={sky}",), region=("sky=none", "rest=plain"),
    ).validate()  # fmt: skip
    read.clear()
    problem.prepare(content_path, [style_path], opts)
    assert read == set(problem.PREPARED_FROM)


def test_fantasy_and_random_default_to_the_raw_target_at_a_share_of_the_balanced_weight():
    from eigenstyle.modes import RAW_CHROMA_TV as CHROMA_TV_WEIGHT
    from eigenstyle.modes import RAW_STYLE_SHARE
    from eigenstyle.problem import resolve_seeds

    def settled_seeds(o):  # what vary settles: seeds drawn, auto values filled in
        return resolve_seeds(o).settled()

    for several, layers in enumerate((("relu3_2",), Options().style_layers)):
        plain = Options(style_layers=layers)
        for mode in ("fantasy", "random"):
            o = settled_seeds(plain.replace(mode=mode))
            assert (o.target, o.chroma_tv_weight) == ("raw", CHROMA_TV_WEIGHT)  # the recipe records them
            assert o.style_weight_value() == pytest.approx(RAW_STYLE_SHARE[several] * plain.style_weight_value())
        v = settled_seeds(plain.replace(mode="variant"))
        assert (v.target, v.chroma_tv_weight, v.style_weight_value()) == ("reachable", 0.0, plain.style_weight_value())
        assert settled_seeds(plain).chroma_tv_weight == 0.0
    given = settled_seeds(Options(mode="fantasy", target="reachable", style_weight=7.0, chroma_tv_weight=0.5))
    assert (given.target, given.style_weight_value(), given.chroma_tv_weight) == ("reachable", 7.0, 0.5)
    assert settled_seeds(Options(mode="fantasy", target="reachable")).chroma_tv_weight == 0.0
    # a recipe from before these options reproduces as it was made: its recorded target, no colour TV
    old = Options.from_dict({"mode": "fantasy", "target": "reachable", "style_weight": 2500.0})
    assert (old.target_value(), old.chroma_tv_weight_value(), old.style_weight_value()) == ("reachable", 0.0, 2500.0)
