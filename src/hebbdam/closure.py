"""Which source files a stage's code can reach: the import closure of a module inside the ``hebbdam`` package.

Read statically (``ast``), so nothing is imported: every ``import hebbdam.x`` / ``from .x import y`` / ``from ..x
import y``, at module level or inside a function, counts. ``from .pkg import name`` counts ``pkg/__init__.py`` and,
when ``name`` is a submodule, ``pkg/name.py``. Modules loaded by a computed name (``importlib.import_module(f"…")``)
cannot be seen, so the callers that do that (figures, report) add them explicitly.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = "hebbdam"
SOURCE_ROOT = Path(__file__).resolve().parent  # src/hebbdam


def module_file(module: str) -> Path | None:
    """``hebbdam.memory.dense`` → src/hebbdam/memory/dense.py (or the package's __init__.py); None outside."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    base = SOURCE_ROOT.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _module_name(path: Path) -> str:
    relative = path.relative_to(SOURCE_ROOT.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported_modules(path: Path) -> set[str]:
    """Absolute names of every hebbdam module ``path`` imports (and the submodules ``from`` imports may name).

    The module itself and its parent packages are left out: ``from . import x`` runs no package code that importing
    the module had not run already (Python imports every parent first, and :func:`closure` adds them), so it is no
    edge of the import graph (counting it made every package with such an import a circle)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    parents = {".".join(name.split(".")[:depth]) for depth in range(1, name.count(".") + 2)}
    return {m for m in found if m.split(".")[0] == PACKAGE and m not in parents}


@cache
def closure(module: str) -> frozenset[Path]:
    """Every source file reachable from ``module`` by imports, the module's own file and parent packages included."""
    seen: set[Path] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        parts = name.split(".")
        # importing a.b.c runs a/__init__.py and a/b/__init__.py first
        for depth in range(1, len(parts) + 1):
            path = module_file(".".join(parts[:depth]))
            if path is not None and path not in seen:
                seen.add(path)
                todo.extend(_imported_modules(path))
    return frozenset(seen)


def as_dependencies(files: set[Path] | frozenset[Path], repo_root: Path) -> list[str]:
    """Repository-relative paths, a folder standing for its files when every module in it is reached."""
    files = set(files)
    folders = sorted({f.parent for f in files}, key=lambda p: len(p.parts))
    listed: list[str] = []
    covered: set[Path] = set()
    for folder in folders:
        if folder == SOURCE_ROOT or any(parent in covered for parent in folder.parents):
            continue
        modules = set(folder.rglob("*.py"))
        if modules and modules <= files:
            covered.add(folder)
            listed.append(folder.relative_to(repo_root).as_posix())
    for path in sorted(files):
        if not any(folder in path.parents for folder in covered):
            listed.append(path.relative_to(repo_root).as_posix())
    return sorted(listed)
