"""The continual-learning objectives (lit.continual): A-GEM's loss steps along the projected gradient (never against
the episodic memory's), GEM's along the nearest gradient that raises no episode's loss (the KKT conditions), EWC's
penalty is ½λ Σ F (θ − θ*)², and the diagonal Fisher is the mean squared row gradient."""

from __future__ import annotations

import pytest
import torch

from hebbdam.data.synthetic import flip_bits, rademacher
from hebbdam.lit.backprop import Denoising, MemoryMatrix
from hebbdam.lit.continual import (
    ElasticAnchor,
    EpisodicConstraints,
    cone_weights,
    diagonal_fisher,
)
from hebbdam.memory import Power


def memory_and_data(seed: int = 0):
    memory = MemoryMatrix(8, 24, Power(3), init_std=0.3, seed=seed)
    patterns = rademacher(12, 24, torch.Generator().manual_seed(seed + 1))
    return memory, patterns[:6], patterns[6:]


def gradient(loss: torch.Tensor, memory: MemoryMatrix) -> torch.Tensor:
    (grad,) = torch.autograd.grad(loss, [memory.memories])
    return grad


def joint_gradients(seed: int, episodes: list[torch.Tensor], name: str):
    """The wrapper's gradient g̃ with the task's g and the episodes' G (k, n), computed one loss at a time on the
    flips the wrapper draws (one call over the task's rows, then each episode's, in order)."""
    memory, task, _ = memory_and_data(seed)
    denoising = Denoising(steps=2, flip=0.1)
    generator = torch.Generator().manual_seed(seed)
    noisy = flip_bits(torch.cat([task, *episodes]), 0.1, generator).split([len(task), *map(len, episodes)])

    def loss_of(clean, corrupted):
        return (denoising.recall(memory, corrupted) - clean).pow(2).mean(-1).mean()

    g = gradient(loss_of(task, noisy[0]), memory).reshape(-1)
    rows = torch.stack([gradient(loss_of(e, n), memory).reshape(-1) for e, n in zip(episodes, noisy[1:], strict=True)])
    wrapper = EpisodicConstraints(denoising, episodes, name=name)
    loss, logs = wrapper.loss(memory, (task,), torch.Generator().manual_seed(seed))
    torch.testing.assert_close(loss, loss_of(task, noisy[0]))
    return gradient(loss, memory).reshape(-1), g, rows, logs


@pytest.mark.parametrize("seed", range(6))
def test_agem_steps_along_the_task_gradient_projected_off_the_episodic_one(seed):
    _, _, rest = memory_and_data(seed)
    projected, g, rows, logs = joint_gradients(seed, [rest], "agem")
    r = rows[0]
    dot = float(g @ r)
    expected = g - (dot / float(r @ r)) * r if dot < 0 else g
    torch.testing.assert_close(projected, expected, rtol=1e-4, atol=1e-7)
    assert float(projected @ r) >= -1e-6 * float(g.norm() * r.norm())  # never against the episodic memory
    assert logs["projected"] == float(dot < 0)


def test_some_seed_conflicts_so_the_projection_is_exercised():
    assert any(joint_gradients(seed, [memory_and_data(seed)[2]], "agem")[3]["projected"] for seed in range(6))


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


def test_cone_weights_project_onto_the_orthant_when_the_constraints_are_the_axes():
    # G = I: the cone is z ≥ 0, the nearest point to g = (−1, −2, 3) is (0, 0, 3) = g + (1, 2, 0)
    weights = cone_weights(torch.eye(3), torch.tensor([-1.0, -2.0, 3.0]))
    torch.testing.assert_close(weights, torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64))


@pytest.mark.parametrize(
    "row_scales",
    [(1.0, 1.0, 1.0), (1e6, 1e6, 1e6), (1e-6, 1e-6, 1e-6), (1.0, 1e-3, 1e-6), (1e7, 1.0, 1e-4), (1.0, 0.0, 1.0)],
)
def test_cone_weights_give_the_nearest_point_of_the_cone_whatever_the_gradients_sizes(row_scales):
    # against an independent solver: the dual as non-negative least squares, min_v≥0 ‖Gᵀv + g‖
    from scipy.optimize import nnls

    generator = torch.Generator().manual_seed(7)
    for _ in range(20):
        rows = torch.randn(3, 40, generator=generator, dtype=torch.float64) * torch.tensor(row_scales)[:, None]
        g = torch.randn(40, generator=generator, dtype=torch.float64)
        g = g - 1.5 * rows.sum(0) / rows.norm(dim=1).clamp_min(1e-300).sum()  # against the rows: constraints bind
        projected = g + rows.T @ cone_weights(rows @ rows.T, rows @ g)
        reference = g + rows.T @ torch.from_numpy(nnls(rows.T.numpy(), -g.numpy())[0])
        assert float((projected - reference).norm()) <= 1e-6 * float(g.norm())
        sizes = rows.norm(dim=1).clamp_min(1e-300)
        assert float(((rows @ projected) / sizes).min()) >= -1e-6 * float(g.norm())  # every constraint held


def gem_gradients(seed: int, tasks: int):
    """The GEM gradient with ``tasks`` earlier tasks of 2 patterns each, the task's g and the episodes' G."""
    return joint_gradients(seed, list(memory_and_data(seed)[2][: 2 * tasks].split(2)), "gem")


@pytest.mark.parametrize("seed", range(8))
def test_gem_steps_along_the_nearest_gradient_that_raises_no_episodic_loss(seed):
    # the KKT conditions of min ‖z − g‖² s.t. G z ≥ 0: z = g + Gᵀ v, v ≥ 0, G z ≥ 0, v_k (G z)_k = 0
    projected, g, rows, logs = gem_gradients(seed, tasks=3)
    scale = float(g.norm() * rows.norm(dim=1).max())
    weights = torch.linalg.lstsq(rows.T.double(), (projected - g).double()[:, None]).solution[:, 0]
    torch.testing.assert_close((rows.T.double() @ weights).float(), projected - g, rtol=1e-3, atol=1e-6)
    assert float(weights.min()) >= -1e-4 * float(weights.abs().max().clamp_min(1))
    assert float((rows @ projected).min()) >= -1e-5 * scale
    assert float((weights * (rows @ projected).double()).abs().max()) <= 1e-4 * scale * float(
        weights.abs().max().clamp_min(1)
    )
    assert logs["projected"] == float(bool(((rows @ g) < 0).any()))


def test_some_seed_holds_two_constraints_active_so_the_program_is_exercised():
    active = []
    for seed in range(8):
        projected, g, rows, _ = gem_gradients(seed, tasks=3)
        scale = float(g.norm() * rows.norm(dim=1).max())
        active.append(int(((rows @ projected).abs() <= 1e-5 * scale).sum()))
    assert max(active) >= 2, active


def test_the_episodic_loss_is_the_task_loss_where_there_is_no_episode():
    memory, task, _ = memory_and_data()
    denoising = Denoising(steps=2, flip=0.1)
    loss, _ = EpisodicConstraints(denoising, [task[:0]]).loss(memory, (task,), torch.Generator().manual_seed(0))
    assert torch.equal(loss, denoising.loss(memory, (task,), torch.Generator().manual_seed(0))[0])


def test_a_row_loss_is_the_loss_of_that_row_alone():
    memory, task, _ = memory_and_data()
    denoising = Denoising(steps=2, flip=0.0)  # no flips: nothing random, the rows comparable one by one
    rows = denoising.row_losses(memory, task, torch.Generator())
    alone = torch.stack([denoising.loss(memory, (row[None],), torch.Generator())[0] for row in task])
    torch.testing.assert_close(rows, alone)
