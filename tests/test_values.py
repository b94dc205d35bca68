"""Reading and checking option values (values.py): text by kind, one-line errors in the caller's spelling."""

import pytest

from eigenstyle import EigenstyleError, Options
from eigenstyle.values import cli_spelling, option_name, parse


def test_unreadable_text_and_unknown_names():
    with pytest.raises(EigenstyleError, match=r"^size: expected an integer, got 'nan'$"):
        Options.from_mapping({"size": "nan"})
    with pytest.raises(EigenstyleError, match=r"^spread: expected comma-separated numbers"):
        Options.from_mapping({"spread": "a,b"})
    with pytest.raises(EigenstyleError, match="unknown option"):
        Options.from_mapping({"warp": 1})
    with pytest.raises(ValueError):
        parse("bool", "maybe")
    assert option_name("style_weight") == "style_weight"
    with cli_spelling():
        assert option_name("style_weight") == "--style-weight"
    assert option_name("style_weight") == "style_weight"  # the spelling is scoped to the block
