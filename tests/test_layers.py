"""The package's layers (CONTRIBUTING.md, "Layers"): no import circles, no import of a layer above.

Every ``import`` and ``from ... import`` of every module of ``anw_helpers`` is read with ``ast``,
those inside functions included (a lazy import is still a dependency). A module lives in one layer
of :data:`LAYERS`; it may import its own layer and those below, never one above, and the graph of
the package's modules has no circle. A new module fails here until it is given a layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "anw_helpers"

#: The layers, lowest first (CONTRIBUTING.md describes them).
LAYERS: dict[str, tuple[str, ...]] = {
    "foundations": ("_checks", "paths", "memory", "progress", "runtime"),
    "the paper's pieces": (
        "color", "photos", "datasets", "users", "data", "models", "augment", "recipe", "profiles",
    ),
    "the model cache": ("checkpoint", "pretrained"),
    "training": ("train",),
    "the paper's analyses": (
        "verify", "stats", "claims", "calibration", "defences", "membership", "memorisation",
        "tracing", "twins", "adaptive", "throughput", "precision_probe",
    ),
    "showing it": ("plots", "widgets"),
    "running it": ("photo_cli", "__init__"),
}  # fmt: skip

#: Imports that break the rule, each with why; the test fails when one is gone (then delete it).
KNOWN_EXCEPTIONS: dict[tuple[str, str], str] = {}

#: What "about processes" means for the modules that must not know of them.
PROCESS_MODULES = (
    "tools", "torch.distributed", "torch.multiprocessing", "multiprocessing", "submitit",
    "subprocess",
)  # fmt: skip


def _name(path: Path) -> str:
    """A module's name inside the package: ``train``, ``plots.core``, ``__init__``."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imported(module: str, path: Path) -> set[str]:
    """Every absolute module name ``module`` imports (``from .x import y``: ``anw_helpers.x`` and
    ``anw_helpers.x.y``, either of which may be a module)."""
    package = ["anw_helpers", *module.split(".")[:-1]]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            source = ".".join(base + ([node.module] if node.module else []))
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def _is_ancestor(package_init: str, module: str) -> bool:
    """Whether ``package_init`` (``__init__``, ``plots.__init__``) is a package ``module`` is in:
    Python imports it before ``module`` anyway, so importing it adds no dependency."""
    if not package_init.endswith("__init__"):
        return False
    prefix = package_init.removesuffix("__init__")
    return module.startswith(prefix)


def _graph() -> dict[str, set[str]]:
    """The package's modules (by name inside it) -> the package's modules each imports."""
    modules = _modules()
    by_absolute = {f"anw_helpers.{m}".removesuffix(".__init__"): m for m in modules}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = {by_absolute.get(name) for name in _imported(module, path)}
        graph[module] = {
            t for t in targets if t and t != module and not _is_ancestor(t, module)
        }
    return graph


def _layer_of(module: str) -> int:
    """The index of ``module``'s layer (a subpackage's modules are in the subpackage's)."""
    top = module.split(".")[0]
    for index, members in enumerate(LAYERS.values()):
        if top in members:
            return index
    raise AssertionError(
        f"anw_helpers/{module.replace('.', '/')}.py has no layer: add it to LAYERS in "
        "tests/test_layers.py and to CONTRIBUTING.md's Layers section."
    )


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One circle of imports, as the list of its modules, or [] when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return []


def test_every_module_has_a_layer_and_imports_none_above_it():
    graph = _graph()
    upward = sorted(
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if _layer_of(target) > _layer_of(module) and (module, target) not in KNOWN_EXCEPTIONS
    )
    assert not upward, "imports of a layer above: " + ", ".join(f"{a} -> {b}" for a, b in upward)
    for (module, target), why in KNOWN_EXCEPTIONS.items():
        assert target in graph[module], f"{module} -> {target} is gone ({why}): delete it here"


def test_the_package_has_no_import_circle_but_the_known_exception():
    graph = _graph()
    for module, target in KNOWN_EXCEPTIONS:
        graph[module] = graph[module] - {target}
    circle = _cycle(graph)
    assert not circle, "an import circle: " + " -> ".join(circle)


def test_the_circle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", ["train", "checkpoint"])
def test_training_and_the_cache_import_nothing_about_processes(module):
    """Data-parallel training wraps ``train.fit`` from outside (``train.Parallel``), and the caller
    of ``checkpoint.load_or_train`` decides who writes (issue 29 item 2)."""
    imported = _imported(module, PACKAGE / f"{module}.py")
    about_processes = sorted(
        name for name in imported if any(name.startswith(p) for p in PROCESS_MODULES)
    )
    assert not about_processes, f"anw_helpers/{module}.py imports {about_processes}"


def _importing_tools(modules: dict[str, Path]) -> list[str]:
    """The modules (name -> file) that import the repository's ``tools`` or one of its modules."""
    return sorted(
        module
        for module, path in modules.items()
        if any(name == "tools" or name.startswith("tools.") for name in _imported(module, path))
    )


def test_the_package_imports_nothing_from_tools(tmp_path):
    """The sweep runner and the torchrun entry live in the repository's ``tools/`` (run from a
    clone): an installed package has no ``tools`` to import (issue 29 item 1)."""
    assert _importing_tools(_modules()) == []
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def f():\n    from tools.sweep import parse_grid\n")
    assert _importing_tools({"lazy": lazy}) == ["lazy"]  # the check can fail
