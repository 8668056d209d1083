"""The engine's modules import each other without a cycle (a lazy import inside a function counts:
it runs in the same process), and none is over the size limit. Read from the source (ast)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_addon_imports import MAX_LINES, find_cycle

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "models")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str]) -> set[str]:
    """Project modules `path` imports; `from pkg import name` counts as pkg.name when that is a module."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    edges = set()
    for name in found & modules:
        if name != own and not own.startswith(name + "."):  # a package's own __init__ is not an edge
            edges.add(name)
    return edges


def import_graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")]
    modules = {module_name(p) for p in files}
    return {module_name(p): imported_modules(p, modules) for p in files}


def test_the_graph_sees_a_cycle_when_there_is_one():
    assert find_cycle({"engine.a": {"engine.b"}, "engine.b": {"engine.a"}}) == ["engine.a", "engine.b", "engine.a"]


def test_engine_modules_import_without_a_cycle():
    graph = import_graph()
    assert "engine.workflow" in graph and graph["engine.workflow"]
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_no_engine_module_is_over_the_size_limit():
    too_long = {str(p.relative_to(REPO)): n for pkg in PACKAGES for p in (REPO / pkg).rglob("*.py")
                if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not too_long, f"modules over {MAX_LINES} lines: {too_long}"
