"""Hebbian writes are sums: two CPU processes on gloo (DDP) write the same memory as one process."""

from __future__ import annotations

import os
import socket
from types import SimpleNamespace

import pytest
import torch

from hebbdam.data.synthetic import rademacher
from hebbdam.errors import HebbdamError
from hebbdam.lit import HebbianModule, store
from hebbdam.rules import get_rule


def can_spawn() -> str | None:
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        return "torch.distributed with the gloo backend is not available"
    try:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
    except OSError as err:
        return f"cannot open a local socket for the process group ({err})"
    return None


REASON = can_spawn()
DDP = {"accelerator": "cpu", "devices": 2, "strategy": "ddp_spawn"}


@pytest.mark.skipif(REASON is not None, reason=REASON or "")
@pytest.mark.slow
def test_two_processes_write_the_same_memory_as_one(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.delenv("MASTER_PORT", raising=False)
    x = rademacher(37, 24, torch.Generator().manual_seed(0))  # odd count: the shards are unequal
    rule = get_rule("dreaming")  # a sum of Hebbian writes, then a finalize that must see the whole sum
    single = store(x, rule, batch_size=5)
    double = store(x, rule, DDP, batch_size=5)
    torch.testing.assert_close(double.stored, single.stored, atol=1e-5, rtol=1e-5)
    assert os.environ.get("LOCAL_RANK") in (None, "0")


def test_a_sequential_rule_refuses_to_be_sharded():
    module = HebbianModule(get_rule("storkey"), 10)
    module._trainer = SimpleNamespace(world_size=2)  # what a 2-device run sets, without spawning one
    with pytest.raises(HebbdamError, match="rule storkey is sequential .* over 2 devices: use devices=1"):
        module.on_train_start()
