"""A trained fit: predicts P(positive), gives features for maps, saves and reloads itself.

Saved folder: ``fit.json`` (method, geometry, record) and either the adapter alone
(``adapter_config.json`` + ``adapter_model.safetensors``, peft ``save_pretrained``; it reloads onto
a freshly built base encoder) or all weights (``model.safetensors``) for the CNN and fine-tuning.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from mitoviz.config import Settings
from mitoviz.errors import SpecError, StorageError
from mitoviz.files import write_json_atomic
from mitoviz.progress import Reporter
from mitoviz.train.data import Geometry, PatchSet, loader
from mitoviz.train.method import TrainMethod
from mitoviz.train.nets import Built, build

FIT_FILE = "fit.json"
STAGES = {"prob": "predict", "features": "features"}  # progress stage names (``predict uni+lora``)
WEIGHTS_FILE = "model.safetensors"


@dataclass
class FitRecord:
    """What one fit did, for ``fits.parquet`` (:meth:`to_row`) and for people."""

    method: str
    kind: str
    encoder: str
    seed: int
    init: str
    n_train: int
    n_val: int
    validation: str  # "slide", "cell" or "none"
    monitor: str
    trainable_params: int
    total_params: int
    epochs_run: int = 0
    best_epoch: int = 0
    best_val_loss: float = math.nan
    best_val_score: float = math.nan  # validation balanced accuracy of the best epoch
    stopped_early: bool = False
    seconds: float = 0.0
    stain_augmented: int = 0
    stain_passthrough: int = 0  # patches with too little stain for a Macenko fit, left unchanged
    resumed: int = 0  # how many times this fit continued from a checkpoint
    notes: list[str] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: losses, score, lr

    def to_row(self) -> dict[str, Any]:
        """Flat columns (history left out, notes joined)."""
        row = {k: v for k, v in asdict(self).items() if k != "history"}
        row["notes"] = "; ".join(self.notes)
        return row

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TrainedModel:
    """A trained network and how to feed it: the same read geometry as in training, centre crops."""

    def __init__(
        self,
        method: TrainMethod,
        net: nn.Module,
        geometry: Geometry,
        record: FitRecord,
        device: str = "cpu",
        val_rows: np.ndarray | None = None,
    ) -> None:
        self.method = method
        self.net = net.eval()
        self.geometry = geometry
        self.record = record
        self.device = device
        self.val_rows = np.empty(0, int) if val_rows is None else val_rows  # cells used for validation

    @property
    def core(self) -> nn.Module:
        net = self.net
        return net.get_base_model() if hasattr(net, "get_base_model") else net

    def _run(
        self,
        cells: pd.DataFrame,
        rows: np.ndarray | None,
        want: str,
        batch_size: int = 64,
        workers: int = 0,
        reporter: Reporter | None = None,
    ) -> np.ndarray:
        rows = np.arange(len(cells)) if rows is None else np.asarray(rows, dtype=np.int64)
        dataset = PatchSet(cells, None, self.geometry)
        outs, oks, done = [], [], 0
        self.net.eval()
        on_cuda = self.device.startswith("cuda")
        try:
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
                for pixels, _, _, ok in loader(dataset, rows.tolist(), batch_size, workers):
                    if reporter is not None:
                        reporter.check()
                    out = self.net(pixels) if want == "prob" else self.core.embed(pixels)
                    outs.append(out.float().cpu())
                    oks.append(ok.numpy())
                    done += len(ok)
                    if reporter is not None:
                        reporter.update(f"{STAGES[want]} {self.method.method_id}", done, len(rows), "cells")
        finally:
            dataset.close()
        if not outs:
            return np.empty((0,) if want == "prob" else (0, self.core.dim), np.float32)
        values = torch.cat(outs)
        values = torch.sigmoid(values).numpy() if want == "prob" else values.numpy()
        values[~np.concatenate(oks)] = np.nan
        return values.astype(np.float32)

    def predict(self, cells: pd.DataFrame, rows: np.ndarray | None = None, **options: Any) -> np.ndarray:
        """P(positive) for ``cells.iloc[rows]`` (all cells when None), streamed in batches; NaN where
        the cell's image cannot be read. Options: ``batch_size`` (64), ``workers`` (0), ``reporter``."""
        return self._run(cells, rows, "prob", **options)

    def features(self, cells: pd.DataFrame, rows: np.ndarray | None = None, **options: Any) -> np.ndarray:
        """The tuned network's pooled embedding before the head, ``[n, dim]`` (for maps); options as
        :meth:`predict`."""
        return self._run(cells, rows, "features", **options)

    # ---- saving ---------------------------------------------------------------------------------

    def save(self, folder: Path) -> Path:
        """Adapter alone (LoRA) or all weights (CNN, fine-tuning) as safetensors, plus ``fit.json``."""
        from safetensors.torch import save_model

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        if self.method.kind == "lora":
            self.net.save_pretrained(str(folder))  # adapter_config.json + adapter_model.safetensors
        else:
            save_model(self.net, str(folder / WEIGHTS_FILE))
        write_json_atomic(
            folder / FIT_FILE,
            {
                "method": self.method.to_dict(),
                "geometry": self.geometry.to_dict(),
                "record": self.record.to_dict(),
                "device": self.device,
            },
        )
        return folder

    @classmethod
    def load(cls, folder: Path, settings: Settings | None = None, device: str = "cpu") -> TrainedModel:
        """Rebuild the base network (the encoder's own weights, or a bare CNN) and load the saved weights."""
        from safetensors.torch import load_model

        folder = Path(folder)
        try:
            meta = json.loads((folder / FIT_FILE).read_text(encoding="utf-8"))
            method = TrainMethod.from_dict(meta["method"])
            geometry, record = Geometry(**meta["geometry"]), FitRecord(**meta["record"])
        except (OSError, ValueError, KeyError, TypeError, SpecError) as exc:
            raise StorageError(
                f"{folder} does not hold a fit saved by this version of mitoviz ({exc}).", "Train the fit again."
            ) from exc
        built: Built = build(method, settings, for_training=False)
        net: nn.Module = built.net
        try:
            if method.kind == "lora":
                from peft import PeftModel

                net = PeftModel.from_pretrained(net, str(folder))
            else:
                load_model(net, str(folder / WEIGHTS_FILE), strict=True)
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise StorageError(
                f"The weights saved in {folder} do not load: {exc}", "Train the fit again."
            ) from exc
        return cls(method, net.to(device), geometry, record, device)
