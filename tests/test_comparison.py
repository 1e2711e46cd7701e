"""Rows of the measured-against-published table compare like with like or say they do not."""

from __future__ import annotations

import pytest

from hebbdam import comparison as cmp
from hebbdam.report import table


def test_a_different_published_criterion_is_never_a_verdict():
    row = cmp.row("q", "ours", 0.5, published=0.5, verdict=cmp.REPRODUCED, published_criterion="theirs")
    assert row["verdict"] == cmp.NOT_COMPARABLE
    same = cmp.row("q", "ours", 0.5, published=0.5, verdict=cmp.REPRODUCED, published_criterion="ours")
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
            "b", "same", 1.0, published=1.0, source="Paper", verdict=cmp.within(1.0, 0.99, 1.0), interval=(0.96, 1.0)
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
