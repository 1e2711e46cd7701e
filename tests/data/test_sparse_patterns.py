"""Sparse 0/1 patterns: exactly k = round(f·D) active units, the modular code's one unit per hypercolumn, cues with
exactly round(removed·k) active units removed and round(added·k) inactive ones added."""

from __future__ import annotations

import pytest
import torch

from hebbdam.data.synthetic import modular, sparse_binary, sparse_cue


@pytest.mark.parametrize("coding", [0.5, 0.1, 0.03, 0.01])
def test_sparse_patterns_have_exactly_k_active_units_at_random_places(coding):
    x = sparse_binary(300, 400, coding, torch.Generator().manual_seed(0))
    assert bool((x.sum(1) == max(1, round(coding * 400))).all())
    assert set(x.unique().tolist()) <= {0.0, 1.0}
    assert float(x.mean(0).std()) < 3 * (coding * (1 - coding) / 300) ** 0.5  # no unit preferred


def test_modular_patterns_have_one_active_unit_per_hypercolumn():
    x = modular(50, 6, 7, torch.Generator().manual_seed(1))
    assert x.shape == (50, 42) and bool((x.view(50, 6, 7).sum(2) == 1).all())


def test_cues_remove_and_add_exact_counts_inside_and_outside_the_pattern():
    x = sparse_binary(40, 200, 0.1, torch.Generator().manual_seed(2))  # k = 20
    cues = sparse_cue(x, 0.5, 0.25, torch.Generator().manual_seed(3))
    assert bool(((cues * x).sum(1) == 10).all())  # 10 of the 20 active units kept
    assert bool(((cues * (1 - x)).sum(1) == 5).all())  # 5 inactive units switched on
    with pytest.raises(ValueError, match="removed"):
        sparse_cue(x, 1.5)
    with pytest.raises(ValueError, match="coding"):
        sparse_binary(3, 10, 0.0)
