"""The package's import graph has no circles, and every module imports on its own in a fresh interpreter.

A circle hidden behind an import inside a function (as config.build_model -> unet -> config was) still
counts: the graph is read from every import statement in the source, not from what happens to run.
"""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "diffit"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "__main__.py"}


def imported(name: str, path: Path) -> set[str]:
    """diffit modules that `name` imports anywhere in its source, with the packages whose __init__ they run."""
    is_package = path.name == "__init__.py"
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module
            targets.add(stem)
            targets.update(f"{stem}.{alias.name}" for alias in node.names if f"{stem}.{alias.name}" in MODULES)
    edges = set()
    for target in targets:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__ first
            candidate = ".".join(parts[:i])
            if candidate in MODULES and candidate != name and not name.startswith(candidate + "."):
                edges.add(candidate)
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_graph_reader_sees_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_models_package_imports_its_parts():
    graph = {name: imported(name, path) for name, path in MODULES.items()}
    assert {"diffit.models.config", "diffit.models.unet"} <= graph["diffit.models"]
    assert "diffit.diffusion.edm" in graph["diffit.models.unet"]


def test_no_import_circles():
    graph = {name: imported(name, path) for name, path in MODULES.items()}
    assert cycles(graph) == []


def test_every_module_imports_first_in_a_fresh_interpreter():
    """Each module as the first import of its own interpreter (one process per module would take a minute)."""
    script = ("import importlib, sys\n"
              "for name in sys.argv[1:]:\n"
              "    for loaded in [m for m in sys.modules if m == 'diffit' or m.startswith('diffit.')]:\n"
              "        del sys.modules[loaded]\n"
              "    importlib.import_module(name)\n")
    result = subprocess.run([sys.executable, "-c", script, *MODULES], capture_output=True, text=True, cwd=PACKAGE.parent)
    assert result.returncode == 0, result.stderr
