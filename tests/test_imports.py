"""No import circle among eigenstyle's modules (issue 34, point 6).

Every module under src/eigenstyle is parsed with ``ast`` and every import of an eigenstyle module is
counted, wherever it stands: at module level and inside functions and methods (an import deferred
into a function still makes a circle; deferring a heavy third-party one, torch, is fine, and
third-party imports are not counted at all). Relative and absolute imports alike:

* ``import eigenstyle.a.b``: module ``a.b``;
* ``from .pkg import name``: ``pkg`` (its ``__init__`` runs), and ``pkg.name`` as well if that is a module;
* ``from . import x``: submodule ``x`` when it is one, otherwise the package itself.

A package's ``__init__`` running first for any of its submodules is not counted (Python does that
for every import; counting it would make each package a circle with its own children).
"""

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent / "src"
ROOT = "eigenstyle"


def _modules() -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package)."""
    found = {}
    for path in sorted((SOURCE / ROOT).rglob("*.py")):
        parts = list(path.relative_to(SOURCE).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts = parts[:-1]
        found[".".join(parts)] = (path, package)
    return found


def _known(name: str, modules) -> str | None:
    """``name`` if it is one of ours, else its longest prefix that is (``eigenstyle.x.attr`` -> ``eigenstyle.x``)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(name: str, modules) -> set[str]:
    """The eigenstyle modules that module ``name`` imports, at any depth of its code."""
    path, package = modules[name]
    here = name if package else name.rpartition(".")[0]  # the package a relative import starts from
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names if a.name == ROOT or a.name.startswith(ROOT + ".")]
            found.update(filter(None, (_known(t, modules) for t in targets)))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)]
                base = ".".join(base + ([node.module] if node.module else []))
            elif node.module == ROOT or (node.module or "").startswith(ROOT + "."):
                base = node.module
            else:
                continue  # third party
            submodules = {f"{base}.{a.name}" for a in node.names} & modules.keys()
            if node.module or len(submodules) < len(node.names):
                # ``from .pkg import ...`` runs pkg; ``from . import x`` runs the package only for
                # a name that is not a submodule
                known = _known(base, modules)
                if known:
                    found.add(known)
            found |= submodules
    found.discard(name)
    return found


def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: imports_of(name, modules) for name in modules}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """A cycle through each edge that lies on one (Tarjan's components, then the shortest way back), each
    cycle once."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            components.append(component)

    for v in sorted(edges):
        if v not in index:
            connect(v)

    found, seen = [], set()
    for component in components:
        for a in sorted(component):
            for b in sorted(edges[a] & component):
                # the shortest way from b back to a, inside the component
                paths, frontier = {b: [b]}, [b]
                while a not in paths:
                    frontier = [(w, paths[v]) for v in frontier for w in sorted(edges[v] & component) if w not in paths]
                    for w, way in frontier:
                        paths.setdefault(w, [*way, w])
                    frontier = [w for w, _ in frontier]
                cycle = [a, *paths[a]]
                key = frozenset(zip(cycle, cycle[1:]))
                if key not in seen:
                    seen.add(key)
                    found.append(cycle)
    return found


def test_the_graph_sees_function_level_and_relative_imports():
    edges = graph()
    assert "eigenstyle.options" in edges["eigenstyle.engine"]  # module level, relative
    assert "eigenstyle.images" in edges["eigenstyle.sweep"]  # inside a function: from . import images
    assert "eigenstyle.writers" in edges["eigenstyle.images"]  # inside a function
    assert "eigenstyle.vgg.speed" in edges["eigenstyle.vgg.network"]  # from . import speed, a submodule
    assert "eigenstyle.errors" in edges["eigenstyle.modes.registry"]  # from ..errors import EigenstyleError
    # a mode imports the registry, not the package that loads it (importlib, which no graph sees)
    assert edges["eigenstyle.modes.variant"] == {"eigenstyle.modes.registry"}


def test_cycles_are_found_each_once():
    edges = {"a": {"b"}, "b": {"a", "c"}, "c": {"d"}, "d": {"b"}, "e": {"a"}}
    assert cycles(edges) == [["a", "b", "a"], ["b", "c", "d", "b"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_circle():
    found = cycles(graph())
    assert not found, "import circles:\n" + "\n".join(
        " -> ".join(m.removeprefix(ROOT + ".") for m in cycle) for cycle in found
    )
