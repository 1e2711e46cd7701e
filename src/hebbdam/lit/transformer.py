"""Backprop training of a memory used as the token mixer of a small network (E9), as a LightningModule.

Two networks around one memory (``memory.mixers``), both trained by autograd:

- :class:`KeyValueNet` (Schlag, Irie & Schmidhuber 2021's one-layer retrieval model): the token of pair s is
  x_s = [E(key_s), onehot(value_s)]; keys k_s = W_k x_s (d_key), write strengths β_s = σ(w_β·x_s) (the delta
  rule's; the others ignore them), values the fixed one-hot vectors; the query key's embedding gives q = W_q E(key).
  The memory written by all pairs is read once per query; the read itself, ŷ (N,), is the answer; loss
  ½‖ŷ - onehot(answer)‖² (their criterion), accuracy argmax ŷ.
- :class:`RecallTransformer` (Zoology's MQAR setting): token + position embeddings, ``layers`` pre-norm blocks of
  [short causal depthwise convolution → q, k (d_key), v (d_model), β → memory → linear] and an MLP, a vocabulary
  readout; cross-entropy at the query positions, accuracy there.

A fit logs to no logger: it may run in a worker process (``parallel.map_fits``), where W&B is off. :func:`fit`
returns its validation history instead (step, val_loss, val_acc per validation), which the stage logs under the fit's
label, in item order. A training step computes only its loss (no accuracy, no ``self.log``: both cost a tenth of a
step on the CPU). The initial weights are a function of ``seed``, and the data of (seed, epoch, step)
(``data.recall_tasks``), so a run resumed from a checkpoint ends with the weights of an uninterrupted run (CPU).
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.recall_tasks import IGNORE, KeyValueBatch
from ..memory.mixers import Mixer, build_memory
from .backprop import CpuAdam


class KeyValueNet(nn.Module):
    """Schlag et al.'s one-layer model: (B, L) keys/values, (B, Q) queries → (B, Q, N) reads in value space."""

    def __init__(self, memory: Mixer, pairs: int, d_key: int, embed: int):
        super().__init__()
        self.pairs = pairs
        self.memory = memory
        self.key_embedding = nn.Embedding(pairs, embed)
        nn.init.normal_(self.key_embedding.weight)
        self.to_key = nn.Linear(embed + pairs, d_key)
        self.to_query = nn.Linear(embed, d_key)
        self.to_beta = nn.Linear(embed + pairs, 1)

    def forward(self, batch: KeyValueBatch) -> Tensor:
        values = F.one_hot(batch.values, self.pairs).to(self.key_embedding.weight.dtype)
        tokens = torch.cat([self.key_embedding(batch.keys), values], dim=-1)
        beta = torch.sigmoid(self.to_beta(tokens)).squeeze(-1)
        state = self.memory.final_state(self.to_key(tokens), values, beta)
        return self.memory.read(state, self.to_query(self.key_embedding(batch.queries)))


class MixerLayer(nn.Module):
    """Short causal convolution, then q, k (d_key), v (d_model), β = σ(·) per position → memory → output map."""

    def __init__(self, memory: Mixer, d_model: int, d_key: int, conv: int):
        super().__init__()
        self.memory, self.d_key, self.conv_size = memory, d_key, conv
        self.conv = nn.Conv1d(d_model, d_model, conv, groups=d_model, padding=conv - 1)
        self.to_qkvb = nn.Linear(d_model, 2 * d_key + d_model + 1)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: Tensor) -> Tensor:
        mixed = self.conv(x.transpose(1, 2))[..., : x.shape[1]].transpose(1, 2)
        q, k, v, b = self.to_qkvb(mixed).split([self.d_key, self.d_key, x.shape[-1], 1], dim=-1)
        return self.out(self.memory.parallel(q, k, v, torch.sigmoid(b).squeeze(-1)))


class RecallTransformer(nn.Module):
    """(B, L) token ids → (B, L, V) logits; ``make_memory(layer)`` builds each layer's memory."""

    def __init__(self, make_memory, vocab: int, length: int, d_model: int, d_key: int, layers: int, conv: int):
        super().__init__()
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(length, d_model)
        self.mixers = nn.ModuleList(MixerLayer(make_memory(i), d_model, d_key, conv) for i in range(layers))
        self.mlps = nn.ModuleList(
            nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
            for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(d_model) for _ in range(2 * layers + 1))
        self.head = nn.Linear(d_model, vocab)

    def forward(self, inputs: Tensor) -> Tensor:
        x = self.tokens(inputs) + self.positions(torch.arange(inputs.shape[1], device=inputs.device))
        for i, (mixer, mlp) in enumerate(zip(self.mixers, self.mlps, strict=True)):
            x = x + mixer(self.norms[2 * i](x))
            x = x + mlp(self.norms[2 * i + 1](x))
        return self.head(self.norms[-1](x))


def memory_factory(spec: dict, d_key: int, seed: int):
    """layer index → a fresh memory from ``spec`` {rule, feature, order, features, beta, chunk} (Ω seeded per layer)."""
    options = {k: spec[k] for k in ("beta", "chunk", "normalise") if spec.get(k) is not None}

    def make(layer: int = 0) -> Mixer:
        return build_memory(
            spec["rule"],
            spec.get("feature", "identity"),
            d_key,
            order=spec.get("order", 1),
            features=spec.get("features", 64),
            seed=seed + 1000 * layer,
            **options,
        )

    return make


class RecallModule(pl.LightningModule):
    """A memory trained inside :class:`KeyValueNet` (task ``kv1``/``kv2``) or :class:`RecallTransformer` (``mqar``)."""

    def __init__(self, task: str, memory: dict, model: dict, lr: float, seed: int, label: str = "recall"):
        super().__init__()
        self.save_hyperparameters()
        self.task, self.label = task, label
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            make = memory_factory(memory, model["d_key"], seed)
            self.net: RecallTransformer | KeyValueNet
            if task == "mqar":
                self.net = RecallTransformer(
                    make,
                    model["vocab"],
                    model["length"],
                    model["d_model"],
                    model["d_key"],
                    model["layers"],
                    model["conv"],
                )
            else:
                self.net = KeyValueNet(make(0), model["pairs"], model["d_key"], model["embed"])

    def outputs(self, batch) -> tuple[Tensor, Tensor]:
        """(M, C) scores and (M,) answers at the scored positions (MQAR: logits over the vocabulary at the query
        positions; Schlag: the reads over the N values of the present keys)."""
        if self.task == "mqar":
            inputs, labels = batch
            scored = labels != IGNORE
            return self.net(inputs)[scored], labels[scored]
        return self.net(batch)[batch.present], batch.answers[batch.present]

    def loss(self, scores: Tensor, answers: Tensor) -> Tensor:
        """Cross-entropy (MQAR) or ½‖ŷ - onehot(answer)‖² (Schlag et al.'s criterion), averaged over positions."""
        if self.task == "mqar":
            return F.cross_entropy(scores, answers)
        target = F.one_hot(answers, scores.shape[-1]).to(scores.dtype)
        return 0.5 * (scores - target).square().sum(-1).mean()

    def transfer_batch_to_device(self, batch, device, dataloader_idx):
        """On the CPU the batch is already there (Lightning's generic walk costs ~5% of a small step)."""
        return batch if device.type == "cpu" else super().transfer_batch_to_device(batch, device, dataloader_idx)

    def training_step(self, batch, batch_idx):
        return self.loss(*self.outputs(batch))

    def validation_step(self, batch, batch_idx):
        scores, answers = self.outputs(batch)
        self.log("val_loss", self.loss(scores, answers), on_epoch=True, logger=False)  # early stopping, ``fit``
        self.log("val_acc", (scores.argmax(-1) == answers).float().mean(), on_epoch=True, logger=False)

    def configure_optimizers(self):
        return CpuAdam(self.parameters(), lr=self.hparams["lr"])


def fit(
    module: RecallModule,
    datamodule: pl.LightningDataModule,
    epochs: int,
    trainer_section: dict,
    name: str,
    stop_loss: float | None = None,
    patience: int = 10,
    flat: tuple[int, float] | None = None,
) -> dict[str, float | list[list[float]]]:
    """Train with the Trainer of the ``trainer`` section (``lit.trainer.build_trainer``, no logger; checkpoints
    ``<trainer.checkpoint.dir>/<name>/last.ckpt``, resumed when ``trainer.checkpoint.resume``) → {val_loss, val_acc
    (final), steps, history: [[step, val_loss, val_acc], …] one row per validation during training}. Stops early
    when val_loss < ``stop_loss`` (Schlag et al.: 0.001), after ``patience`` validations without improvement, or,
    with ``flat`` = (window, tolerance), when the validation losses of the last ``window`` steps agree within a
    relative ``tolerance`` (``lit.backprop.Plateau`` per validation: a loss creeping down by a fraction of a percent
    is a plateau, not a fit still learning)."""
    from pytorch_lightning.callbacks import EarlyStopping

    from .trainer import build_trainer, resume_path

    stops = EarlyStopping(
        monitor="val_loss", mode="min", patience=patience, stopping_threshold=stop_loss, check_on_train_epoch_end=False
    )
    history = ValidationHistory()
    callbacks: list[pl.Callback] = [stops, history]
    if flat is not None:
        from .backprop import Plateau

        callbacks.append(Plateau(window=flat[0], tolerance=flat[1], floor=0.0, unit="validation"))
    trainer = build_trainer(trainer_section, logger=False, name=name, callbacks=callbacks, max_epochs=epochs)
    resume = resume_path(trainer_section, name, module, datamodule, {"max_epochs": epochs})
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    trainer.validate(module, datamodule=datamodule, verbose=False)
    final = trainer.callback_metrics  # holds the logger=False values too
    return {
        "val_loss": float(final["val_loss"]),
        "val_acc": float(final["val_acc"]),
        "steps": trainer.global_step,
        "history": history.rows,
    }


class ValidationHistory(pl.Callback):
    """[step, val_loss, val_acc] after every validation inside ``fit`` (what the stage logs to W&B for the fit)."""

    def __init__(self) -> None:
        self.rows: list[list[float]] = []

    def on_validation_end(self, trainer, pl_module) -> None:  # callback_metrics hold the epoch's means by now
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            metrics = trainer.callback_metrics
            self.rows.append([trainer.global_step, float(metrics["val_loss"]), float(metrics["val_acc"])])
