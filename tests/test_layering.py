"""The import picture of pvoice.*: no circles at import time, the labels floor at the bottom, the CLI on top."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"pvoice": "pvoice", "pvoice.model": "model", "pvoice.training": "training", "pvoice.serving": "serving",
           "pvoice.scoring": "scoring", "pvoice.data": "data"}


def _modules() -> dict[str, Path]:
    out = {}
    for package, folder in FOLDERS.items():
        for path in (ROOT / folder).rglob("*.py"):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            if parts[0] == "samples":  # a script beside the data, not part of the package
                continue
            name = ".".join([package, *parts[:-1]] + ([] if parts[-1] == "__init__" else [parts[-1]]))
            out[name] = path
    return out


def _graph() -> dict[str, set[str]]:
    """Module-level imports only: an import inside a function runs later and cannot make a circle."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = deps
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1 and not dep.startswith(node + "."):
                return path[path.index(dep):] + [dep] if dep in path else [node, dep]
            if not state.get(dep) and (found := visit(dep, [*path, dep])):
                return found
        state[node] = 2
        return None

    for start in graph:
        if not state.get(start) and (found := visit(start, [start])):
            return found
    return None


def test_no_import_circles():
    graph = _graph()
    # a package importing its own submodules in __init__ is not a circle; drop those edges
    acyclic = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in graph.items()}
    assert _cycle(acyclic) is None


def test_labels_floor_stands_on_settings_alone_and_only_the_entry_points_import_the_cli():
    graph = _graph()
    for name, deps in graph.items():
        if name.startswith("pvoice.labels"):
            assert all(d.startswith("pvoice.labels") or d == "pvoice.settings" for d in deps), (name, deps)
    assert {m for m, deps in graph.items() if "pvoice.cli" in deps} <= {"pvoice.__main__"}
    assert not [m for m in graph if m.startswith(("pvoice.model", "pvoice.training", "pvoice.serving",
                                                  "pvoice.scoring")) and graph[m] & {"pvoice.cli"}]
