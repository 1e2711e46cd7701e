"""The E8 answer is generated from the records: planted records where the local arm is clearly ahead, where the
intervals overlap, and where an unconverged backprop arm trails, read back as those verdicts in the paragraph, the
figure and the report's headline."""

from __future__ import annotations

import pytest

from hebbdam.figures import budget_answer as answer


def _patterns(local: tuple, remote: tuple) -> dict:
    """A budget_patterns record with one budget (D = 32, M = 1024): a local and a nonlocal arm, P₀.₉ and bits per
    parameter both (value, low, high)."""

    def arm(locality: str, values: tuple) -> dict:
        value, low, high = values
        capacity = {"level": 0.9, "P_c": value, "P_c_low": low, "P_c_high": high, "P_c_outside": None}
        entry = {"D": 32, "M": 1024, "exact": {"L0.9": capacity}, "information": {"value": value / 100,
                 "low": low / 100, "high": high / 100}}  # fmt: skip
        return {"locality": locality, "budgets": {"D32_M1024": entry}}

    return {"flip_fraction": 0.1, "arms": {"delta": arm("local", local), "pseudo_inverse": arm("nonlocal", remote)}}


def _images(per_k: dict[int, tuple[tuple, tuple, bool]]) -> dict:
    """A budget_images record, one condition and the zero masking: per K, (slot P₀.₉, backprop P₀.₉, backprop
    converged), each (value, low, high)."""

    def entry(k: int, values: tuple, converged: bool | None) -> dict:
        out = {"K": k, "P_0.9": values[0], "P_0.9_low": values[1], "P_0.9_high": values[2]}
        return out if converged is None else {**out, "training": {"converged": converged}}

    slot = {f"K{k}": entry(k, local, None) for k, (local, _, _) in per_k.items()}
    backprop = {f"K{k}": entry(k, remote, c) for k, (_, remote, c) in per_k.items()}
    return {
        "conditions": {"binary_exp": {}},
        "masking": {"zero": 0.0},
        "arms": {
            "slot": {"rule": "slot", "locality": "local", "conditions": {"binary_exp": {"zero": slot}}},
            "backprop": {"rule": "backprop", "locality": "nonlocal", "conditions": {"binary_exp": {"zero": backprop}}},
        },
    }


@pytest.fixture
def planted() -> dict:
    return {
        answer.INPUTS[0]: _patterns((60.0, 58.0, 62.0), (30.0, 29.0, 31.0)),  # local clearly ahead
        answer.INPUTS[1]: _images(
            {
                16: ((30.0, 28.0, 32.0), (10.0, 9.0, 11.0), True),  # local clearly ahead
                64: ((70.0, 65.0, 75.0), (72.0, 69.0, 78.0), True),  # the intervals overlap
                256: ((300.0, 290.0, 310.0), (200.0, 190.0, 210.0), False),  # backprop behind but stopped at its cap
            }
        ),
    }


def test_the_verdict_per_budget_reads_the_intervals_and_convergence(planted):
    rows = answer.rows_of(planted)
    got = {(row["experiment"], row["budget"], row["metric"]): row["verdict"] for row in rows}
    assert got == {
        ("E8a", "D = 32, M = 1024", "P"): "local ahead",
        ("E8a", "D = 32, M = 1024", "I/M"): "local ahead",
        ("E8b", "K = 16, hidden = zero", "P"): "local ahead",
        ("E8b", "K = 64, hidden = zero", "P"): "not resolved",
        ("E8b", "K = 256, hidden = zero", "P"): "not converged",
    }
    k16 = next(row for row in rows if row["budget"].startswith("K = 16"))
    assert (k16["local"].name, k16["nonlocal"].name) == ("slot/binary_exp", "backprop/binary_exp")
    assert (k16["local"].low, k16["nonlocal"].high) == (28.0, 11.0)


def test_nonlocal_ahead_when_its_interval_lies_above(planted):
    planted[answer.INPUTS[0]] = _patterns((30.0, 29.0, 31.0), (60.0, 58.0, 62.0))
    assert {row["verdict"] for row in answer.patterns_rows(planted[answer.INPUTS[0]])} == {"nonlocal ahead"}


def test_the_paragraph_is_generated_from_the_rows_and_opens_the_headline(planted, tmp_path, monkeypatch):
    text = "\n".join(answer.paragraph(planted))
    assert "E8b" in text and "local ahead 1, not resolved 1, not converged 1" in text
    assert "local ahead at: K = 16, hidden = zero; nonlocal ahead at: none." in text
    assert (
        "| E8b | K = 64, hidden = zero | P0.9 | slot/binary_exp 70 [65, 75] | backprop/binary_exp 72 [69, 78] " in text
    )
    assert "(not converged)" in text
    assert len(answer.draw(planted).axes) == 3
    assert answer.lead(planted) == answer.section(planted) == answer.paragraph(planted)
