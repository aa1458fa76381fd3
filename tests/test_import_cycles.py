"""No import cycles inside shared_schema, lrsim or lrdecode.

Each package's modules are read with `ast` (nothing is imported, so this runs without
TensorFlow) into a graph with one node per module: ``pkg/a.py`` is ``pkg.a``,
``pkg/sub/__init__.py`` is ``pkg.sub``. A directory without ``__init__.py`` is a namespace
package: it has no code, so it is no node. Every import statement counts, wherever it
is: at module level, inside a function (a "lazy" import), under ``if TYPE_CHECKING:``,
in ``try``/``except``; so does ``importlib.import_module("literal.name")``. Relative
imports are resolved against the importing module's package. Imports of modules outside
the package are ignored.

The edges follow what Python's import system executes. For a module M, call the
packages that contain M (and M itself, when M is a package's ``__init__``) M's
*enclosing* packages: Python has started running each of them before M's first line
runs, so importing them again is a no-op and is not, by itself, a dependency of M.

* ``import a.b.c`` (also ``import a.b.c as x``) makes an edge M -> ``a.b.c``, the module
  named, and an edge to each of its parents ``a`` and ``a.b`` that is not enclosing M
  (Python runs every parent package's ``__init__`` before a submodule).
* ``from X import n`` makes an edge M -> ``X.n`` when ``X.n`` is a module (``n`` is a
  submodule), and an edge M -> ``X`` when ``n`` is anything else (a function, a class,
  ``__version__``, ``*``): that reads the names X's code defines. Besides, X and its
  parents that are not enclosing M get an edge, since Python runs them.
* So a package's ``__init__`` importing (re-exporting) its submodules is an edge
  ``__init__`` -> submodule, and a submodule importing a sibling with ``from . import x``
  or ``from pkg.x import y`` or ``import pkg.x`` is an edge to the sibling only, not back
  to the ``__init__`` that is already running: a re-exporting ``__init__`` is no cycle.
  But a submodule that takes a *name* from its package (``from pkg import __version__``,
  ``import pkg`` then ``pkg.thing``) depends on the ``__init__`` that imports it: a cycle,
  which works only while the ``__init__`` happens to define that name before the import.

The test fails when the graph has a strongly connected component of more than one
module (a cycle, direct or around a loop), listing each cycle's modules and the import
lines that close it. Self-imports are ignored.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "shared_schema": ROOT / "shared_schema" / "src" / "shared_schema",
    "lrsim": ROOT / "packages" / "lrsim" / "src" / "lrsim",
    "lrdecode": ROOT / "packages" / "lrdecode" / "src" / "lrdecode",
}


@dataclass(frozen=True)
class Module:
    name: str  # dotted: "lrsim.sweep.merge"; a package's __init__ is the package's name
    path: Path
    is_package: bool

    @property
    def package(self) -> str:
        """The package relative imports are resolved against."""
        return self.name if self.is_package else self.name.rpartition(".")[0]

    @property
    def enclosing(self) -> set[str]:
        """Packages already being run when this module's code runs (and itself)."""
        parts = self.name.split(".")
        return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int


def find_modules(package_dir: Path) -> dict[str, Module]:
    """Every module of the package rooted at package_dir, by dotted name."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = path.relative_to(package_dir.parent).with_suffix("").parts
        if any(not part.isidentifier() for part in parts):
            continue  # not importable (e.g. a folder named with a dash)
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = Module(name, path, is_package)
    return modules


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _resolve(module: Module, level: int, name: str | None) -> str:
    """The absolute name of `from <level dots><name> import ...` written in module."""
    if level == 0:
        return name or ""
    base = module.package.split(".")
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def import_edges(module: Module, modules: dict[str, Module]) -> list[Edge]:
    """The edges module -> other modules of the same package, by the rule of the docstring."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"), filename=str(module.path))
    enclosing = module.enclosing
    edges: list[Edge] = []

    def add(target: str, line: int) -> None:
        if target in modules and target != module.name:
            edges.append(Edge(module.name, target, line))

    def add_runs(target: str, line: int) -> None:
        """Python runs target's parents (and target) unless they are already running."""
        for name in [*_parents(target), target]:
            if name not in enclosing:
                add(name, line)

    def add_import(target: str, line: int) -> None:
        """`import target`: the module named, and the parents Python runs first."""
        add_runs(target, line)
        add(target, line)

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add_import(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node.level, node.module)
            add_runs(source, node.lineno)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if alias.name != "*" and submodule in modules:
                    add(submodule, node.lineno)
                else:
                    add(source, node.lineno)
        elif (
            isinstance(node, ast.Call)
            and (
                (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
            )
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            literal = node.args[0].value
            level = len(literal) - len(literal.lstrip("."))
            add_import(_resolve(module, level, literal.lstrip(".") or None) if level else literal, node.lineno)
    return edges


def strongly_connected_components(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative); components in no particular order, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components


def import_cycles(package_dir: Path) -> list[tuple[list[str], list[Edge]]]:
    """Each cycle (a component of more than one module) with the import lines inside it."""
    modules = find_modules(package_dir)
    all_edges = [edge for module in modules.values() for edge in import_edges(module, modules)]
    graph: dict[str, set[str]] = {}
    for edge in all_edges:
        graph.setdefault(edge.source, set()).add(edge.target)
    cycles = []
    for component in strongly_connected_components(sorted(modules), graph):
        if len(component) > 1:
            members = set(component)
            inside = sorted({e for e in all_edges if e.source in members and e.target in members},
                            key=lambda e: (e.source, e.line, e.target))
            cycles.append((component, inside))
    return sorted(cycles)


def describe(cycles: list[tuple[list[str], list[Edge]]], modules: dict[str, Module]) -> str:
    lines = [f"{len(cycles)} import cycle(s):"]
    for number, (component, inside) in enumerate(cycles, 1):
        lines.append(f"cycle {number}: {', '.join(component)}")
        for edge in inside:
            where = modules[edge.source].path.relative_to(ROOT) if modules[edge.source].path.is_relative_to(
                ROOT) else modules[edge.source].path
            lines.append(f"    {edge.source} -> {edge.target}  ({where}:{edge.line})")
    return "\n".join(lines)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_cycles(package: str) -> None:
    package_dir = PACKAGES[package]
    assert (package_dir / "__init__.py").is_file(), f"{package_dir} is not a package"
    cycles = import_cycles(package_dir)
    if cycles:
        pytest.fail(f"{package}: {describe(cycles, find_modules(package_dir))}", pytrace=False)


# The rule itself, on small packages written for the purpose.

def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path / "pkg"


def _cycles(tmp_path: Path, files: dict[str, str]) -> list[list[str]]:
    return [component for component, _ in import_cycles(_package(tmp_path, files))]


def test_reexporting_init_with_sibling_imports_is_no_cycle(tmp_path: Path) -> None:
    assert _cycles(tmp_path, {
        "__init__.py": "from pkg.a import f\nfrom .b import g\nimport pkg.sub.c\n",
        "a.py": "from . import b\nimport pkg.b\nfrom pkg.sub import c\n\ndef f(): pass\n",
        "b.py": "from pkg.sub.c import h\n\ndef g(): pass\n",
        "sub/__init__.py": "from .c import h\n",
        "sub/c.py": "from .. import errors\nfrom ..errors import E\n\ndef h(): pass\n",
        "errors.py": "class E(Exception): pass\n",
    }) == []


@pytest.mark.parametrize("where", [
    "from . import b\n",  # module level, relative
    "def f():\n    from pkg.b import g\n",  # lazy
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import g\n",  # typing only
    "def f():\n    import importlib\n    importlib.import_module('pkg.b')\n",
])
def test_every_import_counts(tmp_path: Path, where: str) -> None:
    assert _cycles(tmp_path, {"__init__.py": "", "a.py": where, "b.py": "from .a import x\n"}) == [
        ["pkg.a", "pkg.b"]]


@pytest.mark.parametrize("submodule", [
    "def f():\n    from pkg import __version__\n",  # a name the __init__ defines
    "import pkg\n",
    "from . import *\n",
])
def test_a_name_taken_from_the_importing_init_is_a_cycle(tmp_path: Path, submodule: str) -> None:
    assert _cycles(tmp_path, {"__init__.py": "from .a import f\n__version__ = '1'\n", "a.py": submodule}) == [
        ["pkg", "pkg.a"]]


def test_importing_a_submodule_runs_its_package(tmp_path: Path) -> None:
    """`import pkg.sub.c` from pkg.a runs pkg/sub/__init__.py, which imports pkg.a."""
    assert _cycles(tmp_path, {
        "__init__.py": "",
        "a.py": "import pkg.sub.c\n",
        "sub/__init__.py": "from pkg.a import x\n",
        "sub/c.py": "",
    }) == [["pkg.a", "pkg.sub"]]


def test_namespace_folder_is_no_module(tmp_path: Path) -> None:
    assert _cycles(tmp_path, {
        "__init__.py": "",
        "ns/a.py": "from pkg.ns import b\n",
        "ns/b.py": "from ..ns.a import x\n",
    }) == [["pkg.ns.a", "pkg.ns.b"]]
