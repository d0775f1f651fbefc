"""The stages of a run: probes on cached embeddings, trained methods, maps and robustness.

Each stage appends finished *parts* (all fits of one encoder · classifier, or one trained fit) to the
run, so results appear while the run goes on and a resumed run skips what is done.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import numpy as np
import pandas as pd

from mitoviz.config import Settings
from mitoviz.data.patches import PatchSettings
from mitoviz.experiment.plan import ALL, EXTERNAL, Plan
from mitoviz.progress import Reporter
from mitoviz.results import Run

Embedding = tuple[np.ndarray, np.ndarray, str]  # values, readable mask, cache key


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
                ) -> Embedding:
    """Embed with one encoder (cached) and sweep every classifier over every fit."""
    from mitoviz.embed.extract import embed
    from mitoviz.evaluate.sweep import sweep

    spec = plan.spec
    reporter.log(f"Embedding {len(plan.cells)} cells with {encoder}")
    result = embed(plan.cells, encoder, PatchSettings(spec.patch_size, spec.mpp), settings, device,
                   Staged(reporter, f"embed {encoder}", "cells"), dataset=", ".join(spec.datasets),
                   shard_size=settings.shard_size)
    if result.n_unreadable:
        reporter.log(f"{encoder}: {result.n_unreadable} cells could not be read and are left out")
    x, valid = np.asarray(result.embeddings, dtype=np.float32), result.ok
    y = positives(plan)
    for classifier in spec.classifiers:
        part = part_name(encoder, classifier)
        if part in run.done_parts():
            continue
        started = time.monotonic()
        fits = fit_table(plan, encoder, "probe", encoder, classifier, {"embedding_key": result.key})
        probs = sweep(x, y, [f.train[valid[f.train]] for f in plan.fits], [f.test[valid[f.test]] for f in plan.fits],
                      classifier, spec.classifier_params.get(classifier), device,
                      progress=Staged(reporter, f"fit {encoder} · {classifier}", "fits").update_counts)
        metrics, predictions = metric_rows(plan, fits, list(probs), valid)
        fits["seconds"] = (time.monotonic() - started) / max(1, len(fits))
        run.append(part, fits, metrics, predictions)
        reporter.log(f"{encoder} · {classifier}: {len(fits)} fits in {time.monotonic() - started:.1f} s")
    return x, valid, result.key


def e2e_stage(plan: Plan, run: Run, settings: Settings, device: str, reporter: Reporter) -> None:
    """Train the end-to-end CNN once per fit; each fit is its own part, so a resume skips finished ones."""
    from mitoviz.data.patches import PatchReader
    from mitoviz.evaluate.e2e import imagenet_weights_file, predict_e2e, train_e2e

    e2e = plan.spec.e2e
    assert e2e is not None
    weights = imagenet_weights_file(e2e.arch, settings.weights_root) if e2e.pretrained == "auto" else None
    margin = 1 + 2 * e2e.jitter
    read = PatchSettings(round((e2e.extent or plan.spec.patch_size) * margin), plan.spec.mpp)
    out_size = round(e2e.input_size * margin)
    y = positives(plan)
    fits = fit_table(plan, e2e.name, "e2e", "", "end-to-end", {"embedding_key": ""})
    needed = np.unique(np.concatenate([np.concatenate([f.train, f.test]) for f in plan.fits]))
    staged = Staged(reporter, f"read patches {e2e.name}", "cells")
    with PatchReader() as reader:
        pixels, ok = reader.read_cells(plan.cells.iloc[needed], read, on_error="report", out_size=out_size)
    staged.update_counts(len(needed), len(needed))
    position = np.full(len(plan.cells), -1)
    position[needed] = np.arange(len(needed))
    valid = np.zeros(len(plan.cells), dtype=bool)
    valid[needed] = ok
    done = run.done_parts()
    staged = Staged(reporter, f"train {e2e.name}", "fits")
    for i, (fit, (_, row)) in enumerate(zip(plan.fits, fits.iterrows(), strict=True)):
        part = part_name(e2e.name, f"fit{fit.fit:05d}")
        staged.update_counts(i, len(plan.fits))
        if part in done:
            continue
        started = time.monotonic()
        train = fit.train[valid[fit.train]]
        result = train_e2e(
            pixels[position[train]], y[train], arch=e2e.arch, input_size=e2e.input_size, epochs=e2e.epochs,
            samples_per_epoch=e2e.samples_per_epoch, batch_size=e2e.batch_size, lr=e2e.lr, patience=e2e.patience,
            seed=fit.seed, device=device, weights_file=weights, reporter=reporter,
        )
        probs = predict_e2e(result.model, pixels[position[fit.test[valid[fit.test]]]], e2e.input_size, device)
        fit_row = row.to_frame().T.assign(init=result.init, epochs_run=result.epochs_run, best_epoch=result.best_epoch,
                                          seconds=time.monotonic() - started).infer_objects()
        metrics, predictions = metric_rows(plan, fit_row, [probs], valid)
        run.append(part, fit_row, metrics, predictions)
    staged.update_counts(len(plan.fits), len(plan.fits))


def maps_stage(plan: Plan, run: Run, embeddings: dict[str, Embedding], settings: Settings, reporter: Reporter) -> None:
    """2-D maps of every embedding and the Robustness Index for every domain axis."""
    from mitoviz.evaluate.projection import cached_projection
    from mitoviz.evaluate.robustness import robustness_index

    frames, ri_rows = [], []
    staged = Staged(reporter, "maps and robustness", "encoders")
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
