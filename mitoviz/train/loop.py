"""One training loop for the end-to-end CNN, LoRA and full fine-tuning.

Class-balanced pseudo-epochs of augmented patches streamed by DataLoader workers; AdamW, or Adam where a
published recipe uses it (its weight decay is an L2 term in the gradient); binary cross-entropy on one logit; a
validation set carved from the training cells by slide; early stopping with the BEST epoch's weights
restored (the published LoRA code scores its last epoch instead); BatchNorm statistics recomputed
on training cells after each epoch (``torch.optim.swa_utils.update_bn``); bf16 autocast and gradient
checkpointing on GPU only. A checkpoint every ``checkpoint_seconds`` and at each epoch end lets a
killed process resume mid-fit and end with the same weights as an uninterrupted fit (bit for bit on
CPU: every RNG is seeded, draws depend only on seed, epoch and position, RNG states are restored).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from mitoviz.config import Settings, load_settings, resolve_device
from mitoviz.data.patches import PatchSettings
from mitoviz.errors import BudgetError, Cancelled, SpecError
from mitoviz.progress import Reporter
from mitoviz.train import checkpoint as ckpt
from mitoviz.train.augment import STAIN_AUGMENTED, STAIN_PASSED
from mitoviz.train.data import (
    Geometry,
    Items,
    PatchSet,
    ValidationSplit,
    epoch_draws,
    geometry_for,
    loader,
    readable,
    split_validation,
    steps_per_epoch,
)
from mitoviz.train.fitted import FitRecord, TrainedModel
from mitoviz.train.method import TrainMethod
from mitoviz.train.nets import Built, build, enable_gradient_checkpointing, imagenet_weights_file


def default_workers(device: str) -> int:
    """DataLoader workers: a few beside a GPU; on a CPU the cores are better spent on the model."""
    cpus = os.cpu_count() or 1
    return min(8, cpus - 1) if device.startswith("cuda") else min(2, cpus // 4)


def balanced_accuracy(labels: np.ndarray, logits: np.ndarray) -> float:
    """Mean recall over the classes present; a logit > 0 is P > 0.5, the decision rule of
    ``mitoviz.evaluate.decision`` (ties go to the negative class)."""
    pred = logits > 0
    recalls = [float((pred[labels == c] == bool(c)).mean()) for c in (0, 1) if (labels == c).any()]
    return float(np.mean(recalls)) if recalls else math.nan


def make_optimiser(method: TrainMethod, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    """The method's optimiser: torch's Adam (weight decay as an L2 term in the gradient) or AdamW (decoupled)."""
    kind = torch.optim.Adam if method.optimizer == "adam" else torch.optim.AdamW
    return kind(params, lr=method.lr, weight_decay=method.weight_decay)


class _Fit:
    """The state of one fit while it trains."""

    def __init__(
        self,
        method: TrainMethod,
        built: Built,
        dataset: PatchSet,
        y: np.ndarray,
        train: np.ndarray,
        val: np.ndarray,
        seed: int,
        device: str,
        workers: int,
        fingerprint: str,
    ) -> None:
        self.method, self.built, self.dataset, self.y = method, built, dataset, y
        self.fingerprint = fingerprint
        self.monitor = method.monitor if len(val) else "loss"  # no validation: training loss
        self.train, self.val, self.seed, self.device, self.workers = train, val, seed, device, workers
        self.net = built.net.to(device)
        self.on_cuda = device.startswith("cuda")
        if self.on_cuda:
            enable_gradient_checkpointing(self.net)
            if built.core.channels_last:
                self.net.to(memory_format=torch.channels_last)
        self.items = Items()  # this epoch's draws; one persistent loader serves every epoch
        self.train_loader = loader(
            dataset, self.items, method.batch_size, workers, persistent=True, pin_memory=self.on_cuda
        )
        self.draws, self.batches = steps_per_epoch(method.samples_per_epoch or len(train), method.batch_size)
        params = [p for p in self.net.parameters() if p.requires_grad]
        self.optimiser = make_optimiser(method, params)
        self.scheduler: (
            torch.optim.lr_scheduler.LRScheduler | torch.optim.lr_scheduler.ReduceLROnPlateau | None
        )
        if method.scheduler == "onecycle":
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(
                self.optimiser, max_lr=method.lr, total_steps=method.epochs * self.batches
            )
        elif method.scheduler == "plateau":
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimiser,
                mode="min" if self.monitor == "loss" else "max",
                factor=0.5,
                patience=3,
                min_lr=1e-7,
            )
        else:
            self.scheduler = None
        self.has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in self.net.modules())
        bn_rng = np.random.default_rng([seed, 0xB4])
        self.bn_rows = np.sort(bn_rng.choice(train, min(len(train), method.bn_cells), replace=False))
        self.epoch, self.step = 0, 0
        self.loss_sum, self.loss_batches = 0.0, 0
        self.best: dict[str, float] = {"epoch": 0, "loss": math.inf, "score": -math.inf}
        self.best_state: dict[str, torch.Tensor] = ckpt.mutable_state(self.net)
        self.history: list[dict[str, float]] = []
        self.stain = [0, 0]  # augmented, passed through
        self.seconds, self.resumed, self.finished, self.stopped_early = 0.0, 0, False, False
        self.reporter = Reporter()

    # ---- checkpoints ----------------------------------------------------------------------------

    def payload(self) -> dict:
        keep_optimiser = not self.finished
        return {
            "fingerprint": self.fingerprint,
            "epoch": self.epoch,
            "step": self.step,
            "finished": self.finished,
            "stopped_early": self.stopped_early,
            "state": ckpt.mutable_state(self.net) if keep_optimiser else {},
            "optimiser": self.optimiser.state_dict() if keep_optimiser else {},
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None and keep_optimiser else {},
            "rng": ckpt.rng_states(self.device),
            "best": dict(self.best),
            "best_state": self.best_state,
            "history": self.history,
            "loss_sum": self.loss_sum,
            "loss_batches": self.loss_batches,
            "stain": list(self.stain),
            "seconds": self.seconds,
            "resumed": self.resumed,
        }

    def restore(self, state: dict) -> None:
        self.epoch, self.step = int(state["epoch"]), int(state["step"])
        self.finished, self.stopped_early = bool(state["finished"]), bool(state["stopped_early"])
        self.best, self.best_state, self.history = (
            dict(state["best"]),
            state["best_state"],
            list(state["history"]),
        )
        self.loss_sum, self.loss_batches = float(state["loss_sum"]), int(state["loss_batches"])
        self.stain, self.seconds, self.resumed = (
            list(state["stain"]),
            float(state["seconds"]),
            int(state["resumed"]) + 1,
        )
        if not self.finished:
            ckpt.load_mutable_state(self.net, state["state"])
            self.optimiser.load_state_dict(state["optimiser"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
        ckpt.set_rng_states(state["rng"])

    # ---- training -------------------------------------------------------------------------------

    def train_batch(self, pixels: torch.Tensor, labels: torch.Tensor) -> float:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.on_cuda):
            logits = self.net(pixels.to(self.device, non_blocking=True))
        loss = F.binary_cross_entropy_with_logits(logits.float(), labels.to(self.device, torch.float32))
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        if isinstance(self.scheduler, torch.optim.lr_scheduler.OneCycleLR):
            self.scheduler.step()
        return float(loss.detach())

    def epoch_items(self) -> list[tuple[int, int, int]]:
        picks = self.train[epoch_draws(self.seed, self.epoch, self.y[self.train], self.draws)]
        start = self.step * self.method.batch_size
        return [(int(r), self.epoch, p) for p, r in enumerate(picks)][start:]

    def checked(self, rows: np.ndarray, batch_size: int) -> Iterator[list[torch.Tensor]]:
        """Evaluation batches of ``rows``, with a cancel check before each."""
        for batch in loader(self.dataset, rows.tolist(), batch_size, self.workers, pin_memory=self.on_cuda):
            self.reporter.check()
            yield batch

    def evaluate(self) -> tuple[float, float]:
        """Validation loss and balanced accuracy (training loss and NaN without a validation set)."""
        if not len(self.val):
            return self.loss_sum / max(1, self.loss_batches), math.nan
        self.net.eval()
        logits = []
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.on_cuda):
            for pixels, *_ in self.checked(self.val, max(64, self.method.batch_size)):
                logits.append(self.net(pixels).float().cpu())
        z = torch.cat(logits)
        y = torch.as_tensor(self.y[self.val], dtype=torch.float32)
        return float(F.binary_cross_entropy_with_logits(z, y)), balanced_accuracy(self.y[self.val], z.numpy())

    def end_epoch(self) -> None:
        if self.has_bn:
            torch.optim.swa_utils.update_bn(self.checked(self.bn_rows, 64), self.net)
        loss, score = self.evaluate()
        metric = loss if self.monitor == "loss" else score
        if self.monitor == "loss":
            improved = loss < self.best["loss"]
        else:
            improved = score > self.best["score"] or (
                score == self.best["score"] and loss < self.best["loss"]
            )
        self.history.append(
            {
                "epoch": self.epoch + 1,
                "train_loss": self.loss_sum / max(1, self.loss_batches),
                "val_loss": loss,
                "val_score": score,
                "lr": self.optimiser.param_groups[0]["lr"],
            }
        )
        if improved:
            self.best = {"epoch": self.epoch + 1, "loss": loss, "score": score}
            self.best_state = ckpt.mutable_state(self.net)
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau) and math.isfinite(metric):
            self.scheduler.step(metric)
        self.epoch, self.step, self.loss_sum, self.loss_batches = self.epoch + 1, 0, 0.0, 0
        patience = self.method.patience
        self.stopped_early = patience is not None and self.epoch - int(self.best["epoch"]) >= patience
        self.finished = self.stopped_early or self.epoch >= self.method.epochs

    def run(self, folder: Path | None, reporter: Reporter, every: float) -> None:
        self.reporter = reporter
        stage = f"train {self.method.method_id}"
        total = self.method.epochs * self.batches
        started = last_save = time.monotonic()

        def save() -> None:
            nonlocal last_save, started
            now = time.monotonic()
            self.seconds += now - started
            started = last_save = now
            if folder is not None:
                ckpt.save_state(folder, self.payload())

        try:
            while not self.finished:
                self.net.train()
                self.items.items = self.epoch_items()
                for pixels, labels, outcome, _ in self.train_loader:
                    reporter.check()  # cancel within one batch
                    loss = self.train_batch(pixels, labels)
                    self.loss_sum, self.loss_batches, self.step = (
                        self.loss_sum + loss,
                        self.loss_batches + 1,
                        self.step + 1,
                    )
                    self.stain[0] += int((outcome == STAIN_AUGMENTED).sum())
                    self.stain[1] += int((outcome == STAIN_PASSED).sum())
                    reporter.update(stage, self.epoch * self.batches + self.step, total, "batches")
                    if time.monotonic() - last_save >= every:
                        save()
                self.end_epoch()
                save()
        except Cancelled:
            save()  # a resumed job continues from the last finished batch
            raise
        self.seconds += time.monotonic() - started
        ckpt.load_mutable_state(self.net, self.best_state)
        self.net.eval()


def _fingerprint(method: TrainMethod, seed: int, geometry: Geometry, ids: np.ndarray, y: np.ndarray) -> str:
    text = json.dumps([method.to_dict(), seed, geometry.to_dict(), ids.astype(str).tolist(), y.tolist()])
    return hashlib.sha256(text.encode()).hexdigest()


def train_fit(
    method: TrainMethod,
    cells: pd.DataFrame,
    rows: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    patch: PatchSettings | None = None,
    checkpoint_dir: Path | None = None,
    reporter: Reporter | None = None,
    device: str = "cpu",
    settings: Settings | None = None,
    workers: int | None = None,
    checkpoint_seconds: float = 300.0,
    val_rows: np.ndarray | None = None,
) -> TrainedModel:
    """Train one fit of ``method`` on ``cells.iloc[rows]``; ``labels`` (1 = positive) align with ``cells``.

    ``val_rows`` (e.g. the published protocol's held-out 20 % of a budget draw, or a cross-validation
    fold) validate the fit; without them a validation set is carved from ``rows`` by slide.

    ``patch`` is the experiment's patch (its size is the default extent, its µm/px the resolution).
    With ``checkpoint_dir`` the fit resumes from a checkpoint there (one written for the same method,
    seed, cells and labels; any other is ignored and noted) and saves one every ``checkpoint_seconds``
    and at every epoch end. ``reporter.check()`` runs before every batch: a cancelled fit saves its
    checkpoint and raises ``Cancelled``. Returns the model with the best validation epoch's weights.
    """
    reporter = reporter or Reporter()
    settings = settings or load_settings()
    device = resolve_device(device)  # "auto" → this machine's GPU or CPU
    labels = np.asarray(labels)
    if len(labels) != len(cells):
        raise SpecError(
            f"{len(labels)} labels for {len(cells)} cells.", "Pass one label per cell of the table."
        )
    if seed < 0:
        raise SpecError(f"Seed {seed} is negative.", "Use seeds ≥ 0.")
    rows = np.asarray(rows, dtype=np.int64)
    ok, bad = readable(cells.iloc[rows])
    notes = (
        [f"{int((~ok).sum())} training cells skipped: image(s) cannot be read: {', '.join(bad[:3])}"]
        if bad
        else []
    )
    rows = rows[ok]
    y = (labels == 1).astype(np.int64)
    if not (y[rows] == 1).any() or not (y[rows] == 0).any():
        raise BudgetError(
            f"{method.method_id} needs labelled training cells of both classes.", "Raise the label budget."
        )
    if val_rows is not None and len(val_rows):
        held = np.asarray(val_rows, dtype=np.int64)
        held = held[readable(cells.iloc[held])[0]]
        split = ValidationSplit(np.arange(len(rows)), np.arange(len(rows), len(rows) + len(held)), "given")
        rows = np.concatenate([rows, held])
    else:
        split = split_validation(cells["slide"].to_numpy()[rows], y[rows], method.val_fraction, seed)
    val = split.val
    if len(val) > method.val_max_cells:
        val = np.sort(np.random.default_rng([seed, 0x7A1]).choice(val, method.val_max_cells, replace=False))
        notes.append(f"validation on {len(val)} of {len(split.val)} held-out cells")
    notes += [split.note] if split.note else []
    weights = None
    if method.kind == "e2e" and method.pretrained == "auto" and method.arch != "small-cnn":
        weights = imagenet_weights_file(method.arch, settings.weights_root)
    devices = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        built = build(method, settings, weights_file=weights)
        geometry = geometry_for(method, built.input_size, patch)
        dataset = PatchSet(cells.iloc[rows].reset_index(drop=True), y[rows], geometry, method, seed)
        workers = default_workers(device) if workers is None else workers
        fingerprint = _fingerprint(method, seed, geometry, cells["cell_id"].to_numpy()[rows], y[rows])
        fit = _Fit(method, built, dataset, y[rows], split.train, val, seed, device, workers, fingerprint)
        state, why = ckpt.load_state(checkpoint_dir)
        if state is not None and state.get("fingerprint") != fingerprint:
            state, why = (
                None,
                "checkpoint ignored: it belongs to another fit (method, seed, cells or labels differ)",
            )
        notes += [why] if why else []
        if state is not None:
            fit.restore(state)
        try:
            fit.run(checkpoint_dir, reporter, checkpoint_seconds)
        finally:
            fit.train_loader = None  # stops its persistent workers
            dataset.close()
    record = FitRecord(
        method=method.method_id,
        kind=method.kind,
        encoder=method.encoder,
        seed=seed,
        init=built.init,
        n_train=len(split.train),
        n_val=len(val),
        validation=split.by,
        monitor=fit.monitor,
        trainable_params=built.trainable_params,
        total_params=built.total_params,
        epochs_run=fit.epoch,
        best_epoch=int(fit.best["epoch"]),
        best_val_loss=float(fit.best["loss"]),
        best_val_score=float(fit.best["score"]),
        stopped_early=fit.stopped_early,
        seconds=round(fit.seconds, 3),
        stain_augmented=fit.stain[0],
        stain_passthrough=fit.stain[1],
        resumed=fit.resumed,
        notes=notes,
        history=fit.history,
    )
    if fit.stain[1]:
        record.notes.append(
            f"stain augmentation passed {fit.stain[1]} patch(es) through unchanged (too little stain)"
        )
    return TrainedModel(method, fit.net, geometry, record, device, val_rows=rows[val])
