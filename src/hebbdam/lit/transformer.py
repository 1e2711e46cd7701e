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

``RecallModule`` logs ``<label>/train_loss``, ``<label>/train_acc`` every step and ``<label>/val_loss``,
``<label>/val_acc`` every validation (the label names the fit, so the fits of one stage are separate W&B curves); its
initial weights are a function of ``seed``, and the data of (seed, epoch, step) (``data.recall_tasks``), so a run
resumed from a checkpoint ends with the weights of an uninterrupted run (CPU).
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.recall_tasks import IGNORE, KeyValueBatch
from ..memory.mixers import build_memory


class KeyValueNet(nn.Module):
    """Schlag et al.'s one-layer model: (B, L) keys/values, (B, Q) queries → (B, Q, N) reads in value space."""

    def __init__(self, memory: nn.Module, pairs: int, d_key: int, embed: int):
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

    def __init__(self, memory: nn.Module, d_model: int, d_key: int, conv: int):
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

    def make(layer: int = 0) -> nn.Module:
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

    def loss_and_accuracy(self, batch) -> tuple[Tensor, Tensor]:
        if self.task == "mqar":
            inputs, labels = batch
            logits = self.net(inputs)
            scored = labels != IGNORE
            loss = F.cross_entropy(logits[scored], labels[scored])
            accuracy = (logits[scored].argmax(-1) == labels[scored]).float().mean()
            return loss, accuracy
        reads = self.net(batch)[batch.present]
        answers = batch.answers[batch.present]
        target = F.one_hot(answers, reads.shape[-1]).to(reads.dtype)
        loss = 0.5 * (reads - target).square().sum(-1).mean()
        return loss, (reads.argmax(-1) == answers).float().mean()

    def training_step(self, batch, batch_idx):
        loss, accuracy = self.loss_and_accuracy(batch)
        self.log(f"{self.label}/train_loss", loss, on_step=True, on_epoch=False)
        self.log(f"{self.label}/train_acc", accuracy, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, accuracy = self.loss_and_accuracy(batch)
        self.log("val_loss", loss, on_epoch=True, logger=False)  # what early stopping and ``fit`` read
        self.log("val_acc", accuracy, on_epoch=True, logger=False)
        self.log(f"{self.label}/val_loss", loss, on_epoch=True)  # one W&B curve per fit
        self.log(f"{self.label}/val_acc", accuracy, on_epoch=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def fit(
    module: RecallModule,
    datamodule: pl.LightningDataModule,
    epochs: int,
    trainer_section: dict,
    name: str,
    stop_loss: float | None = None,
    patience: int = 10,
) -> dict[str, float]:
    """Train with the Trainer of the ``trainer`` section (``lit.trainer.build_trainer``: its logger is the stage's W&B
    run, its checkpoints ``<trainer.checkpoint.dir>/<name>/last.ckpt``, resumed when ``trainer.checkpoint.resume``),
    and return the final validation metrics and the number of steps taken. Stops early when val_loss <
    ``stop_loss`` (Schlag et al.: 0.001) or after ``patience`` validations without improvement."""
    from pytorch_lightning.callbacks import EarlyStopping

    from .trainer import build_trainer, resume_path

    stops = EarlyStopping(
        monitor="val_loss", mode="min", patience=patience, stopping_threshold=stop_loss, check_on_train_epoch_end=False
    )
    trainer = build_trainer(trainer_section, name=name, callbacks=[stops], max_epochs=epochs)
    resume = resume_path(trainer_section, name, module, datamodule, {"max_epochs": epochs})
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    trainer.validate(module, datamodule=datamodule, verbose=False)
    final = trainer.callback_metrics  # holds the logger=False values too
    return {"val_loss": float(final["val_loss"]), "val_acc": float(final["val_acc"]), "steps": trainer.global_step}
