"""The layers (README, "Where things are"): which first-party package may import which, and no
two modules importing each other, however far round. Every import counts, module-level or
inside a function, so the layering cannot decay unnoticed; only imports under
``if TYPE_CHECKING:`` are left out of the circles (never run: the type checker reads them, and
``strawberry.lazy`` when the schema is built, for GraphQL types that name each other)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("registration", "training", "orientation", "reporting")

# What each layer may import besides the standard library, third-party packages and itself.
MAY_IMPORT: dict[str, set[str]] = {
    "contracts": set(),
    "services": set(),  # the namespace itself
    "kit": {"contracts"},
    **{f"services.{name}": {"contracts", "kit"} for name in SERVICES},
    "gateway": {"contracts", "kit"},
    "dn": {"contracts", "kit", *(f"services.{name}" for name in SERVICES)},
}
FIRST_PARTY = ("contracts", "kit", "services", "gateway", "dn", "bench", "tests")


def layer_of(module: str) -> str | None:
    """The layer a dotted module name belongs to; None for other packages."""
    parts = module.split(".")
    if parts[0] not in FIRST_PARTY:
        return None
    if parts[0] == "services":
        return ".".join(parts[:2]) if len(parts) > 1 else "services"
    return parts[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            if target in FIRST_PARTY or target == "services":
                # "from services import reporting": each name is a module of its own.
                found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return found


def layered_files() -> list[Path]:
    return sorted(
        path
        for top in ("contracts", "kit", "services", "gateway", "dn")
        for path in (ROOT / top).rglob("*.py")
    )


def crossings() -> list[str]:
    """Every import that leaves its layer for one it may not use."""
    wrong = []
    for path in layered_files():
        own = layer_of(module_name(path))
        assert own in MAY_IMPORT, f"{path}: in no layer"
        for line, target in imports_of(path):
            layer = layer_of(target)
            if layer in (None, own, "services") or layer in MAY_IMPORT[own]:
                continue
            wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target} ({own} → {layer})")
    return wrong


def test_every_import_stays_within_what_its_layer_may_use() -> None:
    assert len(layered_files()) > 100  # the walk found the code
    assert crossings() == []


@pytest.mark.parametrize(
    ("layer", "target", "allowed"),
    [
        ("kit", "services.reporting.store", False),
        ("kit", "gateway.app", False),
        ("kit", "contracts.envelope", True),
        ("services.training", "services.registration.handlers", False),
        ("services.training", "kit.consumer", True),
        ("gateway", "services.reporting.api", False),
        ("dn", "services.reporting.rebuild", True),
        ("contracts", "kit.settings", False),
    ],
)
def test_the_rules_tell_a_crossing_from_an_allowed_import(
    layer: str, target: str, allowed: bool
) -> None:
    found = layer_of(target)
    assert found is not None
    assert (found == layer or found in MAY_IMPORT[layer]) is allowed


def runtime_imports_of(path: Path) -> list[tuple[int, str]]:
    """:func:`imports_of` less those under ``if TYPE_CHECKING:`` (read by the type checker
    and by ``strawberry.lazy`` when the schema is built, never run on import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    type_only = {
        inner.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for inner in ast.walk(statement)
        if isinstance(inner, ast.Import | ast.ImportFrom)
    }
    return [(line, target) for line, target in imports_of(path) if line not in type_only]


def import_graph() -> dict[str, set[str]]:
    """Module → the first-party modules it imports when run (a name imported from a package
    counts as its module when it is one)."""
    files = {module_name(path): path for path in layered_files()}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = {target for _, target in runtime_imports_of(path) if target in files}
        graph[module] = targets - {module}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_modules_import_each_other_in_a_circle() -> None:
    graph = import_graph()
    assert sum(len(targets) for targets in graph.values()) > 200  # the walk found the arrows
    assert circles(graph) == []


def test_a_circle_is_found_however_long() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [["a", "b", "c"]]
