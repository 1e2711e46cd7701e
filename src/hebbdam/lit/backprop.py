"""Backprop training of the same memory objects the Hebbian rules write: W (D, D), a DAM's Ξ (K, D), a feature map.

``BackpropModule(memory, objective)`` = a trainable memory (an energy over states, with parameters) + an objective:

- :class:`Denoising`: corrupt a stored pattern, unroll ``steps`` differentiable recall steps
  s ← tanh(gain · h / rms(h)), h = -∂E/∂s, and score the result against the clean pattern (mean squared error);
- :class:`KrotovHopfield2016`: the dense-memory classifier — visible pixels in [-1, 1] plus C class units; each class
  unit reads c = tanh(β Σ_μ [F(ξ_μ·v⁺) - F(ξ_μ·v⁻)]) with F rectified xⁿ, β = 1/Tⁿ, v± the image with that class
  unit at ±1 and the others at -1; loss Σ_c (c - t_c)^{2m}. Trained with :class:`NormalisedMomentum`.

Every random choice (initial weights, the corruption of each step, the batch order) is a function of ``seed`` and
the step, so a run resumed from a Lightning checkpoint ends bit-for-bit where an uninterrupted run ends (CPU).
"""

from __future__ import annotations

import math
import statistics
from typing import Generic, TypeVar

import pytorch_lightning as pl
import torch
from torch import Tensor, nn

from ..data.synthetic import flip_bits, sparse_cue
from ..errors import DivergedError
from ..memory import DenseAM, Exponential, Hopfield, Power, ProjectionNetwork, RandomFeatureDAM, Separation
from ..memory.core import unit_activity
from ..memory.sparse import projection_threshold
from ..memory.universal import gaussian_denoise


# trainable memories -----------------------------------------------------------------------------------------
class PairwiseWeights(nn.Module):
    """E(s) = -½ sᵀWs with W the symmetric, zero-diagonal part of a free (D, D) parameter."""

    target = "pairwise"

    def __init__(self, dim: int, init_std: float = 0.0, seed: int = 0):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.raw = nn.Parameter(torch.randn(dim, dim, generator=generator) * init_std)
        self.dim = dim

    def weights(self) -> Tensor:
        sym = 0.5 * (self.raw + self.raw.T)
        return sym - torch.diag_embed(torch.diagonal(sym))

    def energy(self, states: Tensor) -> Tensor:
        return -0.5 * ((states @ self.weights()) * states).sum(-1)

    def export(self) -> Hopfield:
        return Hopfield(self.weights().detach().clone())


class MemoryMatrix(nn.Module):
    """E(s) = -Σ_μ F(ξ_μ·s / scale): a DAM whose memory matrix Ξ (K, D) is a parameter (scale D by default)."""

    target = "slots"

    def __init__(
        self,
        count: int,
        dim: int,
        separation: Separation,
        init_mean: float = 0.0,
        init_std: float = 0.1,
        seed: int = 0,
        scale: float | None = None,
    ):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.memories = nn.Parameter(init_mean + init_std * torch.randn(count, dim, generator=generator))
        self.separation = separation
        self.dim = dim
        self.scale = float(dim if scale is None else scale)

    def energy(self, states: Tensor) -> Tensor:
        return -self.separation(states @ self.memories.T / self.scale).sum(-1)

    def field(self, states: Tensor) -> Tensor:
        """h = -∂E/∂s = F'(Ξs/scale) Ξ / scale, (B, D) → (B, D), differentiable in Ξ: the gradient autograd takes of
        :meth:`energy`, written out (the unrolled recall of :class:`Denoising` then needs no double backward: 1.45×
        faster per update at K = 256, D = 64, batch 64)."""
        return self.separation.derivative(states @ self.memories.T / self.scale) @ self.memories / self.scale

    def field_direction(self, states: Tensor) -> Tensor:
        """:meth:`field` up to a positive factor per row, (B, D) → (B, D), finite at any overlap: for the exponential
        softmax(β Ξs/scale) Ξ, the field divided by β/scale · Σ_μ e^{β ξ_μ·s/scale} (e^{β x} itself overflows float32
        past βx ≈ 88: at D = 64, β = D, an overlap of 1.39, which a trained Ξ reaches); for a power the field itself.
        A recall step that normalises h per row (:meth:`Denoising.recall`) takes the same step from either."""
        if isinstance(self.separation, Exponential):
            return unit_activity(states @ self.memories.T / self.scale, self.separation) @ self.memories
        return self.field(states)

    def export(self) -> DenseAM:
        return DenseAM(self.memories.detach().clone(), self.separation)


class FeatureMap(nn.Module):
    """E(s) = -β⁻¹ log(φ(s)·T), φ(s) = [cos Ωs, sin Ωs]/√(F/2): the random-feature (DrDAM) memory with both the
    frequencies Ω (F/2, D) and the stored tensor T (F,) trainable. The kernel sum is floored at 1e-6."""

    target = "features"

    def __init__(
        self,
        dim: int,
        features: int = 256,
        beta: float = 0.05,
        seed: int = 0,
        omega: Tensor | None = None,
        train_frequencies: bool = True,
    ):
        super().__init__()
        if omega is None:
            generator = torch.Generator().manual_seed(seed)
            omega = torch.randn(features // 2, dim, generator=generator) * math.sqrt(beta)
        self.omega = nn.Parameter(omega.float().clone(), requires_grad=train_frequencies)  # given Ω (F/2, D): kept
        self.tensor = nn.Parameter(torch.zeros(2 * self.omega.shape[0]))
        self.beta = beta
        self.dim = dim

    def features(self, states: Tensor) -> Tensor:
        angles = states @ self.omega.T
        return torch.cat([angles.cos(), angles.sin()], dim=-1) / math.sqrt(self.omega.shape[0])

    def write(self, patterns: Tensor) -> None:
        """Initialise T with the Hebbian (additive) write of ``patterns`` (P, D), as the rule does."""
        with torch.no_grad():
            self.tensor.copy_(self.features(patterns).sum(0))

    def energy(self, states: Tensor) -> Tensor:
        return -(self.features(states) @ self.tensor).clamp_min(1e-6).log() / self.beta

    def export(self) -> RandomFeatureDAM:
        """The trained memory as a :class:`RandomFeatureDAM` (same Ω, T and kernel width)."""
        return RandomFeatureDAM.from_tensor(self.omega.detach().clone(), self.tensor.detach().clone(), self.beta)

    def recall_step(self, states: Tensor, field: Tensor, gain: float) -> Tensor:
        """DrDAM recall is gradient descent on E: s ← clamp(s - ∂E/∂s, -1, 1) (for the exact Gaussian energy,
        -∂E/∂s = ξ̄(s) - s, the kernel-weighted mean of the memories minus s, so one step lands on ξ̄)."""
        return (states + field).clamp(-1.0, 1.0)


Denoisable = PairwiseWeights | MemoryMatrix | FeatureMap  # the memories :class:`Denoising` trains
Denoised = TypeVar("Denoised", bound=Denoisable)


class SoftmaxDenoiser(nn.Module):
    """D_θ(x; σ) = softmax_μ(-‖x - θ_μ‖² / 2σ²) θ: a softmax memory whose K rows θ (K, D) are the parameters (the
    empirical optimal denoiser when θ is the training set)."""

    target = "slots"

    def __init__(self, start: Tensor):
        super().__init__()
        self.theta = nn.Parameter(start.detach().clone())

    def denoise(self, states: Tensor, sigma: Tensor | float) -> Tensor:
        """(B, D) noisy states at noise level σ (a number or (B, 1)) → (B, D) denoised."""
        return gaussian_denoise(states, self.theta, sigma, exact=False)


# objectives -------------------------------------------------------------------------------------------------
class ScoreMatching:
    """Denoising score matching with EDM's weighting λ(σ) = 1/σ²: σ log-uniform in [σ_min, σ_max] per row,
    loss mean ‖D_θ(ξ + σε; σ) - ξ‖² / σ² (every noise level counts)."""

    name = "score_matching"

    def __init__(self, sigma_min: float, sigma_max: float):
        if not 0 < sigma_min <= sigma_max:
            raise ValueError(f"sigma_min, sigma_max: expected 0 < σ_min ≤ σ_max, got {sigma_min}, {sigma_max}")
        self.log_lo, self.log_hi = math.log(sigma_min), math.log(sigma_max)

    def loss(self, memory: SoftmaxDenoiser, batch: tuple[Tensor, ...], generator: torch.Generator):
        clean = batch[0]
        uniform = torch.rand(clean.shape[0], 1, generator=generator)
        sigma = torch.exp(self.log_lo + (self.log_hi - self.log_lo) * uniform).to(clean.device)
        noisy = clean + sigma * torch.randn(clean.shape, generator=generator).to(clean.device)
        error = (memory.denoise(noisy, sigma) - clean).square().sum(-1, keepdim=True)
        return (error / sigma**2).mean(), {}


class Denoising:
    """Flip ``flip`` of the bits of each clean ±1 pattern, run ``steps`` relaxation steps, MSE against the clean one.

    The feature map uses its own ``recall_step(states, field, gain)`` instead of the tanh step.
    """

    name = "denoise"

    def __init__(self, steps: int = 3, flip: float = 0.1, gain: float = 3.0):
        if steps < 1 or not 0 <= flip <= 1 or not gain > 0:
            raise ValueError(f"steps, flip, gain: expected ≥ 1, [0, 1], > 0, got {steps}, {flip}, {gain}")
        self.steps, self.flip, self.gain = steps, flip, gain

    def recall(self, memory: Denoisable, states: Tensor) -> Tensor:
        """``steps`` differentiable steps s ← tanh(gain · h / rms(h)), h = -∂E/∂s (or the memory's own
        ``recall_step``). (B, D) → (B, D)."""
        with torch.enable_grad():
            for _ in range(self.steps):
                field = self.field(memory, states)
                if isinstance(memory, FeatureMap):
                    states = memory.recall_step(states, field, self.gain)
                else:
                    rms = field.pow(2).mean(-1, keepdim=True).add(1e-12).sqrt()
                    states = torch.tanh(self.gain * field / rms)
        return states

    @staticmethod
    def field(memory: Denoisable, states: Tensor) -> Tensor:
        """h = -∂E/∂s, (B, D) → (B, D), up to a positive factor per row (the recall step divides it out),
        differentiable in the memory's parameters: a memory matrix's written-out field, finite at any overlap
        (:meth:`MemoryMatrix.field_direction`), or autograd's gradient of the energy (with a graph to train through)."""
        if isinstance(memory, MemoryMatrix):
            return memory.field_direction(states)
        if not states.requires_grad:
            states = states.detach().requires_grad_(True)
        (field,) = torch.autograd.grad(-memory.energy(states).sum(), states, create_graph=True)
        return field

    def loss(self, memory: Denoisable, batch: tuple[Tensor, ...], generator: torch.Generator) -> tuple[Tensor, dict]:
        clean = batch[0]
        final = self.recalled(memory, clean, generator)
        loss = (final - clean).pow(2).mean()
        overlap = (torch.sign(final.detach()) * clean).mean()
        return loss, {"overlap": overlap}

    def row_losses(self, memory: Denoisable, clean: Tensor, generator: torch.Generator) -> Tensor:
        """The loss of each row alone, (B, D) → (B,): every row is recalled independently of the others, so the loss
        of any set of rows is the mean of theirs (one forward pass serves several losses)."""
        return (self.recalled(memory, clean, generator) - clean).pow(2).mean(-1)

    def recalled(self, memory: Denoisable, clean: Tensor, generator: torch.Generator) -> Tensor:
        """Where :meth:`recall` takes ``clean`` (B, D) with ``flip`` of each row's bits flipped: (B, D)."""
        return self.recall(memory, flip_bits(clean.cpu(), self.flip, generator).to(clean.device))


class SparseCompletion:
    """One-step completion of sparse 0/1 patterns by a pairwise W (the ``projection`` read-out, as the sparse race
    reads it): a cue c switches off round(``removed``·k) of a pattern's k active units (and on round(``added``·k)
    inactive ones; a fresh cue per row and update), unit i is on when its field (W c)_i exceeds θ = ½|c|/(f·D)
    (:class:`hebbdam.memory.ProjectionNetwork`), trained through the surrogate σ(``gain``·((W c)_i − θ)) with the
    binary cross-entropy against the clean pattern (mean over units and rows). ``coding`` f = k/D."""

    name = "sparse_completion"

    def __init__(self, coding: float, removed: float, added: float = 0.0, gain: float = 4.0):
        if not 0 < coding < 1 or not 0 <= removed <= 1 or not added >= 0 or not gain > 0:
            raise ValueError(
                f"coding, removed, added, gain: expected (0, 1), [0, 1], ≥ 0, > 0, got {coding}, {removed}, {added}, "
                f"{gain}"
            )
        self.coding, self.removed, self.added, self.gain = coding, removed, added, gain

    def logits(self, memory: PairwiseWeights, cues: Tensor) -> Tensor:
        """(B, D) 0/1 cues → (B, D) gain·(field − θ): positive where the read-out switches the unit on."""
        return self.gain * (cues @ memory.weights() - projection_threshold(cues, self.coding))

    def loss(self, memory: PairwiseWeights, batch: tuple[Tensor, ...], generator: torch.Generator):
        clean = batch[0]
        cues = sparse_cue(clean.cpu(), self.removed, self.added, generator).to(clean.device)
        logits = self.logits(memory, cues)
        loss = nn.functional.binary_cross_entropy_with_logits(logits, clean)
        exact = ((logits > 0).to(clean.dtype) == clean).all(-1).float().mean()
        return loss, {"exact": exact}

    def export(self, memory: PairwiseWeights) -> ProjectionNetwork:
        """The trained W as the read-out the race scores (float64, zero diagonal, θ = ½|c|/(f·D))."""
        return ProjectionNetwork(memory.weights().detach().double().clone(), self.coding)


class KrotovHopfield2016:
    """The dense-memory classifier: ``classes`` label units after the pixels; F = ReLU(x)ⁿ; β = 1/Tⁿ; loss power 2m."""

    name = "classify"

    def __init__(self, classes: int = 10, n: int = 3, temperature: float = 30.0, m: int = 3):
        if classes < 2 or n < 1 or not temperature > 0 or m < 1:
            raise ValueError(
                f"classes, n, temperature, m: expected ≥ 2, ≥ 1, > 0, ≥ 1, got {classes}, {n}, {temperature}, {m}"
            )
        self.classes, self.n, self.temperature, self.m = classes, n, temperature, m
        self.beta = temperature ** (-n)

    def outputs(self, memory: MemoryMatrix, images: Tensor) -> Tensor:
        """Class-unit outputs (B, C) in (-1, 1) for images (B, D) with pixels in [-1, 1].

        β F(x) = (ReLU(x) / T)ⁿ: the temperature divides before the power, so F never overflows (n = 20 at D = 784
        gives xⁿ ≈ 10⁴⁶, beyond float32)."""
        xi = memory.memories
        visible, label = xi[:, : -self.classes], xi[:, -self.classes :]  # (K, D), (K, C)
        base = (images @ visible.T - label.sum(1)) / self.temperature  # (B, K): every class unit at -1, over T
        off = torch.relu(base).pow(self.n)[:, None, :]  # (B, 1, K)
        on = torch.relu(base[:, None, :] + 2.0 * label.T[None, :, :] / self.temperature).pow(self.n)  # (B, C, K)
        return torch.tanh((on - off).sum(-1))

    def loss(self, memory: MemoryMatrix, batch: tuple[Tensor, ...], generator: torch.Generator) -> tuple[Tensor, dict]:
        images, labels = batch
        out = self.outputs(memory, images)
        target = -torch.ones_like(out)
        target.scatter_(1, labels[:, None], 1.0)
        loss = (out - target).pow(2 * self.m).sum(-1).mean()
        accuracy = (out.argmax(-1) == labels).float().mean()
        return loss, {"accuracy": accuracy}


class Readout(nn.Module):
    """A trainable readout V (C, K) from K fixed hidden activities to C class units (the K&H 2019 top layer)."""

    target = "readout"

    def __init__(self, hidden: int, classes: int = 10):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(classes, hidden))


class TopLayer:
    """K&H 2019's supervised top layer on frozen hidden activity h (B, K): c = tanh(β V h), loss Σ_c |c - t_c|^m
    with ±1 targets (their eq. 11); the decision is argmax_c V h."""

    name = "top_layer"

    def __init__(self, beta: float = 1.0, m: int = 6):
        if not beta > 0 or m < 1:
            raise ValueError(f"beta, m: expected > 0 and ≥ 1, got {beta}, {m}")
        self.beta, self.m = beta, m

    def loss(self, memory: Readout, batch: tuple[Tensor, ...], generator: torch.Generator) -> tuple[Tensor, dict]:
        hidden, labels = batch
        scores = hidden @ memory.weights.T
        target = -torch.ones_like(scores)
        target.scatter_(1, labels[:, None], 1.0)
        loss = (torch.tanh(self.beta * scores) - target).abs().pow(self.m).sum(-1).mean()
        return loss, {"accuracy": (scores.argmax(-1) == labels).float().mean()}


READOUT_CHUNK = 256  # images per block of the (B, C, K) readout temporary of :func:`class_field`


def class_field(memories: Tensor, images: Tensor, n: int, classes: int) -> Tensor:
    """Σ_μ [F(ξ_μ·v⁺) - F(ξ_μ·v⁻)] per class unit, F = ReLU(x)ⁿ: the argument of the K&H 2016 class-unit tanh
    (``KrotovHopfield2016.outputs`` = tanh(β · this)). (K, D + C), (B, D) → (B, C), float64, in image blocks."""
    xi = memories.double()
    visible, label = xi[:, :-classes], xi[:, -classes:]
    parts = []
    for start in range(0, images.shape[0], READOUT_CHUNK):
        base = images[start : start + READOUT_CHUNK].double() @ visible.T - label.sum(1)  # (B, K): all units at -1
        off = torch.relu(base).pow(n)[:, None, :]
        on = torch.relu(base[:, None, :] + 2.0 * label.T[None]).pow(n)  # (B, C, K): unit c at +1
        parts.append((on - off).sum(-1))
    return torch.cat(parts)


def error_rate(memories: Tensor, images: Tensor, labels: Tensor, n: int, classes: int) -> float:
    """Fraction of images whose largest class unit is not their label."""
    predicted = class_field(memories, images, n, classes).argmax(-1).cpu()
    return float((predicted != labels.cpu()).double().mean())


def classifier_memory(pixels: int, classes: int = 10, count: int = 100, n: int = 3, seed: int = 0) -> MemoryMatrix:
    """A (K, pixels + classes) memory matrix with rectified xⁿ, initialised N(-0.3, 0.3) as in K&H 2016's code."""
    return MemoryMatrix(count, pixels + classes, Power(n, rectified=True), -0.3, 0.3, seed, scale=1.0)


class Plateau(pl.Callback):
    """The stopping rule on the training criterion, read per ``unit``: "update" (the mean training loss of each block
    of ``window`` updates), "epoch" (each epoch's mean training loss, ``train/loss_epoch``; for fits whose epochs
    hold many updates, as :func:`fit_until_plateau` makes them) or "validation" (``val_loss`` after each validation;
    E9's fits, whose held-out loss is their criterion). After each block or epoch, the fit stops and is
    marked ``converged`` when the losses read since the last reading at least ``window`` updates back lie within a
    relative ``tolerance`` of each other (a flat window: neither falling nor recovering from an overshoot), or when
    the loss read is at most ``floor`` (the criterion is solved: a loss falling towards 0 keeps falling by relative
    steps). Otherwise the fit runs to its cap and ``converged`` stays False (a loss of such a fit is no result about
    the optimiser). Per update, that compares two consecutive window means: |before − now| ≤ tolerance·min.

    A flat window is read against the fit's start, the first reading (the first window's, epoch's or validation's
    loss): a fit whose loss, flat and above ``floor``, is not below that first reading by more than the relative
    ``tolerance`` (nor, with ``noise``, by more than ``noise`` standard errors of the first and last windows) is
    ``stalled``, not ``converged``: the optimiser never moved the loss (a vanishing gradient, an lr too small), so its
    loss is no result about the optimiser either. A stalled fit stops as a converged one does (its loss is flat: the
    cap would spend updates on a loss that, by the same test, is not moving, and every other field of the fit stays
    what the flat reading gives); a loss at ``floor`` from the first reading on is solved, hence converged. The start
    is a reading, not the very first update's loss (one minibatch under fresh flips scatters too much to compare): a
    fit that finishes its whole fall inside its first window or epoch also reads stalled, which says that window is
    too long to show its fit, not that the fit converged.

    ``noise`` > 0 (unit "update" or "epoch") also counts a window as flat when the two window means differ by at most
    ``noise`` standard errors of their difference: a minibatch loss with fresh random flips at every update
    (denoising) scatters by far more than 1% around its mean once the stored set is solved, so a relative tolerance
    alone never reads it as flat. The error is that of the paired differences d_i = before_i − now_i of the two
    windows' per-update losses, s_d/√w: with batches in a fixed order and a window of whole epochs (:meth:`align`),
    update i of each window sees the same batch, so the pairs cancel what differs between batches (at E8a's loads,
    a batch of slot-held patterns at loss ≈ 0 and one beyond them at ≈ 1.9) and leave the flips' scatter; unpaired
    windows count the batches' spread as noise and read a loss still falling by a quarter as flat. A loss still
    falling by more than its own scatter per window is not flat; one falling slower than that is, at this window
    (a longer window resolves a slower trend). Unit "epoch" shuffles the batches per epoch, so no pairing holds
    there: the two windows' scatter adds (E7's fits: a task's few patterns repeated into every batch, each batch a
    fresh draw of them, so a batch's composition is part of the noise, not a structure to cancel).

    ``confirm`` > 1 stops only after that many consecutive flat readings (``flats``; a reading that is not flat
    resets the count): one pair of windows of a slowly falling, noisy loss passes either test by chance about as
    often as the threshold allows (E8a, D = 64, K = 64, P = 72: one flat pair at update 600, loss 0.028, then a
    window 43% lower), and every further pair that must agree divides that chance again.

    ``restarts`` > 0 does not accept the first ``restarts`` flat readings above ``floor``: each clears the
    optimisers' state (``trainer.optimizers``: Adam's moments and step count, so the next update is a fresh Adam's)
    and starts the count of flat readings again; the fit stops on the next flat reading after the last restart (or at
    ``floor``, or the cap). A flat loss can be the optimiser's, not the objective's (E7: 7 of 20 plain fits read flat
    at loss 0.013-0.025, where a fresh Adam, whose first steps move every weight by about lr, reaches the floor in 50
    updates). One restart is a partial cure: at other lrs some E7 fits read flat again after it, and only a longer
    run after the kick frees them. ``restarted`` counts the restarts spent."""

    UNITS = ("update", "epoch", "validation")

    def __init__(
        self,
        window: int = 50,
        tolerance: float = 0.01,
        floor: float = 1e-6,
        unit: str = "update",
        noise: float = 0.0,
        confirm: int = 1,
        restarts: int = 0,
    ):
        if window < 1 or not tolerance >= 0 or not floor >= 0 or unit not in self.UNITS or not noise >= 0:
            raise ValueError(
                f"window, tolerance, floor, unit, noise: expected ≥ 1, ≥ 0, ≥ 0, one of {self.UNITS}, ≥ 0, got "
                f"{window}, {tolerance}, {floor}, {unit!r}, {noise}"
            )
        if confirm < 1:
            raise ValueError(f"confirm: expected ≥ 1 consecutive flat readings, got {confirm}")
        if restarts < 0:
            raise ValueError(f"restarts: expected ≥ 0 optimiser restarts, got {restarts}")
        if noise > 0 and unit == "validation":
            raise ValueError(
                "noise: the noise test reads per-update training losses (unit update or epoch), got unit validation"
            )
        self.window, self.tolerance, self.floor, self.unit, self.noise = window, tolerance, floor, unit, noise
        self.confirm, self.restarts = confirm, restarts
        self.restarted = 0  # restarts spent
        self.flats = 0  # consecutive flat readings up to the last one
        self.updates: list[float] = []  # every update's training loss (unit "update")
        self.steps: list[int] = []  # the update count at each reading
        self.losses: list[float] = []  # the loss of each reading: a block's or an epoch's mean
        self.converged = False
        self.stalled = False  # flat, above the floor, and not below the first reading: the optimiser never moved it

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.update(trainer, float(outputs["loss"] if isinstance(outputs, dict) else outputs))

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self.unit == "epoch":
            self.read(trainer, trainer.global_step, float(trainer.callback_metrics["train/loss_epoch"]))

    @property
    def keeps_updates(self) -> bool:
        """Whether every update's loss is kept: unit "update" (its readings), or unit "epoch" with the noise test."""
        return self.unit == "update" or (self.unit == "epoch" and self.noise > 0)

    def update(self, trainer, loss: float) -> None:
        """One update's training loss, kept where :attr:`keeps_updates`; with unit "update" a reading after every
        ``window`` of them. ``trainer``: what the fit stops by (its ``should_stop``)."""
        if not self.keeps_updates:
            return
        self.updates.append(loss)
        if self.unit == "update" and len(self.updates) % self.window == 0:
            self.read(trainer, len(self.updates), sum(self.updates[-self.window :]) / self.window)

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if self.unit == "validation" and not trainer.sanity_checking:
            self.read(trainer, trainer.global_step, float(trainer.callback_metrics["val_loss"]))

    def read(self, trainer, step: int, loss: float) -> None:
        """Record one reading (the update count and its loss) and stop the fit when it is flat or at the floor."""
        self.steps.append(step)
        self.losses.append(loss)
        self.flats = self.flats + 1 if loss > self.floor and self.flat() else 0
        if self.flats >= self.confirm and self.restarted < self.restarts:
            self.restart(trainer)
            return
        if loss <= self.floor or self.flats >= self.confirm:
            self.stalled = loss > self.floor and not self.fell()
            self.converged = not self.stalled
            trainer.should_stop = True

    def restart(self, trainer) -> None:
        """Clear every optimiser's state (a fresh Adam from the next update on) instead of stopping on a flat
        reading; the count of flat readings starts again."""
        for optimiser in trainer.optimizers:
            optimiser.state.clear()
        self.restarted += 1
        self.flats = 0

    def fell(self) -> bool:
        """Whether the last reading lies below the first by more than ``tolerance`` of the first and, with the noise
        test, by more than ``noise`` standard errors of the first and the last window of per-update losses."""
        first, now = self.losses[0], self.losses[-1]
        if first - now <= self.tolerance * abs(first):
            return False
        return not self.noise_equal(self.updates[: self.window], self.updates[-self.window :])

    def flat(self) -> bool:
        """Whether the readings since the last one at least ``window`` updates back agree within ``tolerance``."""
        step = self.steps[-1]
        starts = [i for i, s in enumerate(self.steps) if s <= step - self.window]
        if not starts:
            return False
        recent = self.losses[starts[-1] :]
        return max(recent) - min(recent) <= self.tolerance * max(min(recent), 1e-30) or self.within_noise()

    def within_noise(self) -> bool:
        """Whether the last two windows of per-update losses (``noise`` > 0) have means within ``noise`` standard
        errors of their difference."""
        if len(self.updates) < 2 * self.window:
            return False
        return self.noise_equal(self.updates[-2 * self.window : -self.window], self.updates[-self.window :])

    def noise_equal(self, before: list[float], now: list[float]) -> bool:
        """Whether two windows of per-update losses (``window`` each; ``noise`` > 0, else False) have means within
        ``noise`` standard errors of their difference. Unit "update" (batches in a fixed order, windows of whole
        epochs): the error of the paired differences d_i = before_i − now_i, s_d/√w. Unit "epoch" (batches shuffled
        per epoch, so update i of one window and of the next see unrelated batches): the unpaired error
        √((s_before² + s_now²)/w)."""
        if not self.keeps_updates or self.noise <= 0 or len(before) < self.window or len(now) < self.window:
            return False
        if self.unit == "update":
            differences = [b - n for b, n in zip(before, now, strict=True)]
            difference = statistics.fmean(differences)
            error = statistics.stdev(differences) / math.sqrt(self.window) if self.window > 1 else 0.0
        else:
            difference = statistics.fmean(before) - statistics.fmean(now)
            spread = statistics.variance(before) + statistics.variance(now) if self.window > 1 else 0.0
            error = math.sqrt(spread / self.window)
        return abs(difference) <= self.noise * error

    def align(self, period: int) -> None:
        """Round the window up to whole epochs of ``period`` updates (batches in a fixed order), so that the paired
        updates of two windows see the same batch (:meth:`noise_equal`)."""
        self.window = -(-self.window // period) * period

    @property
    def final(self) -> float:
        """The mean training loss of the last ``window`` updates (of every update when fewer; unit "update"), or
        the last reading (unit "epoch": the last epoch's training loss; "validation": the last validation loss)."""
        if self.unit != "update":
            return self.losses[-1] if self.losses else math.nan
        last = self.updates[-self.window :]
        return sum(last) / len(last) if last else math.nan


def fit_denoising(
    trainable: Denoised,
    patterns: Tensor,
    flip: float,
    steps: int = 3,
    gain: float = 3.0,
    lr: float = 0.01,
    updates: int = 500,
    batch_size: int = 4,
    seed: int = 0,
    trainer_options: dict | None = None,
    logger="auto",
    plateau: Plateau | None = None,
) -> BackpropModule[Denoised]:
    """Train ``trainable`` on :class:`Denoising` over ``patterns`` (P, D), in order, for ``updates`` gradient steps
    rounded up to whole epochs (the same number of updates at any P); returns the trained module. A plateau with a
    noise test reads windows of whole epochs (:meth:`Plateau.align`). ``trainer_options``:
    the ``trainer`` section; ``logger`` as :func:`hebbdam.lit.trainer.build_trainer` takes it.

    With a :class:`Plateau`, ``updates`` is a cap: the fit stops once the training loss has stopped falling, and
    ``module.fit_summary`` holds ``updates`` (taken), ``converged``, ``stalled`` (flat at its start:
    :class:`Plateau`) and ``loss`` (the last window's mean); such a fit
    runs in :func:`hebbdam.lit.loop.fit_plain` where :func:`~hebbdam.lit.loop.plain_loop_applies` (else Lightning)."""
    from .loop import fit_plain, plain_loop_applies

    module = BackpropModule(trainable, Denoising(steps=steps, flip=flip, gain=gain), lr=lr, seed=seed)
    batches = math.ceil(patterns.shape[0] / batch_size)  # per epoch, in order
    epochs = math.ceil(updates / batches)
    if plateau is not None and plateau.noise > 0:
        plateau.align(batches)
    if plateau is not None and plain_loop_applies(trainer_options, logger):
        taken = fit_plain(module, patterns, batch_size, epochs, plateau=plateau)
    else:
        callbacks = [] if plateau is None else [plateau]
        fit_backprop(module, patterns, batch_size, epochs, trainer_options, logger=logger, callbacks=callbacks)
        taken = module.global_step
    if plateau is not None:
        module.fit_summary = {
            "updates": taken,
            "converged": plateau.converged,
            "stalled": plateau.stalled,
            "loss": plateau.final,
        }
    return module


def fit_backprop(
    module: BackpropModule,
    patterns: Tensor,
    batch_size: int,
    epochs: int,
    trainer_section: dict | None,
    labels: Tensor | None = None,
    shuffle: bool = False,
    name: str | None = None,
    logger="auto",
    callbacks: list | None = None,
) -> BackpropModule:
    """The one fit of this module's trainers: ``epochs`` passes over ``patterns`` (P, D) (with ``labels`` (P,)) in
    batches of ``batch_size`` rows, in order or shuffled per (seed, epoch), through :func:`hebbdam.lit.trainer.fit`
    (the ``trainer`` section; ``name`` labels its checkpoints; ``callbacks``: e.g. a :class:`Plateau`). Returns
    ``module``, trained."""
    from .data import PatternDataModule
    from .trainer import fit

    data = PatternDataModule(patterns, batch_size, labels=labels, shuffle=shuffle, seed=module.seed)
    fit(module, data, trainer_section, name=name, max_epochs=epochs, logger=logger, callbacks=callbacks or [])
    return module


def fit_until_plateau(
    module: BackpropModule,
    patterns: Tensor,
    batch_size: int,
    cap: int,
    patience: int,
    tolerance: float,
    trainer_section: dict | None,
    labels: Tensor | None = None,
    floor: float = 0.0,
    updates_per_epoch: int | None = None,
    logger=False,
    noise: float = 0.0,
    confirm: int = 1,
    restarts: int = 0,
) -> dict:
    """Train ``module`` on ``patterns`` (P, D) (with ``labels`` (P,)), shuffled per (seed, epoch), until
    :class:`Plateau` read per epoch (window ``patience`` updates, ``tolerance``, ``floor``, ``noise``, ``confirm``,
    ``restarts`` of the optimiser on a flat reading) stops it or ``cap`` gradient updates are spent.
    ``updates_per_epoch``: an epoch (the plateau's check) repeats the rows so that it holds at least this many batches
    (a small P would otherwise pay Lightning's per-epoch cost at every update).
    Returns {updates, epochs, converged, stalled, loss (the last epoch's mean training loss)} and, with ``restarts``,
    ``restarts`` (spent); a cap reached before the plateau reads not converged, a plateau at the start's loss stalled
    and not converged (:class:`Plateau`).
    Runs in :func:`hebbdam.lit.loop.fit_plain` where :func:`~hebbdam.lit.loop.plain_loop_applies` (else
    Lightning)."""
    from .data import PatternDataModule
    from .loop import fit_plain, plain_loop_applies
    from .trainer import fit

    repeats = 1 if updates_per_epoch is None else max(1, math.ceil(updates_per_epoch * batch_size / patterns.shape[0]))
    rows = patterns.repeat(repeats, 1)
    labels = None if labels is None else labels.repeat(repeats)
    plateau = Plateau(patience, tolerance, floor, unit="epoch", noise=noise, confirm=confirm, restarts=restarts)
    epochs = math.ceil(cap / math.ceil(rows.shape[0] / batch_size))
    if plain_loop_applies(trainer_section, logger):
        taken = fit_plain(module, rows, batch_size, epochs, cap, labels=labels, shuffle=True, plateau=plateau)
    else:
        data = PatternDataModule(rows, batch_size, labels=labels, shuffle=True, seed=module.seed)
        trainer = fit(
            module, data, trainer_section, max_epochs=epochs, max_steps=cap, callbacks=[plateau], logger=logger
        )
        taken = trainer.global_step
    return {
        "updates": int(taken),
        "epochs": len(plateau.losses),
        "converged": plateau.converged,
        "stalled": plateau.stalled,
        "loss": plateau.final,
        **({"restarts": plateau.restarted} if restarts else {}),
    }


# optimiser --------------------------------------------------------------------------------------------------
class CpuAdam(torch.optim.Adam):
    """``torch.optim.Adam``, bit for bit, less its per-step query for a CUDA graph capture where every parameter is
    on the CPU (no graph can capture a CPU step). That query asks NVML for the CUDA device count at every step (with
    Lightning's ``PYTORCH_NVML_BASED_CUDA_CHECK=1``, and uncached until CUDA is initialised): 0.26 ms per update on a
    machine with no driver, 6.5% of E8b's CPU in a profile of its laptop run."""

    def _accelerator_graph_capture_health_check(self) -> None:
        if any(p.device.type != "cpu" for group in self.param_groups for p in group["params"]):
            super()._accelerator_graph_capture_health_check()


class NormalisedMomentum(torch.optim.Optimizer):
    """K&H 2016's update: each memory's (row's) gradient divided by its largest |entry|, momentum, then the
    weights clipped to [-clip, clip]. v ← momentum·v - g/max|g|; ξ ← clip(ξ + lr·v)."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.6, clip: float = 1.0):
        if not lr > 0 or not 0 <= momentum < 1 or not clip > 0:
            raise ValueError(f"lr, momentum, clip: expected > 0, [0, 1), > 0, got {lr}, {momentum}, {clip}")
        super().__init__(params, dict(lr=lr, momentum=momentum, clip=clip))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad.reshape(param.shape[0], -1) if param.ndim > 1 else param.grad[None]
                norm = grad.abs().amax(1, keepdim=True).clamp_min(1e-30)
                step = (grad / norm).reshape(param.shape)
                state = self.state[param]
                velocity = state.get("velocity")
                velocity = -step if velocity is None else group["momentum"] * velocity - step
                state["velocity"] = velocity
                param.add_(velocity, alpha=group["lr"]).clamp_(-group["clip"], group["clip"])
        return loss


# the module -------------------------------------------------------------------------------------------------
Trained = TypeVar("Trained", bound=nn.Module)  # the memory a BackpropModule trains


def step_generator(seed: int, step: int, rank: int = 0) -> torch.Generator:
    """The generator of update ``step`` (0-based) of process ``rank`` of a fit seeded ``seed``: its corruptions and
    cues are a function of these alone, so a resumed fit, the Lightning fit and the plain loop draw the same."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step * 7919 + rank)


class BackpropModule(pl.LightningModule, Generic[Trained]):
    """Gradient training of ``memory`` on ``objective``.

    ``optimizer``: "adam" (denoising), "sgd" (with ``momentum``) or "normalised" (:class:`NormalisedMomentum`,
    the K&H 2016 classifier);
    ``anneal``: the learning rate is multiplied by it after every epoch (1 keeps it constant).

    A LightningModule, as every rule of the product trains, though its small full-batch memorisation fits run
    through :func:`hebbdam.lit.loop.fit_plain` (the same arithmetic, without Lightning's per-step hooks, about half
    of such a fit's CPU) wherever the trainer section asks only for one CPU process.
    """

    fit_summary: dict  # {updates, converged, stalled, loss}: set by fit_denoising with a Plateau

    def __init__(
        self,
        memory: Trained,
        objective,
        lr: float = 0.01,
        optimizer: str = "adam",
        momentum: float = 0.6,
        anneal: float = 1.0,
        seed: int = 0,
    ):
        super().__init__()
        if optimizer not in ("adam", "sgd", "normalised"):
            raise ValueError(f"optimizer: expected adam, sgd or normalised, got {optimizer!r}")
        self.memory, self.objective = memory, objective
        self.lr, self.optimizer_name, self.momentum, self.anneal, self.seed = lr, optimizer, momentum, anneal, seed

    @property
    def rule_name(self) -> str:
        return f"backprop/{self.objective.name}"

    def optimiser(self) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.ExponentialLR]:
        """The optimiser (``optimizer``: Adam, SGD or :class:`NormalisedMomentum`) and its learning-rate schedule
        (×``anneal`` per epoch), as both the Lightning fit and :func:`hebbdam.lit.loop.fit_plain` step them."""
        optimizer: torch.optim.Optimizer
        if self.optimizer_name == "adam":
            optimizer = CpuAdam(self.memory.parameters(), lr=self.lr)
        elif self.optimizer_name == "sgd":
            optimizer = torch.optim.SGD(self.memory.parameters(), lr=self.lr, momentum=self.momentum)
        else:
            optimizer = NormalisedMomentum(self.memory.parameters(), lr=self.lr, momentum=self.momentum)
        return optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=self.anneal)

    def configure_optimizers(self):
        optimizer, scheduler = self.optimiser()
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}

    def step_loss(self, batch: tuple[Tensor, ...], step: int, rank: int = 0) -> tuple[Tensor, dict]:
        """The objective's loss (a scalar) and metrics on ``batch`` at update ``step`` (0-based) of process
        ``rank``, its random draws from :func:`step_generator`."""
        return self.objective.loss(self.memory, batch, step_generator(self.seed, step, rank))

    def training_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> Tensor:
        rank = self._trainer.global_rank if self._trainer is not None else 0
        loss, metrics = self.step_loss(batch, self.global_step, rank)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        for name, value in metrics.items():
            self.log(f"train/{name}", value, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, ...], batch_idx: int) -> None:
        generator = torch.Generator().manual_seed(self.seed + 17 + batch_idx)
        with torch.enable_grad():
            loss, metrics = self.objective.loss(self.memory, batch, generator)
        self.log("val/loss", loss, on_epoch=True)
        for name, value in metrics.items():
            self.log(f"val/{name}", value, on_epoch=True, prog_bar=True)

    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None) -> None:
        # checked here, before any callback (a checkpoint) can see the weights of this step
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        self.check_finite(self.global_step + 1, self.current_epoch, batch_idx)

    def check_finite(self, step: int, epoch: int, batch_idx: int) -> None:
        """Raise :class:`DivergedError` (naming ``step``, ``epoch`` and ``batch_idx``) if a parameter is not finite."""
        for name, param in self.memory.named_parameters():
            if not bool(torch.isfinite(param).all()):
                raise DivergedError(
                    f"rule {self.rule_name}: parameter '{name}' became non-finite at step {step} "
                    f"(epoch {epoch}, batch {batch_idx}, lr={self.lr}); lower the learning rate; "
                    "the last checkpoint written is unchanged"
                )


def accuracy(module: BackpropModule, images: Tensor, labels: Tensor) -> float:
    """Test accuracy of a trained K&H 2016 classifier on images (N, D) in [-1, 1]."""
    with torch.no_grad():
        out = module.objective.outputs(module.memory, images)
    return float((out.argmax(-1) == labels).float().mean())


def digits_classifier(
    epochs: int = 40,
    count: int = 100,
    n: int = 3,
    temperature: float = 20.0,
    m: int = 3,
    lr: float = 0.02,
    anneal: float = 0.98,
    seed: int = 0,
    trainer_section: dict | None = None,
) -> tuple[BackpropModule, dict]:
    """Train the K&H 2016 classifier on scikit-learn digits (pixels → [-1, 1]); return it and its accuracies."""
    from .data import digits

    train_x, train_y, test_x, test_y = digits(seed=seed)
    train_x, test_x = 2 * train_x - 1, 2 * test_x - 1
    module = BackpropModule(
        classifier_memory(train_x.shape[1], 10, count, n, seed),
        KrotovHopfield2016(10, n, temperature, m),
        lr=lr,
        optimizer="normalised",
        anneal=anneal,
        seed=seed,
    )
    fit_backprop(module, train_x, 100, epochs, trainer_section, labels=train_y, shuffle=True, name="digits_classifier")
    result = {
        "epochs": epochs,
        "memories": count,
        "n": n,
        "train_accuracy": accuracy(module, train_x, train_y),
        "test_accuracy": accuracy(module, test_x, test_y),
    }
    return module, result
