"""The package's layers, read from its source: no import circle, no import upward.

docs/architecture.md draws the layers; this test holds them. Every `import` and
`from ... import` in `cnndsl/` counts, wherever it stands: at the top of a module, inside
a function (the lazy imports that keep NumPy and TensorFlow out of `shapes`), or under
`if TYPE_CHECKING:`. A module may import its own layer's modules and any lower layer's,
never a higher one's, and the modules' imports form no circle (a circle inside one layer is
as much a tangle as one across layers).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "cnndsl"

# Each layer: its modules (by prefix), and the layers right below it, which it may import
# with everything they may import in turn. Siblings do not import each other: a backend
# never imports the language (it takes a graph however it was made), a view never imports
# a backend (it runs nothing), training never imports the commands.
LAYERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "support": (("cnndsl.errors", "cnndsl.support"), ()),
    "syntax": (("cnndsl.syntax",), ("support",)),
    "layers": (("cnndsl.layers",), ("syntax",)),
    "graph": (("cnndsl.graph",), ("layers",)),
    "language": (("cnndsl.language",), ("graph",)),
    "backends": (("cnndsl.backends",), ("graph",)),
    "importers": (("cnndsl.importers",), ("backends",)),
    "views": (("cnndsl.views",), ("language", "formatting")),
    "highlighting": (("cnndsl.highlighting",), ("layers",)),
    "formatting": (("cnndsl.formatting",), ("language",)),
    "lsp": (("cnndsl.lsp",), ("formatting", "views", "highlighting")),
    "api": (("cnndsl.network", "cnndsl"), ("language", "backends", "views")),
    "running": (("cnndsl.running",), ("api",)),
    "training": (("cnndsl.training",), ("backends",)),
    "commands": (("cnndsl.commands",),
                 ("running", "training", "importers", "api", "formatting", "lsp")),
    "cli": (("cnndsl.cli", "cnndsl.__main__"), ("commands",)),
}


def below(layer: str) -> set[str]:
    """Every layer `layer` may import: those it names and, in turn, theirs."""
    found: set[str] = set()
    todo = list(LAYERS[layer][1])
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(LAYERS[name][1])
    return found


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports: for `from X import Y`, the module X.Y
    where Y is a module, else X."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                candidate = f"{source}.{alias.name}"
                found.add(candidate if candidate in modules else source)
    return {m for m in found if m in modules and m != name}


def graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_files(package)
    return {name: imported(name, path, modules) for name, path in modules.items()}


def layer_of(module: str) -> str:
    """The layer a module belongs to: the longest of the layers' prefixes it starts with
    (`cnndsl` alone is the package's `__init__`, the API)."""
    best = max(((len(p), layer) for layer, (prefixes, _) in LAYERS.items() for p in prefixes
                if module == p or (p != "cnndsl" and module.startswith(p + "."))),
               default=None)
    assert best is not None, (f"{module} is in no layer: add it to LAYERS and "
                              "docs/architecture.md")
    return best[1]


def against_the_order(imports: dict[str, set[str]]) -> list[str]:
    """`a (layer) -> b (layer)` for every import of a layer `a`'s layer may not import."""
    return sorted(f"{a} ({layer_of(a)}) -> {b} ({layer_of(b)})"
                  for a, targets in imports.items() for b in targets
                  if layer_of(b) != layer_of(a) and layer_of(b) not in below(layer_of(a)))


def circles(imports: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm,
    iterative: the package is small, but recursion limits are not this test's concern)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(imports):
        if root in index:
            continue
        work = [(root, iter(sorted(imports[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(imports[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_module_is_in_a_layer():
    for module in module_files():
        layer_of(module)


def test_no_module_imports_a_layer_above_it_or_beside_it():
    assert against_the_order(graph()) == []


def test_no_import_circle():
    assert circles(graph()) == []


def test_the_checks_find_what_they_look_for(tmp_path):
    """The same reading on a planted package: an upward import inside a function, one under
    TYPE_CHECKING, one between siblings, and a circle of two modules are all found."""
    root = tmp_path / "cnndsl"
    for folder in ("support", "views", "graph", "backends"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "support" / "files.py").write_text(
        "def f():\n    from ..views import report\n")
    (root / "graph" / "ir.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..views.report import x\n")
    (root / "views" / "report.py").write_text("from . import table\n")
    (root / "views" / "table.py").write_text("from .report import y\n")
    (root / "views" / "draw.py").write_text("import cnndsl.backends.onnx\n")
    (root / "backends" / "onnx.py").write_text("from ..graph import ir\n")
    imports = graph(root)
    assert against_the_order(imports) == [
        "cnndsl.graph.ir (graph) -> cnndsl.views.report (views)",
        "cnndsl.support.files (support) -> cnndsl.views.report (views)",
        "cnndsl.views.draw (views) -> cnndsl.backends.onnx (backends)"]
    assert circles(imports) == [["cnndsl.views.report", "cnndsl.views.table"]]


@pytest.mark.parametrize("limit, what", [(450, "lines in a module"), (8, "top-level modules")])
def test_the_house_stays_small(limit, what):
    if what == "lines in a module":
        long = {name: n for name, path in module_files().items()
                if (n := len(path.read_text(encoding="utf-8").splitlines())) > limit}
        assert long == {}, f"over {limit} lines: split by job (docs/architecture.md)"
    else:
        top = [p.name for p in PACKAGE.glob("*.py")]
        assert len(top) <= limit, f"{len(top)} modules at the top of cnndsl/: {top}"


PUBLIC = ["CnnError", "Network", "__version__", "analyse", "compile_file", "compile_text",
          "load", "parse"]


def test_the_public_api_is_listed_and_loads_lazily():
    """`dir(cnndsl)` lists the public names before any is used (they load on first use, so
    that the command starts without NumPy), and each is what its module defines."""
    import subprocess
    import sys

    code = ("import cnndsl, sys; listed = dir(cnndsl); "
            "print(' '.join(n for n in listed if not n.startswith('_') or n == '__version__'));"
            "print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert set(PUBLIC) <= set(out[0].split()), out[0]
    assert out[1] == "False"  # listing did not import them

    import cnndsl
    from cnndsl.graph.analysis import analyse
    from cnndsl.language.frontend import compile_file, compile_text
    from cnndsl.network import Network, load, parse

    assert (cnndsl.analyse, cnndsl.compile_file, cnndsl.compile_text, cnndsl.Network,
            cnndsl.load, cnndsl.parse) == (analyse, compile_file, compile_text, Network,
                                           load, parse)
    assert cnndsl.parse("input 4 -> dense 2").params == 10
