"""One row of the measured-against-published table: the criterion on both sides, the measurement with its interval,
the published value with its source, and a verdict.

A row compares like with like or says it does not: when the published criterion differs from ours the verdict is
``not comparable`` whatever the numbers; where no paper states a value the published column says so. Figure modules
build rows with :func:`row` in their ``comparisons(metrics)``; ``hebbdam report`` renders them.
"""

from __future__ import annotations

REPRODUCED = "reproduced"  # the published value inside the measured 95% interval, or the measurement in its band
DIRECTION = "direction reproduced"  # a sign-only / qualitative claim holds; the magnitude stands beside the word
CONSISTENT = "consistent"  # only a tolerance we chose decides: rendered "consistent (our tolerance …)"
CENSORED = "censored"  # the measurement sits at a grid edge: a bound, not a value
NOT_COMPARABLE = "not comparable"  # the two sides use different conditions or criteria
INCONCLUSIVE = "inconclusive"  # the measurement's intervals cannot tell (too few samples for the effect)
NOT_REPRODUCED = "not reproduced"
VERDICTS = (REPRODUCED, DIRECTION, CONSISTENT, CENSORED, NOT_COMPARABLE, INCONCLUSIVE, NOT_REPRODUCED)
NO_PUBLISHED_VALUE = "no published value"


def consistent(tolerance: str) -> str:
    """The verdict of a comparison that only our chosen tolerance decides, naming it: "consistent (our tolerance
    ±30%)"."""
    return f"{CONSISTENT} (our tolerance {tolerance})"


def kind(verdict: str) -> str:
    """The vocabulary word of a verdict (a ``consistent (our tolerance …)`` verdict is ``consistent``)."""
    return CONSISTENT if verdict.startswith(CONSISTENT + " (our tolerance ") else verdict


def row(
    quantity: str,
    criterion: str,
    measured,
    published=None,
    source: str = "",
    verdict: str = NOT_COMPARABLE,
    interval: tuple[float, float] | None = None,
    published_criterion: str | None = None,
    note: str = "",
    headline: bool = False,
    band: tuple[float, float] | None = None,
) -> dict:
    """A table row. ``criterion``: what was measured, and how; ``published_criterion``: the paper's, when it differs
    (the verdict is then ``not comparable``); ``interval``: 95% interval of a fraction or a fit; ``band``: the range
    the paper itself states for its value; ``headline``: also listed in the report's headline section (which the
    repository README links). A ``reproduced`` verdict must carry its evidence (:func:`supports`): a row that says
    reproduced without an interval containing the published value, or a band containing the measurement, is refused.
    """
    if kind(verdict) not in VERDICTS:
        raise ValueError(f"verdict: expected one of {', '.join(VERDICTS)}, got {verdict!r}")
    if published is None:
        verdict = NOT_COMPARABLE
    if published_criterion is not None and published_criterion != criterion:
        verdict = NOT_COMPARABLE
    out = {
        "quantity": quantity,
        "criterion": criterion,
        "published_criterion": published_criterion,
        "measured": measured,
        "interval": None if interval is None else [interval[0], interval[1]],
        "published": NO_PUBLISHED_VALUE if published is None else published,
        "band": None if band is None else [band[0], band[1]],
        "source": source,
        "verdict": verdict,
        "note": note,
        "headline": headline,
    }
    if verdict == REPRODUCED and not supports(out):
        raise ValueError(
            f"{quantity}: 'reproduced' needs the published value inside the measured interval or the measurement "
            f"inside the paper's band (interval {interval}, band {band}, measured {measured!r}, "
            f"published {published!r})"
        )
    return out


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def inside(value, bounds) -> bool:
    """``value`` a number in the closed range ``bounds`` (low, high) with both ends numbers."""
    return _number(value) and bounds is not None and all(_number(b) for b in bounds) and bounds[0] <= value <= bounds[1]


def supports(row: dict) -> bool:
    """Whether a row carries the evidence a ``reproduced`` verdict needs: the published value inside the measured
    95% interval, or the measured value inside the paper's stated band."""
    return inside(row.get("published"), row.get("interval")) or inside(row.get("measured"), row.get("band"))


def interval_test(published, interval: tuple[float, float] | None) -> str:
    """REPRODUCED when the published value lies inside the measured 95% interval, else NOT_REPRODUCED."""
    return REPRODUCED if inside(published, interval) else NOT_REPRODUCED


def band_test(measured, band: tuple[float, float]) -> str:
    """REPRODUCED when the measurement lies inside the range the paper states, else NOT_REPRODUCED."""
    return REPRODUCED if inside(measured, band) else NOT_REPRODUCED


def tolerance_test(measured, low: float, high: float, tolerance: str) -> str:
    """Only a tolerance we chose decides: ``consistent (our tolerance …)`` inside [low, high], else NOT_REPRODUCED
    (the row's note should name the tolerance too)."""
    return consistent(tolerance) if inside(measured, (low, high)) else NOT_REPRODUCED


def direction(holds: bool | None) -> str:
    """A sign-only or qualitative claim: DIRECTION when it holds (beyond the intervals), NOT_REPRODUCED when the
    opposite holds, INCONCLUSIVE (None) when the measurement cannot tell."""
    if holds is None:
        return INCONCLUSIVE
    return DIRECTION if holds else NOT_REPRODUCED


def positive(interval: dict | None) -> str:
    """For a claim "> 0" measured as a difference with a 95% interval: DIRECTION when the interval lies above 0,
    NOT_REPRODUCED when it lies below, INCONCLUSIVE when it straddles 0 (or is missing)."""
    if interval is None:
        return INCONCLUSIVE
    return direction(True if interval["low"] > 0 else False if interval["high"] < 0 else None)


def headline_worthy(row: dict) -> bool:
    """The headline table keeps interval tests (a row with an interval or a band) and labelled directions only."""
    return row.get("interval") is not None or row.get("band") is not None or row.get("verdict") == DIRECTION


def wilson(fraction: float, count: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a fraction observed over ``count`` independent trials."""
    if count <= 0:
        return (0.0, 1.0)
    centre = (fraction + z * z / (2 * count)) / (1 + z * z / count)
    half = z / (1 + z * z / count) * ((fraction * (1 - fraction) / count + z * z / (4 * count * count)) ** 0.5)
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))
