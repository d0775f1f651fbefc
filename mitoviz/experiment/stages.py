"""The stages of a run: probes on cached embeddings, trained methods, maps and robustness.

Each stage appends finished *parts* (all fits of one encoder · classifier, or one trained fit) to the
run, so results appear while the run goes on and a resumed run skips what is done.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mitoviz.config import Settings, resolve_device
from mitoviz.data.patches import PatchSettings
from mitoviz.experiment.plan import ALL, EXTERNAL, Plan
from mitoviz.files import write_atomic
from mitoviz.progress import Reporter
from mitoviz.results import Run
from mitoviz.train.method import TrainMethod

Embedding = tuple[np.ndarray, np.ndarray, str]  # values, readable mask, cache key
FEATURES_FILE = "features.npy"  # a trained fit's features of every cell, for the maps


class Staged(Reporter):
    """Forwards to a reporter under a fixed stage name (and adapts (done, total) callbacks)."""

    def __init__(self, inner: Reporter, stage: str, unit: str = "") -> None:
        self.inner, self.stage, self.unit = inner, stage, unit

    def update(self, stage: str, done: int, total: int, unit: str = "") -> None:
        self.inner.update(self.stage, done, total, unit or self.unit)

    def update_counts(self, done: int, total: int) -> None:
        self.inner.update(self.stage, done, total, self.unit)
        self.inner.check()

    def log(self, message: str) -> None:
        self.inner.log(message)

    def cancelled(self) -> bool:
        return self.inner.cancelled()


MAPS_STAGE = "maps and robustness"
STATS_STAGE = "statistics"


def embed_stage(encoder: str, blocks: bool = False) -> str:
    return f"embed {encoder}" + (" blocks" if blocks else "")


def fit_stage(method: str, classifier: str = "") -> str:
    """``fit uni · logreg`` (a probe) or ``fit uni+lora`` (a trained method: one unit per fit)."""
    return f"fit {method}" + (f" · {classifier}" if classifier else "")


def announce(plan: Plan, reporter: Reporter, steps: list[tuple[str, str]]) -> None:
    """Every stage of the run at 0, in the order it will run (``steps``: ("probe", encoder) and ("trained",
    method id), cheapest first), so progress shows the whole way from the start."""
    from mitoviz.encoders import method_name

    n = len(plan.fits)
    for kind, name in steps:
        if kind == "probe":
            reporter.update(embed_stage(name), 0, len(plan.cells), "cells")
            if name in plan.blocks:
                reporter.update(embed_stage(name, blocks=True), 0, len(plan.cells), "cells")
            for method in (name, *(method_name(name, b) for b in plan.blocks.get(name, []))):
                for classifier in plan.spec.classifiers:
                    reporter.update(fit_stage(method, classifier), 0, n, "fits")
        else:  # the fits, then the current fit's batches and predictions (they restart with every fit)
            reporter.update(fit_stage(name), 0, n, "fits")
            reporter.update(f"train {name}", 0, 0, "batches")
            reporter.update(f"predict {name}", 0, 0, "cells")
    n_maps = len(plan.spec.encoders) + sum(len(b) for b in plan.blocks.values()) + len(plan.spec.trained)
    reporter.update(MAPS_STAGE, 0, n_maps, "maps")
    reporter.update(STATS_STAGE, 0, 1, "run")


def fits_done(plan: Plan, run: Run) -> int:
    """Fits landed so far, from the part names alone (a listing, not a read): a trained part is one fit, a
    probe part (one encoder · classifier) all of them."""
    return sum(1 if re.search(r"__fit\d{5}$", part) else len(plan.fits) for part in run.done_parts())


def part_name(method: str, detail: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{method}__{detail}")


def positives(plan: Plan) -> np.ndarray:
    return (plan.cells["label"].to_numpy() == plan.positive).astype(np.int64)


def fit_table(plan: Plan, method: str, kind: str, encoder: str, classifier: str, extra: dict[str, Any]
              ) -> pd.DataFrame:
    """One row per planned fit for ``method`` (contract: method, kind, encoder, classifier, fit description)."""
    y = positives(plan)
    rows = []
    for fit in plan.fits:
        d = fit.describe()
        d["n_train_positive"] = int(y[fit.train].sum())
        fit_id = hashlib.sha1(f"{method}|{classifier}|{fit.fit}".encode()).hexdigest()[:12]
        rows.append({"fit_id": fit_id, "method": method, "kind": kind, "encoder": encoder, "classifier": classifier,
                     **d, **extra})
    return pd.DataFrame(rows)


def metric_rows(plan: Plan, fits: pd.DataFrame, probs: list[np.ndarray], valid: np.ndarray
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metrics per (fit, test domain) and per-cell predictions, batched over fits that share a test set.

    ``all`` = the experiment's own test cells; one row per value of every domain axis with two or more
    values among them (and always for the fit's own axis); ``dataset`` rows include external test sets.
    """
    from mitoviz.evaluate.metrics import binary_metrics_many

    y = positives(plan)
    external = plan.cells[EXTERNAL].to_numpy(dtype=bool)
    values = {axis: plan.cells[axis].to_numpy().astype(str) for axis in plan.axes}
    metric_parts, pred_parts = [], []
    by_test: dict[bytes, list[int]] = {}
    for i, fit_no in enumerate(fits["fit"].to_numpy()):
        by_test.setdefault(plan.fits[int(fit_no)].test.tobytes(), []).append(i)
    for rows in by_test.values():
        fit = plan.fits[int(fits["fit"].iloc[rows[0]])]
        test = fit.test[valid[fit.test]]
        block = np.stack([probs[i] for i in rows])
        ids = fits["fit_id"].to_numpy()[rows]
        for i, fit_id in zip(rows, ids, strict=True):
            pred_parts.append(pd.DataFrame({"fit_id": fit_id, "cell": test.astype(np.int32),
                                            "prob": probs[i].astype(np.float32)}))
        own_axes = set(fits["axis"].to_numpy()[rows])
        groups = [(ALL, ALL, ~external[test])]
        for axis, column in values.items():
            scope = np.ones(len(test), bool) if axis == "dataset" else ~external[test]
            present = np.unique(column[test][scope])
            if len(present) > 1 or axis in own_axes:
                groups.extend((axis, v, scope & (column[test] == v)) for v in present)
        for axis, domain, mask in groups:
            if not mask.any():
                continue
            m = binary_metrics_many(y[test][mask], block[:, mask])
            metric_parts.append(pd.DataFrame({"fit_id": ids, "test_axis": axis, "test_domain": domain, **m}))
    return pd.concat(metric_parts, ignore_index=True), pd.concat(pred_parts, ignore_index=True)


def probe_stage(plan: Plan, run: Run, encoder: str, settings: Settings, device: str, reporter: Reporter
                ) -> dict[str, Embedding]:
    """Embed with one encoder (cached), and with the blocks the spec names for it (``uni@12``: one pass
    for all blocks), and sweep every classifier over every fit. Returns the embeddings by method id."""
    from mitoviz.embed.extract import embed, embed_layers
    from mitoviz.encoders import method_name

    spec = plan.spec
    patch = PatchSettings(spec.patch_size, spec.mpp)
    options = {"dataset": ", ".join(spec.datasets), "shard_size": settings.shard_size}
    where = None if settings.dask_address else device  # None: the settings' device, resolved by the Dask workers
    reporter.log(f"Embedding {len(plan.cells)} cells with {encoder}")
    results = {encoder: embed(plan.cells, encoder, patch, settings, where,
                              Staged(reporter, embed_stage(encoder), "cells"), **options)}
    if encoder in spec.layers:
        reporter.log(f"Embedding blocks {spec.layers[encoder]} of {encoder}")
        blocks = embed_layers(plan.cells, encoder, spec.layers[encoder], patch, settings, where,
                              reporter=Staged(reporter, embed_stage(encoder, blocks=True), "cells"), **options)
        results.update({method_name(encoder, b): r for b, r in sorted(blocks.items())})
    embeddings = {}
    for method, result in results.items():
        if result.n_unreadable:
            reporter.log(f"{method}: {result.n_unreadable} cells could not be read and are left out")
        embeddings[method] = (np.asarray(result.embeddings, dtype=np.float32), result.ok, result.key)
        _sweep(plan, run, method, encoder, embeddings[method], device, reporter)
    return embeddings


def _sweep(plan: Plan, run: Run, method: str, encoder: str, embedding: Embedding, device: str,
           reporter: Reporter) -> None:
    """Every classifier over every fit on one embedding; each classifier is one part of the run."""
    from mitoviz.evaluate.sweep import sweep

    x, valid, key = embedding
    y = positives(plan)
    for classifier in plan.spec.classifiers:
        part = part_name(method, classifier)
        if part in run.done_parts():
            continue
        started = time.monotonic()
        fits = fit_table(plan, method, "probe", encoder, classifier, {"embedding_key": key})
        probs = sweep(x, y, [f.train[valid[f.train]] for f in plan.fits], [f.test[valid[f.test]] for f in plan.fits],
                      classifier, plan.spec.classifier_params.get(classifier), device,
                      progress=Staged(reporter, fit_stage(method, classifier), "fits").update_counts)
        metrics, predictions = metric_rows(plan, fits, list(probs), valid)
        fits["seconds"] = (time.monotonic() - started) / max(1, len(fits))
        run.append(part, fits, metrics, predictions)
        reporter.log(f"{method} · {classifier}: {len(fits)} fits in {time.monotonic() - started:.1f} s")


def _map_fit(plan: Plan) -> int:
    """The fit whose tuned features are mapped: pooled, the largest budget, the first replicate."""
    pooled = [f for f in plan.fits if f.protocol == "pooled"] or plan.fits
    return max(pooled, key=lambda f: (len(f.train), -f.seed)).fit


def trained_stage(plan: Plan, run: Run, method: TrainMethod, settings: Settings, device: str, reporter: Reporter,
                  landed: Callable[[], None] = lambda: None) -> Embedding | None:
    """Train ``method`` once per fit (the CNN, LoRA or fine-tuning), each fit its own part with its own
    checkpoint folder, so a killed worker resumes mid-fit and a resumed run skips finished fits. The mapped fit
    (pooled, largest budget) keeps its saved adapter or weights in ``training/<part>/model``.
    Returns the tuned features of that fit (for the maps), or None."""
    from mitoviz.train import FitJob, run_fit, run_fit_on_dask

    y = positives(plan)
    name = method.method_id
    classifier = "end-to-end" if method.kind == "e2e" else "head"
    fits = fit_table(plan, name, method.kind, method.encoder, classifier, {"embedding_key": ""})
    patch = PatchSettings(plan.spec.patch_size, plan.spec.mpp)
    map_fit, features = _map_fit(plan), None
    done = run.done_parts()
    staged = Staged(reporter, fit_stage(name), "fits")
    for i, (fit, (_, row)) in enumerate(zip(plan.fits, fits.iterrows(), strict=True)):
        part = part_name(name, f"fit{fit.fit:05d}")
        folder = run.root / "training" / part
        staged.update_counts(i, len(plan.fits))
        if part in done:
            features = _stored_features(folder) if fit.fit == map_fit else features
            continue
        job = FitJob(method, plan.cells, fit.train, y, fit.test, seed=fit.seed, patch=patch, folder=folder,
                     feature_rows=np.arange(len(plan.cells)) if fit.fit == map_fit else None, val_rows=fit.val)
        outcome = (run_fit_on_dask(settings.dask_address, job, reporter, resolve_device(settings.device, here=False),
                                   settings) if settings.dask_address else run_fit(job, reporter, device, settings))
        read = ~np.isnan(outcome.probs)
        valid = np.ones(len(plan.cells), dtype=bool)
        valid[fit.test[~read]] = False
        record = outcome.record.to_row()  # the plan's columns win, except the validation the trainer used
        record = {**{k: v for k, v in record.items() if k not in row.index}, "n_val": record["n_val"],
                  "n_trained_on": record["n_train"]}
        fit_row = row.to_frame().T.assign(**record).infer_objects()
        metrics, predictions = metric_rows(plan, fit_row, [outcome.probs[read]], valid)
        if outcome.features is not None:
            features = _store_features(folder, outcome.features)
        run.append(part, fit_row, metrics, predictions)
        _tidy(folder, keep_model=fit.fit == map_fit)
        landed()
    staged.update_counts(len(plan.fits), len(plan.fits))
    if features is None:
        return None
    ok = np.isfinite(features).all(axis=1)
    return features, ok, f"{run.run_id}:{name}:fit{map_fit:05d}"


def _tidy(folder: Path, keep_model: bool) -> None:
    """A landed fit needs no checkpoint; of its saved weights only the mapped fit's are kept (one adapter or
    network per method: a ResNet-50 saved for each of a thousand fits would fill a disk)."""
    from mitoviz.train.task import CHECKPOINT_DIR, MODEL_DIR

    shutil.rmtree(folder / CHECKPOINT_DIR, ignore_errors=True)
    if not keep_model:
        shutil.rmtree(folder / MODEL_DIR, ignore_errors=True)


def _store_features(folder: Path, features: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    np.save(buf, np.asarray(features, dtype=np.float32), allow_pickle=False)
    write_atomic(folder / FEATURES_FILE, buf.getvalue())
    return features


def _stored_features(folder: Path) -> np.ndarray | None:
    try:
        return np.load(folder / FEATURES_FILE, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None  # not kept (or damaged): this method's map is left out of a resumed run


def maps_stage(plan: Plan, run: Run, embeddings: dict[str, Embedding], settings: Settings, reporter: Reporter) -> None:
    """2-D maps of every embedding and the Robustness Index for every domain axis."""
    from mitoviz.evaluate.projection import cached_projection
    from mitoviz.evaluate.robustness import robustness_index

    frames, ri_rows = [], []
    staged = Staged(reporter, MAPS_STAGE, "maps")
    labels = plan.cells["label"].to_numpy().astype(str)
    slides = plan.cells["slide"].to_numpy().astype(str)
    for i, (encoder, (x, valid, key)) in enumerate(embeddings.items()):
        staged.update_counts(i, len(embeddings))
        idx = np.flatnonzero(valid)
        if plan.spec.projection != "none" and len(idx) >= 3:
            coords = cached_projection(x[idx], key, settings.projections_dir, plan.spec.projection)
            frames.append(pd.DataFrame({"cell": idx.astype(np.int32), "encoder": encoder,
                                        "method": plan.spec.projection, "u": coords[:, 0], "v": coords[:, 1]}))
        for axis in plan.axes:
            confounder = plan.cells[axis].to_numpy().astype(str)[idx]
            if len(np.unique(confounder)) >= 2:
                ri = robustness_index(x[idx], labels[idx], confounder, slides[idx])
                ri_rows.append({"encoder": encoder, "confounder": axis, **ri})
    if frames:
        run.write_projections(pd.concat(frames, ignore_index=True))
    if ri_rows:
        run.write_table("robustness", pd.DataFrame(ri_rows))
    staged.update_counts(len(embeddings), len(embeddings))
