"""The add-on's modules import each other without a cycle, and none is over the size limit. Read
from the source files (ast), so it runs in the main venv without bpy."""

from __future__ import annotations

import ast
from pathlib import Path

ADDON = Path(__file__).resolve().parents[1] / "blender_addon"
MAX_LINES = 450


def addon_imports(path: Path, modules: set[str]) -> set[str]:
    """The add-on modules `path` imports, at any depth in the file (a lazy import inside a function
    is still an edge: it runs in the same process)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module.split(".")[0])
            else:
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("blender_addon"):
            parts = node.module.split(".")
            found.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
    return found & modules


def import_graph() -> dict[str, set[str]]:
    modules = {p.stem for p in ADDON.glob("*.py") if p.stem != "__init__"}
    return {name: addon_imports(ADDON / f"{name}.py", modules) for name in sorted(modules)}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    colour = {name: 0 for name in graph}  # 0 new, 1 on the current path, 2 done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        colour[name] = 1
        path.append(name)
        for dep in sorted(graph[name]):
            if colour[dep] == 1:
                return path[path.index(dep):] + [dep]
            if colour[dep] == 0:
                cycle = visit(dep)
                if cycle:
                    return cycle
        path.pop()
        colour[name] = 2
        return None

    for name in graph:
        if colour[name] == 0:
            cycle = visit(name)
            if cycle:
                return cycle
    return None


def test_find_cycle_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_addon_modules_import_without_a_cycle():
    graph = import_graph()
    assert "state" in graph and graph["ops_jobs"] >= {"state"}  # the graph is really read
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph))


def test_operator_modules_go_through_state_not_each_other_backwards():
    """Panels and data never import an operator module that imports them back, and only state
    reaches for the preferences."""
    graph = import_graph()
    for name, deps in graph.items():
        if name not in ("state", "__init__"):
            assert "preferences" not in deps, f"{name} reads the preferences directly, not through state"


def test_no_module_over_the_size_limit():
    sizes = {p.name: len(p.read_text().splitlines()) for p in ADDON.glob("*.py")}
    assert max(sizes.values()) <= MAX_LINES, {k: v for k, v in sizes.items() if v > MAX_LINES}


def test_reload_order_puts_every_module_after_what_it_imports():
    """F3 › Reload Scripts reloads the modules in the order __init__ lists: each after its imports,
    and none forgotten."""
    graph = import_graph()
    tree = ast.parse((ADDON / "__init__.py").read_text())
    order = next(node.iter.elts for node in ast.walk(tree) if isinstance(node, ast.For))
    order = [e.value for e in order]
    assert sorted(order) == sorted(graph), set(graph) ^ set(order)
    for i, name in enumerate(order):
        assert graph[name] <= set(order[:i]), (name, graph[name] - set(order[:i]))
