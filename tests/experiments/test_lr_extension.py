"""An lr sweep never ends at an edge silently (E8b, E8c, sparse): ``experiments.common.extended_sweep`` goes one lr
past the edge the chosen lr sits on, with the same factor, at most twice, and says when the chosen lr is still on an
edge (a sweep of one lr always)."""

from __future__ import annotations

import math

import pytest

from hebbdam.experiments.common import extended_sweep, lr_beyond_edge


def _sweep(optimum: float, lrs: list[float]) -> tuple[list, int, dict]:
    """A planted loss (log lr - log optimum)², one result per lr."""

    def train(values: list[float]) -> list[dict]:
        return [{"lr": lr, "loss": (math.log(lr) - math.log(optimum)) ** 2} for lr in values]

    def best(results: list[dict]) -> int:
        return min(range(len(results)), key=lambda i: results[i]["loss"])

    return extended_sweep(lrs, train, best, lambda r: r["lr"])


def test_an_interior_choice_is_not_extended():
    results, chosen, edge = _sweep(0.01, [0.003, 0.01, 0.03])
    assert len(results) == 3 and results[chosen]["lr"] == 0.01
    assert edge == {"lrs_tried": [0.003, 0.01, 0.03], "lr_at_edge": False}


@pytest.mark.parametrize(
    ("optimum", "tried", "chosen", "at_edge"),
    [
        (1.5, [0.1, 0.3, 1.0, 3.33333], 1.0, False),  # one step up finds the interior optimum near 1
        (3.0, [0.1, 0.3, 1.0, 3.33333, 11.1111], 3.33333, False),
        (100.0, [0.1, 0.3, 1.0, 3.33333, 11.1111], 11.1111, True),  # still at the top after two: flagged
        (0.008, [0.0027, 0.009, 0.03, 0.1, 0.3], 0.009, False),  # downwards, at the bottom's factor 0.03/0.1
        (0.0001, [0.0027, 0.009, 0.03, 0.1, 0.3], 0.0027, True),
    ],
)
def test_a_choice_at_an_edge_is_extended_that_way_at_most_twice(optimum, tried, chosen, at_edge):
    lrs = [0.03, 0.1, 0.3] if optimum < 0.01 else [0.1, 0.3, 1.0]
    results, index, edge = _sweep(optimum, lrs)
    assert edge["lrs_tried"] == pytest.approx(tried) and results[index]["lr"] == pytest.approx(chosen)
    assert edge["lr_at_edge"] is at_edge and len(results) == len(tried)


def test_the_step_past_an_edge_keeps_the_edge_factor():
    assert lr_beyond_edge([0.1, 0.3, 1.0], 1.0) == pytest.approx(1 / 0.3, rel=1e-5)
    assert lr_beyond_edge([0.1, 0.3, 1.0], 0.1) == pytest.approx(0.1 / 3, rel=1e-5)
    assert lr_beyond_edge([0.1, 0.3, 1.0], 0.3) is None and lr_beyond_edge([0.5], 0.5) is None


def test_a_sweep_of_one_lr_is_never_extended_and_always_reads_at_the_edge():
    """One lr gives no factor to step by and no sign that it is interior: tried once, flagged at the edge."""
    results, chosen, edge = _sweep(0.01, [0.01])
    assert len(results) == 1 and results[chosen]["lr"] == 0.01
    assert edge == {"lrs_tried": [0.01], "lr_at_edge": True}
