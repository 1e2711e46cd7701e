"""The continual-learning objectives (lit.continual): A-GEM's loss steps along the projected gradient (never against
the episodic memory's), EWC's penalty is ½λ Σ F (θ − θ*)², and the diagonal Fisher is the mean squared row gradient."""

from __future__ import annotations

import pytest
import torch

from hebbdam.data.synthetic import rademacher
from hebbdam.lit.backprop import Denoising, MemoryMatrix
from hebbdam.lit.continual import ElasticAnchor, EpisodicProjection, diagonal_fisher
from hebbdam.memory import Power


def memory_and_data(seed: int = 0):
    memory = MemoryMatrix(8, 24, Power(3), init_std=0.3, seed=seed)
    patterns = rademacher(12, 24, torch.Generator().manual_seed(seed + 1))
    return memory, patterns[:6], patterns[6:]


def gradient(loss: torch.Tensor, memory: MemoryMatrix) -> torch.Tensor:
    (grad,) = torch.autograd.grad(loss, [memory.memories])
    return grad


@pytest.mark.parametrize("seed", range(6))
def test_agem_steps_along_the_task_gradient_projected_off_the_episodic_one(seed):
    memory, task, episodic = memory_and_data(seed)
    denoising = Denoising(steps=2, flip=0.1)
    generator = torch.Generator().manual_seed(seed)  # the wrapper draws the task's flips, then the memory's
    g = gradient(denoising.loss(memory, (task,), generator)[0], memory)
    r = gradient(denoising.loss(memory, (episodic,), generator)[0], memory)
    loss, logs = EpisodicProjection(denoising, episodic).loss(memory, (task,), torch.Generator().manual_seed(seed))
    projected = gradient(loss, memory)
    dot = float((g * r).sum())
    expected = g - (dot / float(r.square().sum())) * r if dot < 0 else g
    torch.testing.assert_close(projected, expected, rtol=1e-4, atol=1e-7)
    assert float((projected * r).sum()) >= -1e-6 * float(g.norm() * r.norm())  # never against the episodic memory
    torch.testing.assert_close(loss, denoising.loss(memory, (task,), torch.Generator().manual_seed(seed))[0])
    assert logs["projected"] == float(dot < 0)


def test_some_seed_conflicts_so_the_projection_is_exercised():
    conflicts = 0
    for seed in range(6):
        memory, task, episodic = memory_and_data(seed)
        _, logs = EpisodicProjection(Denoising(steps=2, flip=0.1), episodic).loss(
            memory, (task,), torch.Generator().manual_seed(seed)
        )
        conflicts += int(logs["projected"])
    assert conflicts >= 1


def test_ewc_adds_half_lambda_fisher_weighted_squared_distance_to_the_anchor():
    memory, task, _ = memory_and_data()
    denoising = Denoising(steps=2, flip=0.1)
    anchor = [memory.memories.detach().clone() + 0.1]
    importance = [torch.rand(memory.memories.shape, generator=torch.Generator().manual_seed(3))]
    loss, logs = ElasticAnchor(denoising, 5.0, anchor, importance).loss(
        memory, (task,), torch.Generator().manual_seed(0)
    )
    plain, _ = denoising.loss(memory, (task,), torch.Generator().manual_seed(0))
    penalty = float((importance[0] * 0.01).sum())
    assert float((loss - plain).detach()) == pytest.approx(2.5 * penalty, rel=1e-4)
    assert float(logs["penalty"]) == pytest.approx(penalty, rel=1e-4)
    unanchored, _ = ElasticAnchor(denoising, 5.0, None, None).loss(memory, (task,), torch.Generator().manual_seed(0))
    assert torch.equal(unanchored, plain)
    with pytest.raises(ValueError, match="strength"):
        ElasticAnchor(denoising, -1.0, None, None)


def test_the_diagonal_fisher_is_the_mean_squared_jacobian_of_the_recall_not_the_squared_loss_gradient():
    memory, task, _ = memory_and_data()
    denoising = Denoising(steps=2, flip=0.0)  # no flips: the corrupted rows are the patterns
    (fisher,) = diagonal_fisher(denoising, memory, task, torch.Generator().manual_seed(0))

    def recall_of(row):
        def output(memories):
            copy = MemoryMatrix(8, 24, Power(3))
            del copy.memories  # a plain tensor in place of the parameter: the Jacobian differentiates through it
            copy.memories = memories
            return denoising.recall(copy, row[None])[0]

        return output

    jacobians = [torch.autograd.functional.jacobian(recall_of(row), memory.memories.detach()) for row in task]
    expected = torch.stack([j.square().sum(0) for j in jacobians]).mean(0)  # (K, D): Σ_i (∂y_i/∂Ξ)², row mean
    torch.testing.assert_close(fisher, expected, rtol=1e-4, atol=1e-8)
    rows = [gradient(denoising.loss(memory, (row[None],), torch.Generator())[0], memory) for row in task]
    empirical = torch.stack(rows).square().mean(0)
    assert float(fisher.sum()) > 10 * float(empirical.sum())  # the empirical Fisher is far smaller
