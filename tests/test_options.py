"""Options are read and checked in one place: the CLI, the studio, recipes and the API agree."""

import math
import re

import pytest

from eigenstyle import EigenstyleError, Options
from eigenstyle.cli import build_parser, options_from
from eigenstyle.explore import Brood, variant_options
from eigenstyle.options import FIELDS
from eigenstyle.studio.actions import Limits, defaults, settings
from eigenstyle.values import cli_spelling

# One text value per kind that the command line and a web form can send, and what it means.
TEXT = {
    "size": ("96", 96),
    "content_weight": ("2.5", 2.5),
    "style_layers": ("relu2_1, relu3_2", ("relu2_1", "relu3_2")),
    "spread": ("0.5,1.5", (0.5, 1.5)),
    "scales": ("32,64", (32, 64)),
    "seed": ("7", 7),
    "variant_seed": ("random", None),
    "symmetric": ("true", True),
    "mode": ("fantasy", "fantasy"),
    "levels": ("auto", "auto"),
    "strength": ("0.25", 0.25),
}


def test_every_field_has_a_known_kind_and_its_default_passes_its_own_check():
    Options().validate()
    for name, f in FIELDS.items():
        assert f.metadata["kind"] in (
            "int",
            "float",
            "bool",
            "text",
            "choice",
            "layers",
            "ints",
            "floats",
            "texts",
            "seed",
            "mapping",
        ), name
        if getattr(Options(), name) is None:  # None means "auto" or "not given": it must pass
            assert f.metadata["optional"], name


def test_text_is_read_by_kind_the_same_way_from_the_cli_the_studio_and_the_api():
    api = Options.from_mapping({k: t for k, (t, _) in TEXT.items()})
    for name, (_, value) in TEXT.items():
        assert getattr(api, name) == value, name
    argv = ["stylize", "c.jpg", "s.jpg"]
    for name, (text, _) in TEXT.items():
        argv += [f"--{name.replace('_', '-')}", text] if name != "symmetric" else ["--symmetric"]
    cli = options_from(build_parser().parse_args(argv))
    assert cli == api
    studio_fields = {
        k: t
        for k, (t, _) in TEXT.items()
        if k in ("size", "content_weight", "style_layers", "spread", "seed", "mode", "levels", "strength")
    }
    studio = settings(studio_fields, Limits())
    for name in studio_fields:
        assert getattr(studio, name) == getattr(api, name), name


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("size", 8, "size must be an integer >= 16, got 8"),
        ("size", True, "size must be an integer >= 16, got True"),
        ("iterations", 2.5, "iterations must be an integer >= 1"),
        ("style_weight", 0.0, "style_weight must be > 0"),
        ("tv_weight", math.inf, "tv_weight must be a finite number"),
        ("strength", 1.5, "strength must be in [0, 1]"),
        ("spread", (math.nan, 1.0), "spread must be finite numbers"),
        ("spread", (1.5, 0.5), "spread lo,hi needs lo <= hi"),
        ("style_blend_weights", (0.0, 0.0), "style_blend_weights must not all be zero"),
        ("seed", 2**63, "seed must be an integer in [0, 2^63)"),
        ("mode", "wild", "mode must be one of none, variant, fantasy, random"),
        ("style_layers", ("relu3_2", ""), "style_layers must be layer names"),
        ("style_layers", "relu3_2", "style_layers must be a list"),
        ("random_layers", ("relu1_1",), "random_layers relu1_1 not among style_layers"),
        ("device", "", "device must be a non-empty text"),
        ("genome", [1], "genome must be a mapping"),
        ("levels", "bright", "levels must be auto, none or a clip percentage"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_option_as_the_caller_spells_it(name, value, message):
    o = Options(style_layers=("relu3_2",)).replace(**{name: value})
    with pytest.raises(EigenstyleError) as e:
        o.validate()
    assert str(e.value).startswith(message) and "--" not in str(e.value)
    with cli_spelling(), pytest.raises(EigenstyleError) as e:
        o.validate()
    flag = "--" + name.replace("_", "-")
    assert str(e.value).startswith(flag) and "\n" not in str(e.value)


def test_the_studio_takes_its_defaults_from_options():
    d, o = defaults(), Options()
    assert d["spread"] == list(o.spread) and d["style_layers"] == list(o.style_layers)
    assert d["tv_weight"] == o.tv_weight and d["target"] == o.target
    assert (d["mode"], d["size"], d["iterations"], d["init"]) == ("variant", 128, 62, "image")  # its departures
    assert d["swatch_size"] == 64 and d["swatch_iterations"] == 70
    assert (d["count"], d["amount"]) == (Brood().count, Brood().amount)


def test_the_studio_paints_its_margin_in_proportion_to_the_size_asked():
    """The tiles' 12 px margin at 128 px (docs/quality.md) follows a size changed in the form, so a small size is
    not refused for a margin it did not ask for, and a larger one keeps its edge as far from the run's."""
    limits = Limits()
    assert settings({}, limits).margin == 12
    assert [settings({"size": str(n)}, limits).margin for n in (32, 16, 256)] == [3, 2, 24]
    assert settings({"size": "64"}, limits, base=Options(size=128, margin=0)).margin == 0


def _recipe(mode, seed):
    return {"options": {"mode": mode, "variant_seed": seed}}


def test_brood_requests_are_checked_once():
    assert Brood.of("3").count == 3
    kids = Brood.of(2, parents=(_recipe("variant", 5),), amount="0.3")
    assert kids.mutate == {"seed": 5} and kids.amount == 0.3 and kids.between is None
    mid = Brood.of(1, parents=(_recipe("fantasy", 1), _recipe("fantasy", 2)), t=0.25)
    assert mid.between == ({"seed": 1}, {"seed": 2}) and mid.t == 0.25
    for kwargs, message in [
        (dict(count=0), "count must be >= 1"),
        (dict(count=17, max_count=16), "at most 16"),
        (dict(amount=math.nan), "amount must be in [0, 1]"),
        (dict(t=2), "t must be in [0, 1]"),
        (dict(count="many"), "count: expected an integer"),
        (dict(parents=(_recipe("variant", 1), _recipe("fantasy", 2))), "same mode"),
        (dict(parents=(_recipe("none", 1),)), "plain run"),
    ]:
        with pytest.raises(EigenstyleError, match=re.escape(message)):
            Brood.of(**kwargs)
    runs = variant_options(Options(mode="variant", variant_seed=10), kids)
    assert [o.genome for o, _ in runs] == [{"mutate": {"seed": 5}, "seed": s, "amount": 0.3} for s in (10, 11)]


def test_keep_top_auto_keeps_a_single_layers_largest_eigenvector_and_old_recipes_bend_every_one():
    """--keep-top auto: 1 for variants at one style layer (their big strokes, docs/quality.md), 0 at several and
    for the other modes; a recipe from before it (no keep_top) bent every eigenvector and still does."""
    one = Options(mode="variant", style_layers=("relu3_2",))
    assert one.keep_top is None and one.settled().keep_top == 1
    assert one.replace(keep_top=0).settled().keep_top == 0
    assert Options(mode="variant").settled().keep_top == 0
    assert Options(mode="fantasy", style_layers=("relu3_2",)).settled().keep_top == 0
    assert Options.from_dict({"mode": "variant", "style_layers": ["relu3_2"]}).settled().keep_top == 0
    with pytest.raises(EigenstyleError, match="keep_top must be an integer >= 0"):
        Options(keep_top=-1).validate()
