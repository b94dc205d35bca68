"""The docs a newcomer reads: docs/options.md is what the code generates (eigenstyle.reference), every
option is in it with its default, and the README stays a short guide whose links lead somewhere."""

import os
import re

from eigenstyle import reference
from eigenstyle.options import FIELDS, Options

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _read(path: str) -> str:
    return open(os.path.join(ROOT, path), encoding="utf-8").read()


def test_options_md_is_what_the_code_generates():
    assert _read("docs/options.md") == reference.markdown(), (
        "docs/options.md is out of date: run `python -m eigenstyle.reference > docs/options.md`"
    )


def test_options_md_documents_every_option_with_its_default():
    text = _read("docs/options.md")
    defaults = Options()
    for name, f in FIELDS.items():
        if not f.metadata["cli"]:
            continue
        flag = re.compile(rf"\| `--{name.replace('_', '-')}[ `]")
        row = [line for line in text.splitlines() if flag.match(line) and line.count(" | ") == 4]  # a style option's
        assert len(row) == 1, f"docs/options.md lacks --{name}"
        value = getattr(defaults, name)
        cell = row[0].split(" | ")[1].strip().lower()
        if value is None:  # None means "not set": drawn, all, or a mode/layer-dependent default
            assert cell in ("none", "auto"), (name, cell)
        else:
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
            assert cell == shown.lower(), (name, shown, cell)
        for alias in f.metadata["alias"]:
            assert f"`{alias}`" in row[0], (name, alias)


def test_options_md_lists_every_mode_and_command():
    from eigenstyle import modes
    from eigenstyle.flags import build_parser

    text = _read("docs/options.md")
    for name in modes.NAMES:
        assert f"| `{name}` |" in text, name
    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    for command in sub.choices:
        assert f"### `eigenstyle {command}`" in text, command


def test_readme_is_a_short_guide():
    readme = _read("README.md")
    lines = readme.splitlines()
    assert len(lines) <= 250, len(lines)
    long = [i + 1 for i, line in enumerate(lines) if len(line) > 200 and not line.startswith("![")]
    assert not long, f"README lines over 200 characters: {long}"
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", readme), "a dated caption: history belongs to git"
    assert not re.search(r"\bissue \d+", readme, re.I), "an issue number: history belongs to git"


def test_readme_and_docs_links_lead_somewhere():
    for path in ["README.md"] + [f"docs/{n}" for n in os.listdir(os.path.join(ROOT, "docs")) if n.endswith(".md")]:
        base = os.path.dirname(os.path.join(ROOT, path))
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", _read(path)):
            if "://" in target:
                continue
            assert os.path.exists(os.path.join(base, target)), f"{path} links to missing {target}"


def test_extending_shows_the_shipped_mode_and_a_term_that_works():
    """docs/extending.md's mode is the shipped module, verbatim; its term runs as documented."""
    import torch

    root = os.path.join(os.path.dirname(__file__), "..")
    text = open(os.path.join(root, "docs", "extending.md"), encoding="utf-8").read()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    module = open(os.path.join(root, "src", "eigenstyle", "modes", "eigenvalues.py"), encoding="utf-8").read()
    assert blocks[0] == module
    assert len(blocks[0].splitlines()) <= 25 and len(blocks[1].splitlines()) <= 30
    space = {}
    exec(blocks[1], space)
    x = torch.rand(2, 3, 8, 8)
    assert torch.allclose(space["Mirror"](2.0)(x, {}, None), 2 * (x - x.flip(3)).pow(2).flatten(1).mean(1))
    assert float(space["Mirror"](1.0)(x + x.flip(3), {}, None).abs().max()) < 1e-6  # a symmetric picture: free
