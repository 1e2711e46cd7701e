"""Rows of the measured-against-published table compare like with like or say they do not."""

from __future__ import annotations

import pytest

from hebbdam import comparison as cmp
from hebbdam.report import table


def test_a_different_published_criterion_is_never_a_verdict():
    row = cmp.row("q", "ours", 0.5, published=0.5, verdict=cmp.REPRODUCED, published_criterion="theirs")
    assert row["verdict"] == cmp.NOT_COMPARABLE
    same = cmp.row(
        "q", "ours", 0.5, published=0.5, verdict=cmp.REPRODUCED, published_criterion="ours", interval=(0.4, 0.6)
    )
    assert same["verdict"] == cmp.REPRODUCED


def test_no_published_value_is_said_and_not_judged():
    row = cmp.row("q", "ours", 0.5, verdict=cmp.REPRODUCED)
    assert row["published"] == cmp.NO_PUBLISHED_VALUE and row["verdict"] == cmp.NOT_COMPARABLE
    with pytest.raises(ValueError, match="verdict"):
        cmp.row("q", "ours", 0.5, published=1.0, verdict="close enough")


def test_table_states_both_criteria_and_the_interval():
    rows = [
        cmp.row(
            "a",
            "ours",
            0.25,
            published=0.3,
            source="Paper 2000, Eq. (1)",
            interval=(0.2, 0.3),
            published_criterion="theirs",
        ),
        cmp.row(
            "b",
            "same",
            1.0,
            published=1.0,
            source="Paper",
            verdict=cmp.interval_test(1.0, (0.96, 1.0)),
            interval=(0.96, 1.0),
        ),
    ]
    lines = table(rows)
    assert (
        "| a | ours: ours; published: theirs | 0.25 [0.2, 0.3] | 0.3 (Paper 2000, Eq. (1)) | not comparable |"
        in lines[2]
    )
    assert "| b | same | 1 [0.96, 1] | 1 (Paper) | reproduced |" in lines[3]


def test_wilson_interval_contains_the_fraction_and_shrinks_with_count():
    low, high = cmp.wilson(0.3, 100)
    assert low < 0.3 < high
    low2, high2 = cmp.wilson(0.3, 10000)
    assert high2 - low2 < (high - low) / 5
    assert cmp.wilson(1.0, 100)[1] == 1.0 and cmp.wilson(0.0, 100)[0] == 0.0


def test_reproduced_needs_an_interval_or_a_band_that_contains_the_published_side():
    with pytest.raises(ValueError, match="reproduced"):
        cmp.row("q", "ours", 0.16, published=0.138, verdict=cmp.REPRODUCED)  # no interval, no band
    with pytest.raises(ValueError, match="reproduced"):
        cmp.row("q", "ours", 0.16, published=0.138, verdict=cmp.REPRODUCED, interval=(0.15, 0.17))  # misses it
    with pytest.raises(ValueError, match="reproduced"):
        cmp.row("q", "ours", 0.9, published=0.97, verdict=cmp.REPRODUCED, band=(0.97, 1.0))  # outside the band
    assert cmp.row("q", "ours", 0.98, published=0.97, verdict=cmp.REPRODUCED, band=(0.97, 1.0))["band"] == [0.97, 1.0]
    assert cmp.interval_test(0.138, (0.15, 0.17)) == cmp.NOT_REPRODUCED
    assert cmp.band_test(0.98, (0.97, 1.0)) == cmp.REPRODUCED


def test_tolerances_directions_and_inconclusive_are_labelled():
    assert cmp.tolerance_test(16, 11.7, 21.7, "±30%") == "consistent (our tolerance ±30%)"
    assert cmp.kind(cmp.tolerance_test(16, 11.7, 21.7, "±30%")) == cmp.CONSISTENT
    assert cmp.tolerance_test(4, 1.9, 3.5, "±30%") == cmp.NOT_REPRODUCED
    assert cmp.positive({"low": 0.01, "high": 0.03}) == cmp.DIRECTION
    assert cmp.positive({"low": -0.01, "high": 0.03}) == cmp.INCONCLUSIVE
    assert cmp.positive({"low": -0.03, "high": -0.01}) == cmp.NOT_REPRODUCED
    assert cmp.row("q", "ours", 0.02, published="> 0", verdict=cmp.DIRECTION)["verdict"] == "direction reproduced"


def test_every_committed_reproduced_row_carries_its_evidence():
    """Every figure module's rows on the committed metrics: each verdict is a word of the vocabulary, and each
    "reproduced" has the published value inside the measured interval or the measurement inside the paper's band.
    Planted break: the old ±30% tolerance row (McEliece's D/(4 ln D)) labelled "reproduced" fails here."""
    import importlib
    from pathlib import Path

    from hebbdam import io
    from hebbdam.figures import FIGURES

    metrics_dir = Path(__file__).resolve().parents[1] / "reports" / "metrics"
    rows = []
    for name in FIGURES:
        module = importlib.import_module(f"hebbdam.figures.{name}")
        if hasattr(module, "comparisons"):
            rows += module.comparisons({file: io.read_json(metrics_dir / file) for file in module.INPUTS})
    assert rows
    for row in rows:
        assert cmp.kind(row["verdict"]) in cmp.VERDICTS, row["quantity"]
        if row["verdict"] == cmp.REPRODUCED:
            assert cmp.supports(row), row["quantity"]
