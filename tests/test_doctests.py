"""The runnable examples in the package's docstrings run, and give what they say."""

import doctest
import importlib
import pathlib

import pytest

import eigenstyle

PACKAGE = pathlib.Path(eigenstyle.__file__).parent
WITH_EXAMPLES = sorted(
    ".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts)
    for p in PACKAGE.rglob("*.py")
    if ">>>" in p.read_text(encoding="utf-8")
)


def test_some_modules_have_examples():
    assert "eigenstyle.options" in WITH_EXAMPLES and "eigenstyle.losses" in WITH_EXAMPLES


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0, result
