"""One fit as a unit of work: train, save, predict the rows asked for. The same function runs here
(:func:`run_fit`) and as a Dask task (``mitoviz.train.dask_backend``), so both give the same numbers."""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from mitoviz.config import Settings
from mitoviz.data.patches import PatchSettings
from mitoviz.progress import Reporter
from mitoviz.train.fitted import FitRecord
from mitoviz.train.loop import default_workers, train_fit
from mitoviz.train.method import TrainMethod

CHECKPOINT_DIR = "checkpoint"
MODEL_DIR = "model"


@dataclass
class FitJob:
    """Everything one fit needs. Row arrays index ``cells``; ``labels`` (1 = positive) align with it.

    ``folder`` (shared storage on a cluster) receives ``checkpoint/`` (resume) and ``model/`` (the
    saved adapter or weights)."""

    method: TrainMethod
    cells: pd.DataFrame
    train_rows: np.ndarray
    labels: np.ndarray
    predict_rows: np.ndarray
    seed: int = 0
    patch: PatchSettings | None = None
    folder: Path | None = None
    feature_rows: np.ndarray | None = None  # rows whose tuned features are wanted (maps)
    val_rows: np.ndarray | None = None  # validation cells given by the plan; None: carved from train_rows
    workers: int | None = None
    checkpoint_seconds: float = 300.0

    def subset(self) -> FitJob:
        """The same job on only the cells it touches (what a cluster task is sent)."""
        parts = [self.train_rows, self.predict_rows] + [r for r in (self.feature_rows, self.val_rows) if r is not None]
        needed = np.unique(np.concatenate([np.asarray(p, dtype=np.int64) for p in parts]))

        def remap(rows: np.ndarray | None) -> np.ndarray | None:
            return None if rows is None else np.searchsorted(needed, np.asarray(rows, dtype=np.int64))

        return replace(
            self,
            cells=self.cells.iloc[needed].reset_index(drop=True),
            labels=np.asarray(self.labels)[needed],
            train_rows=remap(self.train_rows),
            predict_rows=remap(self.predict_rows),
            feature_rows=remap(self.feature_rows),
            val_rows=remap(self.val_rows),
        )


@dataclass
class FitOutcome:
    record: FitRecord
    probs: np.ndarray  # P(positive) for predict_rows, NaN where the image cannot be read
    features: np.ndarray | None  # [len(feature_rows), dim] or None
    model_dir: Path | None


def run_fit(
    job: FitJob, reporter: Reporter | None = None, device: str = "cpu", settings: Settings | None = None
) -> FitOutcome:
    """Train (resuming from ``folder/checkpoint`` when there is one), save, predict, give features."""
    reporter = reporter or Reporter()
    notes = []
    workers = default_workers(device) if job.workers is None else job.workers
    if multiprocessing.current_process().daemon and workers != 0:
        workers = 0  # a daemonic process (a Dask nanny's worker) may not start DataLoader workers
        notes.append("DataLoader workers off: daemonic worker process (set distributed.worker.daemon: false)")
    model = train_fit(
        job.method,
        job.cells,
        job.train_rows,
        job.labels,
        seed=job.seed,
        patch=job.patch,
        checkpoint_dir=job.folder / CHECKPOINT_DIR if job.folder else None,
        reporter=reporter,
        device=device,
        settings=settings,
        workers=workers,
        checkpoint_seconds=job.checkpoint_seconds,
        val_rows=job.val_rows,
    )
    model.record.notes += notes
    model_dir = model.save(job.folder / MODEL_DIR) if job.folder else None
    batch = max(64, job.method.batch_size)
    probs = model.predict(job.cells, job.predict_rows, batch_size=batch, workers=workers, reporter=reporter)
    features = None
    if job.feature_rows is not None:
        features = model.features(
            job.cells, job.feature_rows, batch_size=batch, workers=workers, reporter=reporter
        )
    return FitOutcome(model.record, probs, features, model_dir)
