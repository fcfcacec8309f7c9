"""The product's modules import each other in one direction only.

Read from the source with :mod:`ast`, so the check needs nothing to run: every ``import``
and ``from ... import`` of every product module, function-local ones included, becomes an
edge, and the graph must have no cycle. Layers are checked too: the core (``plugin``)
knows nothing of HTTP, Celery or the packages built on it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("plugin", "ingest", "api", "engine", "cli", "bench", "evaluation", "mappings", "sample_data")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in sorted((REPO / package).rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path]) -> Iterator[str]:
    """The product modules that *path* imports (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for name in names:
            # "import a.b.c" also runs a and a.b; the module named is the edge that matters.
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != own:
                yield name


def import_graph() -> dict[str, set[str]]:
    modules = product_modules()
    return {name: set(imports_of(path, modules)) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of *graph* as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_product_modules_form_a_directed_acyclic_graph() -> None:
    graph = import_graph()

    assert len(graph) > 50, "the product's modules were not found"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    # The check above is only as good as this: a known cycle must be reported, with its path.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


#: What each top-level package may import from the others: arrows point down only.
ALLOWED = {
    "mappings": set(),
    "plugin": {"mappings"},
    "engine": {"plugin"},
    "sample_data": {"plugin"},
    "ingest": {"plugin", "mappings"},
    "api": {"plugin", "ingest"},  # ingest: its package's public names only (see below)
    "evaluation": {"plugin", "api", "ingest", "sample_data"},
    "bench": {"plugin", "api", "ingest", "evaluation", "sample_data", "engine"},
    "cli": set(PACKAGES),
}
#: Libraries of the layers above the core; the core must work without them.
NOT_IN_THE_CORE = ("flask", "werkzeug", "waitress", "celery", "redis", "click")


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_the_layers_below_it(package: str) -> None:
    wrong = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module.split(".")[0] == package
        for target in targets
        if target.split(".")[0] not in ALLOWED[package] | {package}
    )
    assert wrong == []


def test_the_core_knows_nothing_of_http_or_celery() -> None:
    found = []
    for path in sorted((REPO / "plugin").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            found += [f"{module_name(path)} imports {name}" for name in names if name.split(".")[0] in NOT_IN_THE_CORE]
    assert found == []


#: ``lookalike worker`` runs the Celery app and its tasks: the one command that needs them by name.
WORKER_MODULES = {"ingest.celery_app", "ingest.tasks"}


@pytest.mark.parametrize(("user", "package"), [("api", "ingest"), ("cli", "ingest")])
def test_the_api_and_cli_use_ingest_through_its_public_names_only(user: str, package: str) -> None:
    # ingest/__init__.py lists what the API and the command line may use; the rest may change freely.
    reaching_in = sorted(
        f"{module} imports {target}"
        for module, targets in import_graph().items()
        if module.split(".")[0] == user
        for target in targets
        if target.startswith(f"{package}.") and not (user == "cli" and target in WORKER_MODULES)
    )
    assert reaching_in == []
