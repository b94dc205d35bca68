"""The command line's flags (flags.py): neural-style's spellings, a flag and help per option
(the option reference, docs/options.md: test_docs.py)."""

import pytest

from eigenstyle.flags import build_parser, options_from
from eigenstyle.options import FIELDS


def test_neural_style_spellings_are_aliases():
    long = build_parser().parse_args(
        [
            "stylize",
            "c.jpg",
            "s.jpg",
            "--style-layers",
            "relu3_2",
            "--iterations",
            "7",
            "--size",
            "64",
            "--content-weight",
            "2",
            "--original-colors",
            "--device",
            "cpu",
            "--init",
            "x.png",
            "--print-every",
            "0",
            "--style-blend-weights",
            "1",
            "--lbfgs-history",
            "5",
            "--pooling",
            "avg",
            "--seed",
            "4",
        ]
    )
    ns = build_parser().parse_args(
        [
            "stylize",
            "-content_image",
            "c.jpg",
            "-style_image",
            "s.jpg",
            "-style_layers",
            "relu3_2",
            "-num_iterations",
            "7",
            "-image_size",
            "64",
            "-content_weight",
            "2",
            "-original_colors",
            "1",
            "-gpu",
            "c",
            "-init",
            "image",
            "-init_image",
            "x.png",
            "-print_iter",
            "0",
            "-style_blend_weights",
            "1",
            "-lbfgs_num_correction",
            "5",
            "-pooling",
            "avg",
            "-seed",
            "4",
            "-output_image",
            "o.png",
        ]
    )
    assert options_from(ns) == options_from(long)
    assert options_from(ns).style_layers == ("relu3_2",) and ns.output == "o.png"
    assert options_from(build_parser().parse_args(["stylize", "-seed", "-1"])).seed is None


def test_every_option_has_a_long_flag_and_help(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["stylize", "--help"])
    text = capsys.readouterr().out
    for name, f in FIELDS.items():
        assert ("--" + name.replace("_", "-") in text) == f.metadata["cli"]
