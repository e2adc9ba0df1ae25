"""The import graph of bulkctl/ has no cycle, counting imports inside functions: every module
is parsed with ``ast`` (never imported), so an import hidden in a function body still counts.
Imports under ``if TYPE_CHECKING:`` are left out: they never run."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "bulkctl"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(source: str, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The bulkctl modules that ``name`` imports anywhere in its source."""
    found: set[str] = set()

    def resolve(target: str) -> None:
        # ``from bulkctl.api import client`` may name a module or an attribute: take the longest
        # known module that the dotted name starts with
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking_only(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                resolve(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            for alias in node.names:
                resolve(f"{module}.{alias.name}")
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source))
    return {m for m in found if m.startswith("bulkctl")}


def import_graph(root: Path) -> dict[str, set[str]]:
    paths = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    known = set(paths)
    return {
        name: imports_of(path.read_text("utf-8"), name, path.name == "__init__.py", known)
        for name, path in paths.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path of module names (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_bulkctl_has_no_import_cycle() -> None:
    graph = import_graph(PACKAGE)
    assert graph.get("bulkctl.commands.list")
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_commands_never_import_other_commands() -> None:
    graph = import_graph(PACKAGE)
    commands = {m for m in graph if m.startswith("bulkctl.commands.") and m.count(".") >= 2}
    leaves = {m for m in commands if not (PACKAGE / Path(*m.split(".")[1:])).is_dir()}
    for module in sorted(leaves):
        assert not (graph[module] & leaves), f"{module} imports {graph[module] & leaves}"


@pytest.mark.parametrize(
    ("files", "cycle"),
    [
        (
            # an import inside a function closes the loop: it counts
            {"a.py": "import bulkctl.b\n", "b.py": "def f():\n    from bulkctl import a\n"},
            ["bulkctl.a", "bulkctl.b", "bulkctl.a"],
        ),
        (
            {
                "__init__.py": "",
                "x/__init__.py": "",
                "x/one.py": "from .two import thing\n",
                "x/two.py": "from ..x import one\n",
            },
            ["bulkctl.x.one", "bulkctl.x.two", "bulkctl.x.one"],
        ),
        (
            # only for the type checker: never runs, no cycle
            {
                "a.py": "import bulkctl.b\n",
                "b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import bulkctl.a\n",
            },
            None,
        ),
    ],
    ids=["inside-a-function", "relative", "type-checking-only"],
)
def test_the_checker_finds_a_planted_cycle(
    tmp_path: Path, files: dict[str, str], cycle: list[str] | None
) -> None:
    root = tmp_path / "bulkctl"
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text)
    assert find_cycle(import_graph(root)) == cycle
