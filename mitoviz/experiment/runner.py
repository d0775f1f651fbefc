"""The one function that runs an experiment; the CLI and the job worker both call it.

Stages: load cells → split and plan every fit (all checks happen here, before compute) →
per encoder: embed (cached) and sweep every budget × seed × domain fit → end-to-end CNN →
projections and robustness. Each finished part is appended to the run, so ``resume`` skips it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mitoviz.config import Settings, resolve_device
from mitoviz.data.cells import DOMAIN_COLUMNS, Dataset, positive_label
from mitoviz.data.patches import PatchSettings
from mitoviz.data.splits import CELL_SPLIT_WARNING, Budget, draw_budgets, split_cells
from mitoviz.errors import MitovizError, SpecError
from mitoviz.experiment.spec import ExperimentSpec, parse_protocol
from mitoviz.progress import Reporter
from mitoviz.results import ResultsStore, Run

ALL = "all"


@dataclass(frozen=True)
class FitPlan:
    """One classifier fit: which cells train it and which test it."""

    fit: int
    protocol: str
    axis: str
    train_domain: str
    budget: Budget
    seed: int
    train: np.ndarray
    test: np.ndarray
    per_class: dict[str, int]
    capped: bool

    def describe(self) -> dict[str, Any]:
        return {
            "fit": self.fit,
            "protocol": self.protocol,
            "axis": self.axis,
            "train_domain": self.train_domain,
            "budget": self.budget.label,
            "budget_kind": self.budget.kind,
            "budget_value": self.budget.value,
            "seed": self.seed,
            "n_train": len(self.train),
            "n_train_positive": 0,
            "budget_capped": self.capped,
            "n_test": len(self.test),
        }


@dataclass
class Plan:
    """Everything an experiment will compute, known before any compute starts."""

    spec: ExperimentSpec
    cells: pd.DataFrame
    datasets: list[Dataset]
    fits: list[FitPlan]
    positive: str
    warnings: list[str] = field(default_factory=list)

    @property
    def synthetic(self) -> bool:
        return any(d.synthetic for d in self.datasets)

    def size(self) -> dict[str, int]:
        n_enc = len(self.spec.encoders)
        return {
            "cells": len(self.cells),
            "fits_per_method": len(self.fits),
            "probe_fits": len(self.fits) * n_enc * len(self.spec.classifiers),
            "e2e_fits": len(self.fits) if self.spec.e2e else 0,
            "embeddings": len(self.cells) * n_enc,
        }


DEMO_DATASET = "mitoviz-demo"


def ensure_demo_data(settings: Settings, reporter: Reporter | None = None) -> None:
    """The built-in demo set is generated on first use (it needs no download)."""
    from mitoviz.data.presets import find_preset
    from mitoviz.demo import generate_demo

    if find_preset(DEMO_DATASET, settings).ready:
        return
    reporter = reporter or Reporter()
    reporter.log(f"Generating the synthetic demo data set in {settings.demo_dir}")
    generate_demo(settings.demo_dir, progress=lambda done, total: reporter.update("demo data", done, total, "images"))


def load_cells(spec: ExperimentSpec, settings: Settings) -> tuple[pd.DataFrame, list[Dataset]]:
    from mitoviz.data.presets import load_dataset

    datasets = [load_dataset(name, settings) for name in spec.datasets]
    cells = pd.concat([d.cells for d in datasets], ignore_index=True)
    if cells["cell_id"].duplicated().any():
        raise SpecError("Two data sets share cell ids.", "Do not list the same data set twice under two names.")
    return cells, datasets


def _domains(cells: pd.DataFrame, axis: str) -> list[str]:
    return sorted(cells[axis].unique().tolist())


def plan_fits(cells: pd.DataFrame, spec: ExperimentSpec) -> tuple[list[FitPlan], list[str]]:
    """Split per seed and draw nested budgets for every protocol and train domain.

    Raises a :class:`MitovizError` for anything that cannot work (a class missing from a split or
    domain, a budget larger than a class) before any compute starts.
    """
    labels = cells["label"].to_numpy().astype(str)
    warnings = [CELL_SPLIT_WARNING] if spec.split == "cell" else []
    fits: list[FitPlan] = []
    for seed in spec.seeds:
        split = split_cells(cells, spec.split, spec.test_fraction, seed)
        train_all, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
        for protocol in spec.protocols:
            kind, axis = parse_protocol(protocol)
            if kind == "pooled":
                pools = {ALL: train_all}
            else:
                values = _domains(cells, axis)
                if len(values) < 2:
                    raise SpecError(
                        f"Protocol {protocol} needs at least two {axis} values; the data has {values}.",
                        "Use the pooled protocol, or add data from another domain.",
                    )
                domain = cells[axis].to_numpy().astype(str)
                if kind == "cross":
                    pools = {v: train_all[domain[train_all] == v] for v in values}
                else:
                    pools = {f"not {v}": train_all[domain[train_all] != v] for v in values}
            for train_domain, pool in pools.items():
                try:
                    draws = draw_budgets(labels[pool], list(spec.budgets), seed, spec.on_budget_overflow)
                except MitovizError as exc:
                    where = "" if train_domain == ALL else f" (training domain {train_domain})"
                    raise type(exc)(f"{exc.what.rstrip('.')}{where}, seed {seed}.", exc.fix) from exc
                for draw in draws:
                    fits.append(
                        FitPlan(
                            len(fits), protocol, axis or ALL, train_domain, draw.budget, seed, pool[draw.indices],
                            test, draw.per_class, draw.capped,
                        )
                    )
                    if draw.capped:
                        warnings.append(
                            f"Budget {draw.budget.label} capped to {draw.per_class} in {train_domain} (seed {seed}): "
                            "a class has fewer cells than asked."
                        )
    return fits, sorted(set(warnings), key=warnings.index)


def check_encoders(spec: ExperimentSpec, settings: Settings) -> None:
    from mitoviz.encoders import encoder_status
    from mitoviz.evaluate.classifiers import make_classifier

    status = {s.name: s for s in encoder_status(settings)}
    for name in spec.encoders:
        if name not in status:
            raise SpecError(f"Unknown encoder {name!r}.", f"Known encoders: {', '.join(sorted(status))}.")
        if not status[name].available:
            raise SpecError(f"Encoder {name} has no weights here: {status[name].reason}.", status[name].how_to_get)
    for name in spec.classifiers:
        make_classifier(name, **spec.classifier_params.get(name, {}))


def prepare(spec: ExperimentSpec, settings: Settings, reporter: Reporter | None = None) -> Plan:
    """Load, split and plan; every check that can be made in advance is made here."""
    check_encoders(spec, settings)
    if DEMO_DATASET in spec.datasets and reporter is not None:
        ensure_demo_data(settings, reporter)
    cells, datasets = load_cells(spec, settings)
    positive = positive_label(cells["label"])
    fits, warnings = plan_fits(cells, spec)
    for d in datasets:
        warnings.extend(d.notes)
    return Plan(spec, cells, datasets, fits, positive, warnings)


# --- metrics ---------------------------------------------------------------------------------


def _metric_rows(
    plan: Plan, fit_rows: pd.DataFrame, probs: list[np.ndarray], y: np.ndarray, valid: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Metrics per (fit, test domain) and per-cell predictions for a batch of fits."""
    from mitoviz.evaluate.metrics import binary_metrics

    domains = {axis: plan.cells[axis].to_numpy().astype(str) for axis in DOMAIN_COLUMNS}
    metric_rows, pred_parts = [], []
    for (_, row), fit_probs in zip(fit_rows.iterrows(), probs, strict=True):
        fit = plan.fits[int(row["fit"])]
        test = fit.test[valid[fit.test]]
        pred_parts.append(
            pd.DataFrame({"fit_id": row["fit_id"], "cell": test.astype(np.int32), "prob": fit_probs.astype(np.float32)})
        )
        groups = [(ALL, ALL, np.ones(len(test), dtype=bool))]
        for axis, values in domains.items():
            present = np.unique(values[test])
            if len(present) > 1 or axis == fit.axis:
                groups.extend((axis, v, values[test] == v) for v in present)
        for axis, domain, mask in groups:
            m = binary_metrics(y[test][mask], fit_probs[mask])
            metric_rows.append({"fit_id": row["fit_id"], "test_axis": axis, "test_domain": domain, **m})
    return pd.DataFrame(metric_rows), pd.concat(pred_parts, ignore_index=True)


def _fit_table(plan: Plan, method: str, kind: str, classifier: str, extra: dict[str, Any], y: np.ndarray) -> pd.DataFrame:
    rows = []
    for fit in plan.fits:
        d = fit.describe()
        d["n_train_positive"] = int(y[fit.train].sum())
        fit_id = hashlib.sha1(f"{method}|{classifier}|{fit.fit}".encode()).hexdigest()[:12]
        rows.append({"fit_id": fit_id, "method": method, "kind": kind, "classifier": classifier, **d, **extra})
    return pd.DataFrame(rows)


# --- stages ----------------------------------------------------------------------------------


def _probe_part(
    plan: Plan, run: Run, encoder: str, settings: Settings, device: str, reporter: Reporter
) -> tuple[np.ndarray, np.ndarray, str]:
    """Embed with one encoder and sweep every classifier over every fit."""
    from mitoviz.embed.extract import embed
    from mitoviz.evaluate.sweep import sweep

    spec = plan.spec
    patch = PatchSettings(spec.patch_size, spec.mpp)
    reporter.log(f"Embedding {len(plan.cells)} cells with {encoder}")
    result = embed(plan.cells, encoder, patch, settings, device, _Staged(reporter, f"embed {encoder}", "cells"),
                   dataset=", ".join(spec.datasets), shard_size=settings.shard_size)
    if result.n_unreadable:
        reporter.log(f"{encoder}: {result.n_unreadable} cells could not be read and are left out")
    x, valid = np.asarray(result.embeddings, dtype=np.float32), result.ok
    y = (plan.cells["label"].to_numpy() == plan.positive).astype(np.int64)
    for classifier in spec.classifiers:
        part = _part_name(encoder, classifier)
        if part in run.done_parts():
            continue
        started = time.monotonic()
        fits = _fit_table(plan, encoder, "probe", classifier, {"embedding_key": result.key}, y)
        train_sets = [f.train[valid[f.train]] for f in plan.fits]
        test_sets = [f.test[valid[f.test]] for f in plan.fits]
        probs = sweep(x, y, train_sets, test_sets, classifier, spec.classifier_params.get(classifier), device,
                      progress=_Staged(reporter, f"fit {encoder} · {classifier}", "fits").update_counts)
        metrics, predictions = _metric_rows(plan, fits, list(probs), y, valid)
        fits["seconds"] = (time.monotonic() - started) / max(1, len(fits))
        run.append(part, fits, metrics, predictions)
        reporter.log(f"{encoder} · {classifier}: {len(fits)} fits in {time.monotonic() - started:.1f} s")
    return x, valid, result.key


def _e2e_part(plan: Plan, run: Run, settings: Settings, device: str, reporter: Reporter) -> None:
    """Train the end-to-end CNN once per fit; each fit is its own part, so a resume skips finished ones."""
    from mitoviz.data.patches import PatchReader
    from mitoviz.evaluate.e2e import imagenet_weights_file, predict_e2e, train_e2e

    e2e = plan.spec.e2e
    assert e2e is not None
    weights = imagenet_weights_file(e2e.arch, settings.weights_root) if e2e.pretrained == "auto" else None
    margin = 1 + 2 * e2e.jitter
    read = PatchSettings(round((e2e.extent or plan.spec.patch_size) * margin), plan.spec.mpp)
    out_size = round(e2e.input_size * margin)
    y = (plan.cells["label"].to_numpy() == plan.positive).astype(np.int64)
    fits = _fit_table(plan, e2e.name, "e2e", "end-to-end", {"embedding_key": ""}, y)
    needed = np.unique(np.concatenate([np.concatenate([f.train, f.test]) for f in plan.fits]))
    staged = _Staged(reporter, f"read patches {e2e.name}", "cells")
    with PatchReader() as reader:
        pixels, ok = reader.read_cells(plan.cells.iloc[needed], read, on_error="report", out_size=out_size)
    staged.update_counts(len(needed), len(needed))
    position = np.full(len(plan.cells), -1)
    position[needed] = np.arange(len(needed))
    valid = np.zeros(len(plan.cells), dtype=bool)
    valid[needed] = ok
    done = run.done_parts()
    staged = _Staged(reporter, f"train {e2e.name}", "fits")
    for i, (fit, (_, row)) in enumerate(zip(plan.fits, fits.iterrows(), strict=True)):
        part = _part_name(e2e.name, f"fit{fit.fit:05d}")
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
        test = fit.test[valid[fit.test]]
        probs = predict_e2e(result.model, pixels[position[test]], e2e.input_size, device)
        fit_row = row.to_frame().T.assign(
            init=result.init, epochs_run=result.epochs_run, best_epoch=result.best_epoch,
            seconds=time.monotonic() - started,
        )
        metrics, predictions = _metric_rows(plan, fit_row, [probs], y, valid)
        run.append(part, fit_row.infer_objects(), metrics, predictions)
    staged.update_counts(len(plan.fits), len(plan.fits))


def _projection_part(
    plan: Plan, run: Run, embeddings: dict[str, tuple[np.ndarray, np.ndarray, str]], settings: Settings,
    reporter: Reporter,
) -> None:
    from mitoviz.evaluate.projection import cached_projection
    from mitoviz.evaluate.robustness import robustness_index

    frames, ri_rows = [], []
    staged = _Staged(reporter, "maps and robustness", "encoders")
    for i, (encoder, (x, valid, key)) in enumerate(embeddings.items()):
        staged.update_counts(i, len(embeddings))
        idx = np.flatnonzero(valid)
        if plan.spec.projection != "none" and len(idx) >= 3:
            coords = cached_projection(x[idx], key, settings.projections_dir, plan.spec.projection)
            frames.append(pd.DataFrame({"cell": idx.astype(np.int32), "encoder": encoder,
                                        "method": plan.spec.projection, "u": coords[:, 0], "v": coords[:, 1]}))
        for axis in DOMAIN_COLUMNS:
            confounder = plan.cells[axis].to_numpy().astype(str)[idx]
            if len(np.unique(confounder)) < 2:
                continue
            ri = robustness_index(x[idx], plan.cells["label"].to_numpy().astype(str)[idx], confounder,
                                  plan.cells["slide"].to_numpy().astype(str)[idx])
            ri_rows.append({"encoder": encoder, "confounder": axis, **ri})
    if frames:
        run.write_projections(pd.concat(frames, ignore_index=True))
    if ri_rows:
        run.write_table("robustness", pd.DataFrame(ri_rows))
    staged.update_counts(len(embeddings), len(embeddings))


def _part_name(method: str, classifier: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{method}__{classifier}")


class _Staged(Reporter):
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


def run_experiment(
    spec: ExperimentSpec, settings: Settings, reporter: Reporter | None = None, resume: bool = False,
    run_id: str | None = None,
) -> Run:
    """Run ``spec`` and return the stored run. ``resume`` continues the latest unfinished run of it."""
    reporter = reporter or Reporter()
    started = time.monotonic()
    device = resolve_device(settings.device)
    reporter.update("load and plan", 0, 1)
    plan = prepare(spec, settings, reporter)
    for line in plan.warnings:
        reporter.log(f"Note: {line}")
    store = ResultsStore(settings.results_dir)
    run = None
    if run_id:
        run = store.get(run_id)
    elif resume:
        run = store.latest_incomplete(spec.spec_hash())
    if run is None:
        run = store.create(spec.name, spec.to_dict(), spec.spec_hash())
        run.write_cells(plan.cells)
    else:
        reporter.log(f"Resuming run {run.run_id}: {len(run.done_parts())} parts already done")
    reporter.on_run(run.run_id)
    run.update_manifest(
        status="running", device=device, synthetic=plan.synthetic, positive_label=plan.positive,
        warnings=plan.warnings, size=plan.size(),
        datasets=[{"name": d.name, "cells": len(d.cells), "synthetic": d.synthetic, "skipped": d.skipped,
                   "missing_images": d.missing_images[:50], "unannotated_images": len(d.unannotated_images),
                   "notes": d.notes} for d in plan.datasets],
    )
    reporter.update("load and plan", 1, 1)
    timings: dict[str, float] = {}
    try:
        embeddings = {}
        for encoder in spec.encoders:
            t0 = time.monotonic()
            embeddings[encoder] = _probe_part(plan, run, encoder, settings, device, reporter)
            timings[encoder] = time.monotonic() - t0
        if spec.e2e:
            t0 = time.monotonic()
            reporter.log(f"Training {spec.e2e.name}, the end-to-end CNN, once per fit ({len(plan.fits)} fits)")
            _e2e_part(plan, run, settings, device, reporter)
            timings[spec.e2e.name] = time.monotonic() - t0
            reporter.log(f"{spec.e2e.name}: {len(plan.fits)} fits in {timings[spec.e2e.name]:.1f} s")
        t0 = time.monotonic()
        reporter.log("Embedding maps and the Robustness Index")
        _projection_part(plan, run, embeddings, settings, reporter)
        timings["maps and robustness"] = time.monotonic() - t0
    except BaseException as exc:
        status = "cancelled" if type(exc).__name__ == "Cancelled" else "failed"
        run.update_manifest(status=status, error=str(exc), timings=timings)
        raise
    seconds, n_fits = round(time.monotonic() - started, 1), len(run.fits())
    run.update_manifest(status="complete", seconds=seconds, timings=timings, n_fits_done=n_fits,
                        finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    reporter.log(f"Run {run.run_id} complete in {seconds} s: {n_fits} fits")
    return run


# --- size estimate ---------------------------------------------------------------------------

CNN_GFLOPS_224 = {"resnet18": 3.6, "resnet34": 7.3, "resnet50": 8.2}
GFLOPS_PER_S = {"cpu": 120.0, "cuda": 60_000.0}  # sustained, rough; measured figures are in bench/


@dataclass(frozen=True)
class Estimate:
    seconds: float
    device: str

    @property
    def label(self) -> str:
        s = self.seconds
        text = f"{s:.0f} s" if s < 90 else f"{s / 60:.0f} min" if s < 5400 else f"{s / 3600:.1f} h"
        return f"≈ {text}"


def estimate_seconds(plan: Plan, settings: Settings) -> Estimate:
    """A rough forecast from model sizes (a ViT's forward costs ≈ 0.4 GFLOP per million parameters)."""
    from mitoviz.encoders import get_spec

    device = resolve_device(settings.device)
    rate = GFLOPS_PER_S["cuda" if device.startswith("cuda") else "cpu"]
    spec = plan.spec
    embed = sum(0.4 * (get_spec(name).params_m or 0.0) for name in spec.encoders) * len(plan.cells) / rate
    probes = 0.02 * len(plan.fits) * len(spec.encoders) * len(spec.classifiers)
    e2e = 0.0
    if spec.e2e:
        per_image = 3 * CNN_GFLOPS_224[spec.e2e.arch] * (spec.e2e.input_size / 224) ** 2
        e2e = len(plan.fits) * spec.e2e.epochs * spec.e2e.samples_per_epoch * per_image / rate
    maps = 5.0 * len(spec.encoders) * max(1.0, len(plan.cells) / 5000)
    return Estimate(embed + probes + e2e + maps, device)
