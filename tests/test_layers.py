"""Imports run down the layers of CONTRIBUTING.md, never up, read from the same static import graph that gives each
DVC stage its dependencies (``hebbdam.closure``); and no experiment imports another."""

from __future__ import annotations

from hebbdam.closure import SOURCE_ROOT, _imported_modules, _module_name, module_file

# bottom to top; a module may import its own layer and the layers below it
LAYERS = [
    # tools and tables with no model code: errors, files, params, published numbers, estimators, seeds, the stage
    # table (stages.py: entries are module names; it collects the experiments' stages from their settings modules),
    # the regression gate and comparison rows
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
        "stage_spec",  # the Stage and Plot records an experiment's settings module declares its stage with
        "orphan",
        "parallel",
        "settings",  # every stage's settings schema and the rule / memory-kind catalogue: no torch, no model
    }
    | {"gate", "comparison", "expectations"},
    {"memory"},
    {"dynamics"},
    {"rules"},
    {"data"},
    {"tracking"},  # W&B runs: Params in, no model code; the Lightning layer logs through it
    {"lit"},
    {"experiments"},
    {"figures"},
    {"report", "paper_export", "bench", "validation", "composition", "measure", "runner", "commands", "dvcyaml", "cli"}
    | {"breaks", "timings"},
]


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
    return [f"{source} imports {target}" for source, target in edges if layer_of(unit(target)) > layer_of(unit(source))]


def circles(edges: list[tuple[str, str]]) -> list[list[str]]:
    """The import graph's circles: each strongly connected set of two or more modules (Tarjan), sorted."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(source, set())
        graph.setdefault(target, set())
        if source != target:
            graph[source].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            members = []
            while not members or members[-1] != node:
                members.append(stack.pop())
            if len(members) > 1:
                found.append(sorted(members))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_every_module_has_a_layer_and_no_import_runs_up():
    edges = import_edges()
    assert edges
    assert upward_imports(edges) == []


def test_the_import_graph_has_no_circle():
    """No module reaches itself by imports (function-level imports included): a circle makes every module on it
    a dependency of every DVC stage that imports one of them."""
    assert circles(import_edges()) == []


def test_a_circle_is_caught():
    planted = [("hebbdam.config", "hebbdam.validation"), ("hebbdam.validation", "hebbdam.engine")]
    planted += [("hebbdam.engine", "hebbdam.config"), ("hebbdam.io", "hebbdam.errors")]
    assert circles(planted) == [["hebbdam.config", "hebbdam.engine", "hebbdam.validation"]]


def test_no_settings_module_imports_another_stages():
    """A stage's settings module (hebbdam.settings.X) imports only the shared ones (common, arms, catalogue)."""
    shared = {"hebbdam.settings.common", "hebbdam.settings.arms", "hebbdam.settings.catalogue"}
    crossing = [
        f"{source} imports {target}"
        for source, target in import_edges()
        if source.startswith("hebbdam.settings.")
        and target.startswith("hebbdam.settings.")
        and target not in {source} | shared
    ]
    assert crossing == []


def test_no_experiment_imports_another():
    crossing = [
        f"{source} imports {target}"
        for source, target in import_edges()
        if source.startswith("hebbdam.experiments.")
        and target.startswith("hebbdam.experiments.")
        and target not in (source, "hebbdam.experiments.common")  # the shared module
    ]
    assert crossing == []


def test_an_upward_import_is_caught():
    planted = [("hebbdam.memory.dense", "hebbdam.experiments.capacity"), ("hebbdam.data.recall_tasks", "hebbdam.lit")]
    planted += [("hebbdam.config", "hebbdam.validation"), ("hebbdam.tracking", "hebbdam.lit.trainer")]
    assert upward_imports(planted) == [f"{s} imports {t}" for s, t in planted]
