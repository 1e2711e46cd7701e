"""The README's measured figures come from reports/measured.json (``hebbdam measure``), and the CI scripts name no
file that does not exist."""

from __future__ import annotations

import re

import pytest

from hebbdam import io
from hebbdam.config import REPO_ROOT
from hebbdam.measure import MEASURED, PART_KEYS, SPAN, fill, pytest_counts, widest_line


def test_every_measured_figure_of_the_readme_is_the_measured_one():
    """A number typed over a measured span (or a measurement not copied in) fails: rerun `hebbdam measure`."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    measured = io.read_json(MEASURED)
    assert SPAN.search(text), "README.md has no measured span"
    assert fill(text, measured) == text


def test_every_span_names_a_part():
    keys = {key for keys in PART_KEYS.values() for key in keys}
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert {m["key"] for m in SPAN.finditer(text)} <= keys


def test_fill_replaces_a_typed_number():
    typed = "wide: <!-- measured:exp_show_columns -->139<!-- /measured --> columns"
    assert fill(typed, {"exp_show_columns": 420}) == typed.replace("139", "420")
    assert "hebbdam measure suite" in fill("<!-- measured:suite_minutes -->8<!-- /measured -->", {})


@pytest.mark.parametrize(
    ("summary", "counts"),
    [
        ("520 passed, 1 skipped in 506.21s (0:08:26)", {"passed": 520, "skipped": 1}),
        ("3 failed, 2 passed", {"failed": 3, "passed": 2}),
    ],
)
def test_pytest_counts(summary, counts):
    assert pytest_counts(summary) == counts


def test_widest_line_ignores_trailing_spaces():
    assert widest_line("ab   \nabcd\n") == 4


CI_FILES = re.compile(r"(?<![\w/])\.ci/[\w.-]+")


def test_the_ci_scripts_and_makefile_name_only_files_that_exist():
    """`.ci/pipeline` once named a `.ci/calibrate` that was never written."""
    sources = [*sorted((REPO_ROOT / ".ci").iterdir()), REPO_ROOT / "Makefile", REPO_ROOT / "README.md"]
    named = {m for path in sources for m in CI_FILES.findall(path.read_text(encoding="utf-8"))}
    assert named and not [name for name in named if not (REPO_ROOT / name).exists()]


def test_the_module_imports_on_python_3_10(monkeypatch):
    """requires-python is ≥ 3.10, whose datetime has no ``UTC`` (3.11): the module must not need it."""
    import datetime
    import importlib
    import sys

    monkeypatch.delattr(datetime, "UTC")
    monkeypatch.delitem(sys.modules, "hebbdam.measure")
    module = importlib.import_module("hebbdam.measure")
    assert module.datetime.now(module.timezone.utc).tzinfo is not None
