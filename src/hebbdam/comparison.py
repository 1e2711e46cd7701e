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
) -> dict:
    """A table row. ``criterion``: what was measured, and how; ``published_criterion``: the paper's, when it differs
    (the verdict is then ``not comparable``); ``interval``: 95% interval of a fraction or a fit; ``headline``: also
    listed in the report's headline section (which the repository README links)."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict: expected one of {', '.join(VERDICTS)}, got {verdict!r}")
    if published is None:
        verdict = NOT_COMPARABLE
    if published_criterion is not None and published_criterion != criterion:
        verdict = NOT_COMPARABLE
    return {
        "quantity": quantity,
        "criterion": criterion,
        "published_criterion": published_criterion,
        "measured": measured,
        "interval": None if interval is None else [interval[0], interval[1]],
        "published": NO_PUBLISHED_VALUE if published is None else published,
        "source": source,
        "verdict": verdict,
        "note": note,
        "headline": headline,
    }


def within(value: float | None, low: float, high: float) -> str:
    """REPRODUCED when ``value`` lies in [low, high], else NOT_REPRODUCED (None: not reproduced)."""
    return REPRODUCED if value is not None and low <= value <= high else NOT_REPRODUCED


def positive(interval: dict | None) -> str:
    """For an ordering measured as a difference with a 95% interval: REPRODUCED when the interval lies above 0."""
    return REPRODUCED if interval is not None and interval["low"] > 0 else NOT_REPRODUCED


def wilson(fraction: float, count: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a fraction observed over ``count`` independent trials."""
    if count <= 0:
        return (0.0, 1.0)
    centre = (fraction + z * z / (2 * count)) / (1 + z * z / count)
    half = z / (1 + z * z / count) * ((fraction * (1 - fraction) / count + z * z / (4 * count * count)) ** 0.5)
    return (round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4))
