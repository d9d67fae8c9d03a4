"""The package's import graph, read with ``ast``: layers import one way and nothing imports in a
circle, type-only imports included (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import SRC

PACKAGE = SRC / "tcpchat"
# Which layers each layer may import. core is the ground: plain Python, no I/O.
ALLOWED = {
    "core": {"core"},
    "server": {"core", "server", "config"},
    "client": {"core", "client", "config"},
    "config": {"core", "config"},
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Every tcpchat module ``path`` imports, wherever the import stands (functions and
    ``if TYPE_CHECKING:`` blocks included)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("tcpchat"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("tcpchat"):
                continue
            for alias in node.names:  # ``from . import codes`` imports the module codes
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in MODULES else target)
    found.discard(name)
    return {m for m in found if m in MODULES}


MODULES = {module_name(p) for p in PACKAGE.rglob("*.py")}
GRAPH = {module_name(p): imports_of(p) for p in PACKAGE.rglob("*.py")}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_each_layer_imports_only_the_layers_below_it() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if layer(module) in ALLOWED
        for target in targets
        if layer(target) not in ALLOWED[layer(module)] and target != "tcpchat"
    ]
    assert wrong == []


def test_no_module_imports_itself_in_a_circle() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_graph_is_read_at_all() -> None:
    assert "tcpchat.core.hub" in GRAPH["tcpchat.server.app"]
    assert {"tcpchat.core.codes", "tcpchat.core.output"} <= GRAPH["tcpchat.core.hub"]
