"""The committed laptop record holds the published bands the issues name (regenerate with `make repro FORCE=1`)."""

from __future__ import annotations

import json

from hebbdam import references as ref

from .conftest import REPO_ROOT

METRICS = REPO_ROOT / "reports" / "metrics"


def record(name: str) -> dict:
    return json.loads((METRICS / name).read_text(encoding="utf-8"))


def test_hebb_critical_load_at_500_is_in_the_published_band():
    """Amit, Gutfreund & Sompolinsky's 0.138 plus the finite-D shift: [0.12, 0.16] at D = 500, basin criterion."""
    load = record("capacity.json")["arms"]["hebb_async"]["D500"]["critical_load"]
    assert 0.12 <= load <= 0.16
    assert abs(load - ref.HEBB_CRITICAL_LOAD.value) < 0.03


def test_cubic_dam_stores_far_more_than_d_patterns_at_50():
    arm = record("capacity.json")["arms"]["dam3_async"]["D50"]
    assert arm["critical_load"] * 50 > ref.dam_no_error_capacity(50, 3) > 2 * 50


def test_capacity_exponents_separate_pairwise_from_dense():
    """Slope ≈ 1 for every pairwise rule, ≈ n - 1 = 2 for the cubic DAM (laptop D range)."""
    pairwise = record("ladder_pairwise.json")["arms"]
    for name in ("hebb", "storkey", "pseudo_inverse", "dreaming_t10"):
        assert 0.8 <= pairwise[name]["scaling"]["exponent"] <= 1.2, name
    assert 1.7 <= record("ladder_dense.json")["arms"]["power3"]["scaling"]["exponent"] <= 2.3


def test_a_pipe_inside_a_cell_does_not_split_the_row_of_the_comparison_table():
    """K&H 2019's loss Σ|c − t|^m once split its row into eight cells; every row must keep the header's six."""
    import re

    from hebbdam.report import table

    rows = [{"quantity": "E5 loss Σ|c - t|^m", "criterion": "a | b", "value": 0.5, "verdict": "not comparable"}]
    for line in table(rows):
        assert len(re.split(r"(?<!\\)\|", line.strip())[1:-1]) == 6, line
    committed = (REPO_ROOT / "reports" / "appendix.md").read_text().split("## Measured against published")[1]
    for line in committed.splitlines():
        if line.startswith("| E"):
            assert len(re.split(r"(?<!\\)\|", line.strip())[1:-1]) == 6, line


def test_every_figure_caption_is_a_whole_paragraph():
    """The report once cut four captions mid-sentence ("…as the", "(95%") by taking a docstring's first line."""
    import importlib

    from hebbdam.figures import FIGURES
    from hebbdam.report import caption

    for name in FIGURES:
        text = caption(importlib.import_module(f"hebbdam.figures.{name}").__doc__ or "")
        assert text.endswith((".", ")", ":")), f"{name}: caption ends mid-sentence: …{text[-40:]!r}"
        assert text.count("(") == text.count(")"), f"{name}: unbalanced parenthesis in its caption"


def test_every_figure_module_names_its_claim_and_one_line_of_caveats():
    """Each section of the results document is titled by its claim and ends with one line of caveats."""
    import importlib

    from hebbdam.figures import FIGURES

    for name in FIGURES:
        module = importlib.import_module(f"hebbdam.figures.{name}")
        assert getattr(module, "CLAIM", "").strip(), f"{name}: no CLAIM (the section's title)"
        caveat = getattr(module, "CAVEAT", "")
        assert caveat.strip() and "\n" not in caveat and caveat.endswith("."), (
            f"{name}: CAVEAT must be one sentence line"
        )


def test_the_results_document_opens_with_the_answer_then_five_headline_results():
    """reports/README.md reads like a results section: the E8 answer, five headline results, one section per claim
    with at most five key numbers; the full verdict table lives in the appendix."""
    from hebbdam import report

    text, appendix, headline = report.build_documents(METRICS)
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    from hebbdam.figures import budget_answer

    assert headings[0] == f"## {budget_answer.CLAIM}"
    assert headings[1] == "## Headline numbers"
    listed = text.split("## Headline numbers")[1].split("\n## ")[0]
    assert sum(line[:3] in {f"{i}. " for i in range(1, 10)} for line in listed.splitlines()) == 5
    for block in text.split("\n## ")[2:]:
        bullets = [line for line in block.splitlines() if line.startswith("- ")]
        assert len(bullets) <= report.KEY_NUMBERS, block[:80]
    assert "## Measured against published" not in text and "## Measured against published" in appendix
    assert all(row["quantity"] in appendix for row in headline)


def test_key_numbers_put_interval_tests_before_other_rows():
    """A section shows its headline interval tests first, then rows with an interval, comparable ones first."""
    from hebbdam.report import key_rows

    rows = [
        {"quantity": "plain", "verdict": "reproduced"},
        {"quantity": "interval, not comparable", "interval": [0, 1], "verdict": "not comparable"},
        {"quantity": "interval", "interval": [0, 1], "verdict": "reproduced"},
        {"quantity": "headline", "interval": [0, 1], "verdict": "reproduced", "headline": True},
    ]
    assert [row["quantity"] for row in key_rows(rows, 3)] == ["headline", "interval", "interval, not comparable"]
