"""The house rules, checked on the code itself: no import loops, and a light start-up."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"bench": ROOT / "bench", "bench.strategies": ROOT / "strategies", "bench.tasks": ROOT / "tasks"}


def _modules() -> dict[str, Path]:
    """Every module of the installed `bench` package, by dotted name, as setuptools maps the folders."""
    out = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join([package, *parts])] = path
    return out


def _imports(path: Path, known: set[str]) -> set[str]:
    """The bench modules a file imports, at any depth (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name.startswith("bench"):
                found.add(name)
    return found


def test_no_module_imports_itself_through_others():
    modules = _modules()
    # a module inside a package does not depend on that package's __init__ (a docstring): leave those edges out
    graph = {name: {d for d in _imports(path, set(modules)) if d != name and not name.startswith(d + ".")}
             for name, path in modules.items()}
    cycles, state, stack = [], {}, []

    def visit(node: str) -> None:
        state[node] = "open"
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == "open":
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert cycles == [], "import loops: " + "; ".join(" -> ".join(c) for c in cycles)


def test_listing_and_help_import_no_model_library():
    code = ("import sys\nfrom bench.cli.main import build_parser\nfrom bench.registry import STRATEGIES, TASKS\n"
            "build_parser(); STRATEGIES.entries(); TASKS.entries(); STRATEGIES.get('lora').Config()\n"
            "heavy = {'torch', 'transformers', 'sentence_transformers', 'faiss', 'peft', 'pandas', 'sklearn',"
            " 'matplotlib', 'numpy'} & set(sys.modules)\nprint(sorted(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
