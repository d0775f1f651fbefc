"""The import direction of DESIGN.md: pages/CLI → jobs → experiment → embed/evaluate/ui →
encoders/data/results → config/errors/files/progress. No module imports one above it, and
nothing outside mitoviz/ui imports Streamlit."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mitoviz"
LEVELS = {
    "errors": 0, "config": 0, "files": 0, "progress": 0,
    "data": 1, "encoders": 1, "results": 1,
    "embed": 2, "evaluate": 2, "ui": 2,
    "experiment": 3,
    "jobs": 4,
    "cli": 5, "__main__": 6,
}
SIDEWAYS = {("ui", "evaluate")}  # the pages' helpers build on the pure summary tables


def _part(module: str) -> str:
    return module.split(".")[1] if module.count(".") >= 1 else "__init__"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "__init__.py" or p.parent != PACKAGE)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    for module in _imports(path):
        if module.split(".")[0] == "streamlit":
            assert own == "ui", f"{path.name} imports streamlit; only mitoviz/ui may"
        if not module.startswith("mitoviz.") or module == "mitoviz":
            continue
        target = _part(module)
        if target in (own, "errors") or (own, target) in SIDEWAYS:
            continue
        assert LEVELS[target] < LEVELS[own], f"{own} must not import {module} (level {LEVELS[target]} ≥ {LEVELS[own]})"
