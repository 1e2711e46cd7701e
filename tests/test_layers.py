"""Imports run down the layers of CONTRIBUTING.md, never up, read from the same static import graph that gives each
DVC stage its dependencies (``hebbdam.closure``); and no experiment imports another."""

from __future__ import annotations

from hebbdam.closure import SOURCE_ROOT, _imported_modules, _module_name, module_file

# bottom to top; a module may import its own layer and the layers below it
LAYERS = [
    # tools and tables with no model code: errors, files, params, published numbers, estimators, seeds, the stage
    # table (stages.py imports nothing: entries are module names), the regression gate and comparison rows
    {
        "hebbdam",
        "errors",
        "io",
        "logs",
        "config",
        "selection",
        "schema",
        "engine",
        "references",
        "metrics",
        "seeds",
        "closure",
        "stages",
        "orphan",
    }
    | {"gate", "comparison", "expectations"},
    {"memory"},
    {"dynamics"},
    {"rules"},
    {"data"},
    {"lit", "tracking"},
    {"experiments"},
    {"figures"},
    {"report", "paper_export", "bench", "validation", "runner", "commands", "dvcyaml", "cli", "breaks", "timings"},
]
# the one import that runs up, by design: loading or composing params runs the composition check of every stage
# (``config.load_params`` / ``compose`` → ``validation``, imported inside the function)
UPWARD = {("config", "validation")}


def unit(module: str) -> str:
    """hebbdam.memory.dense → memory; hebbdam.metrics → metrics; hebbdam → hebbdam."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def layer_of(name: str) -> int:
    found = [i for i, layer in enumerate(LAYERS) if name in layer]
    assert len(found) == 1, f"{name}: in {len(found)} layers of tests/test_layers.py (add it to exactly one)"
    return found[0]


def import_edges() -> list[tuple[str, str]]:
    """(importing module, imported module) for every hebbdam import in src/hebbdam (names of modules only, not of the
    functions or classes a ``from`` import takes from them)."""
    return [
        (_module_name(path), imported)
        for path in sorted(SOURCE_ROOT.rglob("*.py"))
        for imported in sorted(_imported_modules(path))
        if module_file(imported) is not None
    ]


def upward_imports(edges: list[tuple[str, str]]) -> list[str]:
    return [
        f"{source} imports {target}"
        for source, target in edges
        if layer_of(unit(target)) > layer_of(unit(source)) and (unit(source), unit(target)) not in UPWARD
    ]


def test_every_module_has_a_layer_and_no_import_runs_up():
    edges = import_edges()
    assert edges
    assert upward_imports(edges) == []


def test_no_experiment_imports_another():
    crossing = [
        f"{source} imports {target}"
        for source, target in import_edges()
        if source.startswith("hebbdam.experiments.")
        and target.startswith("hebbdam.experiments.")
        and target not in (source, "hebbdam.experiments.common", "hebbdam.experiments.arms")  # the shared modules
    ]
    assert crossing == []


def test_an_upward_import_is_caught():
    planted = [("hebbdam.memory.dense", "hebbdam.experiments.capacity"), ("hebbdam.data.recall_tasks", "hebbdam.lit")]
    assert upward_imports(planted) == [f"{s} imports {t}" for s, t in planted]
