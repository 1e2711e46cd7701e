"""``parallel.map_fits``: the same results, in item order, with one worker and with two; errors and bad settings
surface as one line; the caller's random state survives an in-process map."""

from __future__ import annotations

import pytest
import torch

from hebbdam.errors import HebbdamError
from hebbdam.parallel import map_fits, worker_count


def noisy_fit(size: int) -> tuple[int, list[float]]:
    """A 'fit' that draws from the global random state (as a layer's default initialisation does) and reduces floats:
    its result depends on the call's seeding and on the thread count if either leaks."""
    layer = torch.nn.Linear(size, 3)
    inputs = torch.randn(64, size)
    return size, layer(inputs).sum(dim=0).tolist()


def failing_fit(size: int) -> int:
    if size == 3:
        raise HebbdamError("size 3 cannot fit")
    return size


def test_one_and_two_workers_give_identical_results_in_item_order():
    sizes = [5, 17, 3, 40]
    one = map_fits(noisy_fit, sizes, workers=1)
    two = map_fits(noisy_fit, sizes, workers=2)
    assert [size for size, _ in one] == sizes
    assert one == two  # bit for bit: floats compared exactly


def test_each_call_is_seeded_by_its_index_not_by_what_ran_before():
    alone = map_fits(noisy_fit, [17], workers=1)[0]
    second = map_fits(noisy_fit, [5, 17], workers=1)[1]
    assert alone != second  # index 1 is seeded differently from index 0 ...
    assert map_fits(noisy_fit, [9, 17], workers=1)[1] == second  # ... but not by what ran at index 0


def test_an_in_process_map_gives_the_caller_its_random_state_back():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    map_fits(noisy_fit, [4, 6], workers=1)
    assert torch.equal(torch.rand(3), expected)


def test_a_failing_worker_names_the_fit_and_stops_the_map():
    with pytest.raises(HebbdamError, match=r"fit 1 of 3: size 3 cannot fit"):
        map_fits(failing_fit, [2, 3, 4], workers=2)


@pytest.mark.parametrize("text", ["0", "two", "-1", ""])
def test_a_bad_worker_count_is_refused_in_one_line(monkeypatch, text):
    monkeypatch.setenv("HEBBDAM_WORKERS", text)
    with pytest.raises(HebbdamError, match="HEBBDAM_WORKERS"):
        worker_count(None, 4)


def test_workers_never_outnumber_the_items(monkeypatch):
    monkeypatch.setenv("HEBBDAM_WORKERS", "8")
    assert worker_count(None, 3) == 3
    assert worker_count(2, 0) == 1


def worker_pid(_: int) -> int:
    import os

    return os.getpid()


def test_later_maps_reuse_the_stage_workers_and_give_the_same_results():
    first = set(map_fits(worker_pid, list(range(6)), workers=2))
    second = set(map_fits(worker_pid, list(range(6)), workers=2))
    assert len(first | second) <= 2  # the same two workers (either may have taken every call): no new spawn
    assert map_fits(noisy_fit, [5, 17, 3], workers=2) == map_fits(noisy_fit, [5, 17, 3], workers=1)
