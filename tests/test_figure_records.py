"""Figures read explicit record fields (dim, n, N, …), never numbers parsed out of key strings such as "D100"."""

from __future__ import annotations

import math

import pytest

from hebbdam import references as ref
from hebbdam.figures import capacity
from hebbdam.figures.records import dims_of, entries_by


def test_entries_are_found_by_their_fields_not_their_keys():
    arm = {"model": "dense", "D100": {"dim": 100}, "any_name": {"dim": 7}, "scaling": {"exponent": 2.0}}
    assert dims_of(arm) == [7, 100]
    assert list(entries_by({"N8": {"N": 8}, "N16": {"N": 16}, "capacity_N": 8}, "N")) == [8, 16]


def point(arm: str, dim: int, load: float, fraction: float) -> dict:
    return {"arm": arm, "D": dim, "load": load, "retrieved": fraction, "exact": fraction}


def estimates(dim: int, load: float) -> dict:
    return {"dim": dim, "critical_load": load, "exact_capacity_load": load / 2, "fixed_point_capacity_load": load / 2}


@pytest.mark.parametrize("n", [3, 4, 5])
def test_capacity_figure_draws_the_published_law_for_the_arms_own_power(n):
    arms = {
        "hebb_async": {"model": "hopfield", "rule": "hebb", "dynamics": "async", "D20": estimates(20, 0.15)},
        "dam": {
            "model": "dense",
            "rule": "slot",
            "dynamics": "async",
            "separation": f"x^{n}",
            "n": n,
            "rectified": False,
            "size_a": estimates(12, 2.0),  # any key: the figure reads ``dim``
            "size_b": estimates(16, 3.0),
        },
    }
    curves = [point("hebb_async", 20, 0.1, 1.0), point("dam", 12, 1.0, 1.0), point("dam", 16, 4.0, 0.0)]
    figure = capacity.draw({"capacity.json": {"flip_fraction": 0.1, "arms": arms}, "capacity_curves.json": curves})
    laws = [line for line in figure.axes[2].lines if "Krotov & Hopfield 2016" in line.get_label()]
    assert len(laws) == 1 and f"n={n}" in laws[0].get_label()
    grid, values = laws[0].get_data()
    assert values[0] == pytest.approx(ref.dam_no_error_capacity(grid[0], n))
    measured = [line for line in figure.axes[2].lines if line.get_label() == "dam: retrieved ½"]
    assert list(measured[0].get_data()[0]) == [12, 16] and list(measured[0].get_data()[1]) == [24.0, 48.0]


def test_an_estimate_beyond_the_grid_reads_as_a_bound_not_as_a_value():
    """A P_0.9 below the grid is stored as (edge, 0, edge) and one above it as (edge, edge, ∞): the answer's table
    must print "< edge" / "≥ edge", never "edge [0, edge]" (which reads as a measured value)."""
    from hebbdam.figures.records import Candidate

    assert Candidate("prototype", "local", 16.0, 0.0, 16.0).text() == "prototype < 16 (below the grid)"
    above = Candidate("backprop", "nonlocal", 32.0, 32.0, math.inf, converged=False)
    assert above.text() == "backprop ≥ 32 (above the grid) (not converged)"
    assert Candidate("delta", "local", 60.2, 58.9, 61.5).text() == "delta 60.2 [58.9, 61.5]"
