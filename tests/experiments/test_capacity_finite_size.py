"""Hebb's α_c extrapolated to D → ∞ (capacity.finite_size): the fit, its bootstrap interval, its verdict, its config."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from hebbdam import comparison as cmp
from hebbdam import references as ref
from hebbdam.config import ConfigError, Params
from hebbdam.errors import HebbdamError
from hebbdam.experiments.capacity import (
    best_exponent,
    finite_size,
    finite_size_intercept,
    fit_form,
    measure_point,
    parse_settings,
)
from hebbdam.figures.capacity import _finite_size_row


def test_intercept_recovers_the_d_to_infinity_value():
    """α_c(D) = 0.138 + 0.6·D^(-1/2) exactly at D = 200 … 2000 → (α_∞, c) = (0.138, 0.6)."""
    dims = [200, 500, 1000, 2000]
    alpha, slope = finite_size_intercept(dims, [0.138 + 0.6 * d**-0.5 for d in dims])
    assert alpha == pytest.approx(0.138, abs=1e-12) and slope == pytest.approx(0.6, abs=1e-10)


def curves(critical: dict[int, list[float]], loads=(0.12, 0.14, 0.16, 0.18, 0.20)) -> dict[int, list[dict]]:
    """Load curves whose trial t at dimension D retrieves everything below ``critical[D][t]`` and nothing above."""
    return {
        dim: [
            {
                "load": load,
                "retrieved": sum(load < c for c in cs) / len(cs),
                "retrieved_trials": [float(load < c) for c in cs],
            }
            for load in loads
        ]
        for dim, cs in critical.items()
    }


@pytest.fixture
def settings(compose_params):
    return parse_settings(Params(yaml.safe_load(compose_params().read_text())), "capacity")


def test_bootstrap_interval_holds_the_fit_and_moves_with_the_data(settings):
    """Trials that cross at 0.138 + 0.6/√D (± a little) give α_∞ near 0.138 inside its own interval; shifting
    every crossing up by 0.02 shifts α_∞ out of the first interval."""
    arm = next(a for a in settings.arms if a.name == "hebb_finite")
    dims = [200, 500, 1000, 2000]

    def fit(shift):
        return finite_size(
            arm, curves({d: [0.138 + shift + 0.6 * d**-0.5 + e for e in (-0.01, 0.0, 0.01)] for d in dims}), settings
        )

    base, shifted = fit(0.0), fit(0.02)
    assert base["form"] == "alpha_inf + c * D^(-1/2)" and [p["dim"] for p in base["critical_loads"]] == dims
    assert [f["exponent"] for f in base["forms"]] == settings.finite_size_exponents
    by_exponent = {f["exponent"]: f for f in base["forms"]}  # α_c(D) falls with D: a slower correction, a lower α_∞
    assert by_exponent[0.25]["alpha_inf"] < by_exponent[0.5]["alpha_inf"] < by_exponent[1.0]["alpha_inf"]
    assert base["alpha_inf_low"] <= base["alpha_inf"] <= base["alpha_inf_high"]
    assert abs(base["alpha_inf"] - 0.138) < 0.01
    assert not base["alpha_inf_low"] <= shifted["alpha_inf"] <= base["alpha_inf_high"]
    for point in base["critical_loads"]:
        assert point["low"] <= point["critical_load"] <= point["high"]


def test_row_is_reproduced_only_when_the_interval_holds_0138():
    """The α_∞ row: reproduced with 0.138 inside [low, high], not reproduced outside; 'reproduced' with an interval
    that misses 0.138 is refused by comparison.row."""

    def arm(low, high):
        fit = {"form": "alpha_inf + c * D^(-1/2)", "alpha_inf": (low + high) / 2, "alpha_inf_low": low}
        fit.update(alpha_inf_high=high, c=0.5, resamples_dropped=0)
        fit["critical_loads"] = [{"dim": 200, "critical_load": 0.17, "low": 0.16, "high": 0.18}]
        return {"rule": "hebb", "dynamics": "sync", "finite_size": fit}

    inside, outside = _finite_size_row("hebb_finite", arm(0.13, 0.15)), _finite_size_row("hebb_finite", arm(0.14, 0.15))
    assert inside["verdict"] == cmp.REPRODUCED and inside["published"] == ref.HEBB_CRITICAL_LOAD.value
    assert outside["verdict"] == cmp.NOT_REPRODUCED
    assert inside["headline"] and cmp.headline_worthy(inside)
    with pytest.raises(ValueError, match="reproduced"):
        cmp.row("q", "c", 0.145, 0.138, verdict=cmp.REPRODUCED, interval=(0.14, 0.15))


@pytest.mark.parametrize("exponent", [0.25, 0.5, 1.0])
def test_best_exponent_and_residual_find_the_form_of_exact_data(exponent):
    """α_c(D) = 0.138 + 0.6·D^(-ν) exactly: the data's own exponent is ν, and ν's form fits with no residual while
    another form leaves one."""
    dims = [200, 500, 1000, 2000]
    loads = [0.138 + 0.6 * d**-exponent for d in dims]
    assert best_exponent(dims, loads) == exponent
    samples = [(dims, loads)]
    assert fit_form(exponent, dims, loads, samples)["rms_residual"] < 1e-9
    assert fit_form(exponent * 2, dims, loads, samples)["rms_residual"] > 1e-4


def form(exponent, low, high):
    return {
        "exponent": exponent,
        "form": f"D^(-{exponent})",
        "alpha_inf": (low + high) / 2,
        "alpha_inf_low": low,
        "alpha_inf_high": high,
        "c": 0.3,
        "rms_residual": 1e-3,
    }


@pytest.mark.parametrize(
    ("intervals", "verdict"),
    [
        ([(0.141, 0.145), (0.134, 0.139), (0.147, 0.151)], cmp.NOT_COMPARABLE),  # the forms disagree on 0.138
        ([(0.141, 0.145), (0.126, 0.135), (0.147, 0.151)], cmp.NOT_COMPARABLE),  # below one, above another: bracketed
        ([(0.141, 0.145), (0.139, 0.140), (0.147, 0.151)], cmp.NOT_REPRODUCED),  # 0.138 below every interval
        ([(0.136, 0.145), (0.134, 0.139), (0.130, 0.151)], cmp.REPRODUCED),  # 0.138 inside under every form
    ],
)
def test_verdict_needs_every_form_to_agree(intervals, verdict):
    """Reproduced / not reproduced only when 0.138 lies inside / on the same side of α_∞'s interval under every fitted
    form; forms that disagree (or bracket it) make the row "not comparable", its note saying "form-dependent" and
    where 0.138 and 0.144 lie for each form; the row's value and interval are the first form's."""
    forms = [form(e, low, high) for e, (low, high) in zip((0.5, 0.25, 1.0), intervals, strict=True)]
    fit = {**{k: v for k, v in forms[0].items() if k not in ("exponent", "rms_residual")}, "forms": forms}
    fit.update(best_exponent=0.2, resamples_dropped=0)
    fit["critical_loads"] = [{"dim": 200, "critical_load": 0.17, "low": 0.16, "high": 0.18}]
    row = _finite_size_row("hebb_finite", {"rule": "hebb", "dynamics": "sync", "finite_size": fit})
    assert row["verdict"] == verdict and row["interval"] == list(intervals[0])
    assert row["note"].startswith("form-dependent") == (verdict == cmp.NOT_COMPARABLE)
    for value in ("0.138", "0.144"):  # each form says whether the RS and the RSB value lie inside its interval
        assert sum(row["note"].count(f"{value} {side}") for side in ("inside", "below it", "above it")) == 3
    assert "ν ≈ 0.2" in row["note"]


def test_finite_size_exponents_are_checked(compose_params):
    """A non-positive exponent is refused in one line naming the key."""
    with pytest.raises(HebbdamError, match="'capacity.finite_size_exponents': expected a non-empty list of numbers"):
        compose_params("capacity.finite_size_exponents=[0.5,0]")


def test_finite_size_needs_arms_with_three_dims(compose_params):
    """Composition refuses it (one line naming the key), and so does the stage's own parser."""
    with pytest.raises(HebbdamError, match="'capacity.finite_size': expected names of arms with at least 3 dims"):
        compose_params("capacity.arms.hebb_finite.dims=[200,500]")
    params = yaml.safe_load(compose_params().read_text())
    params["capacity"]["finite_size"] = ["hebb_nowhere"]
    with pytest.raises(ConfigError, match="capacity.finite_size"):
        parse_settings(Params(params), "capacity")


def test_sync_hebb_crossing_sits_between_0138_and_019_at_d1000(settings, one_thread):
    """The measured arm (synchronous Hebb, exact fields), one trial at D = 1000: almost all patterns retrieved at
    α = 0.12, fewer than half at α = 0.19 (a broken write or dynamics moves the crossing out of that range)."""
    arm = next(a for a in settings.arms if a.name == "hebb_finite")
    one = dataclasses.replace(settings, trials=1)
    assert measure_point(arm, 1000, 0.12, one)["retrieved"] >= 0.9
    assert measure_point(arm, 1000, 0.19, one)["retrieved"] < 0.5
