"""The import rules of DESIGN.md, checked on the source (nothing is imported or run).

1. Direction: pages (``app.py``, ``views/``) and CLI → jobs → experiment → embed / evaluate / train /
   report / ui → encoders / data / demo / results → config / errors / files / progress. A module
   imports only parts below its own (or its own part, or a pair listed in ``SIDEWAYS``); nothing in
   ``mitoviz`` imports ``views`` or ``app`` (pages may import anything in ``mitoviz``); nothing in
   ``mitoviz`` outside ``mitoviz/ui`` imports Streamlit. Every part of ``mitoviz`` must have a level.
2. Pages import only modules that exist (a stale import after a move fails here, not in a browser).
3. No import cycles: none between modules of one folder (``encoders/spec.py`` ↔ ``encoders/zoo.py``)
   and none between folders.

What counts as an import, for the cycle check as for the direction check: every ``import`` and
``from … import`` of a mitoviz module, at module level *or inside a function body*. An import moved
into a function to break a cycle still runs and still ties the two modules together; it only hides
the cycle from Python until that function is called. Deferring an import for cost (torch, timm,
umap: third-party libraries, or a package's ``__init__`` loading a heavy submodule on first use) is
fine and never makes a cycle by itself, because it points down. The one exception is an import under
``if TYPE_CHECKING:``, which never runs. ``from pkg import name`` is an edge to the submodule
``pkg.name`` when that module exists, else to ``pkg`` itself (its ``__init__``): a submodule that
imports its own package's facade while the facade imports it is a cycle. The implicit import of a
parent package when a submodule is imported does not count (Python handles that order itself).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "mitoviz"
PAGES = sorted([ROOT / "app.py", *(ROOT / "views").glob("*.py")])
LEVELS = {
    "errors": 0,
    "config": 0,
    "files": 0,
    "progress": 0,
    "terminal": 0,
    "cluster": 0,
    "data": 1,
    "demo": 1,
    "encoders": 1,
    "results": 1,
    "embed": 2,
    "evaluate": 2,
    "train": 2,
    "report": 2,
    "stats": 2,
    "ui": 2,
    "experiment": 3,
    "jobs": 4,
    "check": 4.5,  # the `check` command's checks: above jobs, below the CLI that prints them
    "cli": 5,
    "__main__": 6,
}
#: Imports between parts of one level, in one direction only: the pages' helpers build on the report
#: tables, which build on the evaluation (metrics, decision rule).
SIDEWAYS = {("ui", "report"), ("report", "evaluate")}
TOP = {"views", "app"}


# ------------------------------------------------------------------------------------ the import graph


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except those under ``if TYPE_CHECKING:``."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        if isinstance(node, ast.If) and _type_checking(node):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name → file, for every module of ``package`` under ``root``."""
    out = {}
    for path in sorted((root / package.replace(".", "/")).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _imported(node: ast.Import | ast.ImportFrom, name: str, path: Path) -> Iterator[tuple[str, str | None]]:
    """(module, attribute) pairs a statement imports; relative imports resolved against ``name``."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield alias.name, None
        return
    base = node.module or ""
    if node.level:
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, *([base] if base else [])])
    for alias in node.names:
        yield base, alias.name


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module → the modules of ``package`` it imports (see the module docstring for what counts)."""
    modules = module_names(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in _import_nodes(ast.parse(path.read_text(), str(path))):
            for module, attribute in _imported(node, name, path):
                if attribute and f"{module}.{attribute}" in modules:
                    graph[name].add(f"{module}.{attribute}")
                elif module in modules:
                    graph[name].add(module)
    for name in graph:
        graph[name].discard(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of two or more modules (Tarjan), each sorted; the list sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _restricted(graph: dict[str, set[str]], prefix: str) -> dict[str, set[str]]:
    inside = {n for n in graph if n == prefix or n.startswith(prefix + ".")}
    return {n: graph[n] & inside for n in inside}


def _part(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else "__init__"


# -------------------------------------------------------------------------------------------- the rules

GRAPH = import_graph(ROOT, "mitoviz")
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)
FOLDERS = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists())


def _imports(path: Path) -> set[str]:
    found = set()
    for node in _import_nodes(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_every_part_has_a_level() -> None:
    parts = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.name != "__init__.py") or (p / "__init__.py").exists()
    }
    assert not parts - set(LEVELS), (
        f"give {sorted(parts - set(LEVELS))} a level in LEVELS (tests/test_layers.py)"
    )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    for module in _imports(path):
        top = module.split(".")[0]
        if top == "streamlit":
            assert own == "ui", f"{path.name} imports streamlit; only mitoviz/ui may"
        assert top not in TOP, f"{path.name} imports the page layer ({module}); pages sit above mitoviz"
        if not module.startswith("mitoviz.") or module == "mitoviz":
            continue
        target = _part(module)
        if target in (own, "errors") or (own, target) in SIDEWAYS:
            continue
        assert target in LEVELS, f"{module} is not in LEVELS (tests/test_layers.py)"
        assert LEVELS[target] < LEVELS[own], (
            f"{own} must not import {module} (level {LEVELS[target]} ≥ {LEVELS[own]})"
        )


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_import_modules_that_exist(path: Path) -> None:
    modules = module_names(ROOT, "mitoviz")
    for node in _import_nodes(ast.parse(path.read_text())):
        for module, attribute in _imported(node, path.stem, path):
            if module.split(".")[0] != "mitoviz":
                continue
            assert module in modules, f"{path.name} imports {module}, which does not exist"
            if attribute and f"{module}.{attribute}" not in modules:
                source = modules[module].read_text()
                assert attribute in source, f"{path.name} imports {attribute} from {module}, which lacks it"


@pytest.mark.parametrize("folder", FOLDERS)
def test_no_import_cycle_inside_a_folder(folder: str) -> None:
    found = cycles(_restricted(GRAPH, f"mitoviz.{folder}"))
    assert not found, "import cycles (see this file's docstring for what counts): " + "; ".join(
        " ↔ ".join(c) for c in found
    )


def test_no_import_cycle_between_folders() -> None:
    parts: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        parts.setdefault(_part(name), set()).update(_part(t) for t in targets)
    found = cycles(parts)
    assert not found, f"folders importing each other: {found}"


# ---------------------------------------------------------------------------- the check finds a cycle


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _names(groups: Iterable[list[str]]) -> list[list[str]]:
    return [sorted(g) for g in groups]


def test_a_planted_cycle_is_found(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/a.py": "from pkg import b\n",
            "pkg/b.py": "def later():\n    import pkg.c\n",  # inside a function: still an edge
            "pkg/c.py": "from pkg.a import thing\n",
            "pkg/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.e import T\n",
            "pkg/e.py": "from pkg.d import x\nimport numpy\n",  # d → e only for type checkers: no cycle
            "pkg/sub/__init__.py": "from pkg.sub.f import y\n",
            "pkg/sub/f.py": "from pkg.sub import z\n",  # a submodule importing its facade: a cycle
            "pkg/sub/g.py": "from . import f\nfrom .. import a\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.b"] == {"pkg.c"} and graph["pkg.d"] == set() and graph["pkg.e"] == {"pkg.d"}
    assert graph["pkg.sub.g"] == {"pkg.sub.f", "pkg.a"}
    assert _names(cycles(graph)) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.sub", "pkg.sub.f"]]
    assert cycles(_restricted(graph, "pkg.sub")) == [["pkg.sub", "pkg.sub.f"]]


def test_no_cycle_without_the_closing_import(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "def __getattr__(name):\n    from pkg import heavy\n    return heavy.f\n",
            "pkg/heavy.py": "import torch\nfrom pkg.light import f\n",
            "pkg/light.py": "def f():\n    import json\n",
        },
    )
    graph = import_graph(tmp_path, "pkg")
    assert graph == {"pkg": {"pkg.heavy"}, "pkg.heavy": {"pkg.light"}, "pkg.light": set()}
    assert cycles(graph) == []
