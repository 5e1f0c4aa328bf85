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

#: The layers, lowest first (CONTRIBUTING.md describes them). A name covers a module or a
#: subpackage (``plots``, ``photo_cli``); the ``machinery`` subpackage's modules sit at three
#: heights (foundations, the model cache, timing), each named where it sits.
LAYERS: dict[str, tuple[str, ...]] = {
    "foundations (machinery)": (
        "machinery.__init__", "machinery._checks", "machinery.paths", "machinery.memory",
        "machinery.progress", "machinery.runtime",
    ),
    "the paper's pieces": (
        "color", "photos", "datasets", "users", "data", "models", "augment", "recipe", "profiles",
    ),
    "the model cache (machinery)": ("machinery.checkpoint", "machinery.pretrained"),
    "training": ("train",),
    "the paper's analyses": (
        "verify", "stats", "claims", "calibration", "defences", "membership", "memorisation",
        "tracing", "twins", "adaptive",
    ),
    "timing it (machinery)": ("machinery.precision_probe", "machinery.throughput"),
    "showing it": ("plots", "widgets"),
    "running it": ("photo_cli", "__init__"),
}  # fmt: skip

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
        graph[module] = {t for t in targets if t and t != module and not _is_ancestor(t, module)}
    return graph


def _layer_of(module: str) -> int:
    """The index of ``module``'s layer: the one naming it or the subpackage it is in."""
    for index, members in enumerate(LAYERS.values()):
        if any(module == m or module.startswith(f"{m}.") for m in members):
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
        if _layer_of(target) > _layer_of(module)
    )
    assert not upward, "imports of a layer above: " + ", ".join(f"{a} -> {b}" for a, b in upward)


def test_a_layer_is_found_by_module_or_subpackage():
    assert _layer_of("plots.core") == _layer_of("widgets")
    assert _layer_of("machinery.runtime") < _layer_of("color") < _layer_of("machinery.checkpoint")
    assert _layer_of("train") < _layer_of("machinery.precision_probe")
    with pytest.raises(AssertionError, match="has no layer"):
        _layer_of("machinery.new_module")  # a module of a split subpackage is named one by one


def test_the_package_has_no_import_circle():
    circle = _cycle(_graph())
    assert not circle, "an import circle: " + " -> ".join(circle)


def test_the_circle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("module", ["train", "machinery.checkpoint"])
def test_training_and_the_cache_import_nothing_about_processes(module):
    """Data-parallel training wraps ``train.fit`` from outside (``train.Parallel``), and the caller
    of ``checkpoint.load_or_train`` decides who writes (issue 29 item 2)."""
    imported = _imported(module, PACKAGE / f"{module.replace('.', '/')}.py")
    about_processes = sorted(
        name for name in imported if any(name.startswith(p) for p in PROCESS_MODULES)
    )
    assert not about_processes, f"anw_helpers/{module}.py imports {about_processes}"


#: The machinery a lesson may import itself: its first cell's banner and lessons 05-06's timing.
LESSON_MACHINERY = ("anw_helpers.machinery.runtime", "anw_helpers.machinery.throughput")


def _machinery_used(lesson: Path) -> list[str]:
    """What ``lesson`` (a py:percent source) imports of the machinery beyond
    :data:`LESSON_MACHINERY`, of the ``anw`` command or of the repository's ``tools``."""
    names = _imported("lesson", lesson)
    return sorted(
        name
        for name in names
        if name.startswith(("anw_helpers.photo_cli", "tools"))
        or (
            name.startswith("anw_helpers.machinery.")
            and not any(name == a or name.startswith(f"{a}.") for a in LESSON_MACHINERY)
        )
    )


def test_lessons_import_the_core_and_only_the_listed_machinery(tmp_path):
    """The top level is what the lessons teach: they never import the ``anw`` command or
    ``tools/`` and reach the machinery only through :data:`LESSON_MACHINERY` (issue 29 item 1)."""
    lessons = sorted((PACKAGE.parent / "notebooks").glob("[0-9][0-9]_*.py"))
    assert lessons
    used = {lesson.name: _machinery_used(lesson) for lesson in lessons}
    assert {name: found for name, found in used.items() if found} == {}
    bad = tmp_path / "99_bad.py"
    bad.write_text("from anw_helpers.machinery import checkpoint\nimport anw_helpers.photo_cli")
    assert _machinery_used(bad) == ["anw_helpers.machinery.checkpoint", "anw_helpers.photo_cli"]
