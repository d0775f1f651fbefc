"""Planning: load the data, split it and draw every fit before any compute starts.

Every check that can be made in advance is made here (unknown encoders or columns, missing images,
budgets larger than a class, external test sets whose classes do not fit), so an experiment fails in
seconds, not after an hour of embedding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from mitoviz.config import Settings
from mitoviz.data.cells import ALL, COLUMNS, EXTERNAL, UNKNOWN, Dataset, domain_axes, positive_label
from mitoviz.data.ingest import describe_rows
from mitoviz.data.splits import (
    CELL_SPLIT_WARNING,
    LEAKY_SPLITS,
    Budget,
    draw_budgets,
    fmc_budget_draws,
    fold_pools,
    split_cells,
)
from mitoviz.errors import BudgetError, DataError, MitovizError, SpecError
from mitoviz.evaluate.classifiers import make_classifier
from mitoviz.experiment.spec import ExperimentSpec, parse_protocol
from mitoviz.progress import Reporter

DEMO_DATASET = "mitoviz-demo"
LISTED = 10


@dataclass(frozen=True)
class FitPlan:
    """One fit: which cells train it, which validate a trained method (None: carved by the trainer), which test it.

    ``seed`` is the replicate: a seed, or the fold number when the spec asks for folds.
    """

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
    val: np.ndarray | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "fit": self.fit, "protocol": self.protocol, "axis": self.axis, "train_domain": self.train_domain,
            "budget": self.budget.label, "budget_kind": self.budget.kind, "budget_value": self.budget.value,
            "seed": self.seed, "n_train": len(self.train), "n_train_positive": 0, "budget_capped": self.capped,
            "n_val": -1 if self.val is None else len(self.val), "n_test": len(self.test),
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
    blocks: dict[str, list[int]] = field(default_factory=dict)  # encoder → blocks embedded besides its output

    @cached_property
    def axes(self) -> list[str]:
        """Domain columns metrics are reported by: those of the training data, and ``dataset`` with external sets."""
        axes = domain_axes(self.cells[~self.cells[EXTERNAL]])
        return axes if "dataset" in axes or not self.cells[EXTERNAL].any() else [*axes, "dataset"]

    @property
    def synthetic(self) -> bool:
        return any(d.synthetic for d in self.datasets)

    def size(self) -> dict[str, int]:
        n_enc = len(self.spec.encoders) + sum(len(b) for b in self.blocks.values())
        return {
            "cells": len(self.cells),
            "external_cells": int(self.cells[EXTERNAL].sum()),
            "fits_per_method": len(self.fits),
            "probe_fits": len(self.fits) * n_enc * len(self.spec.classifiers),
            "trained_fits": len(self.fits) * len(self.spec.trained),
            "embeddings": len(self.cells) * n_enc,
        }


def ensure_demo_data(settings: Settings, reporter: Reporter | None = None) -> None:
    """The built-in demo set is generated on first use (it needs no download)."""
    from mitoviz.data.sources import find_preset
    from mitoviz.demo import generate_demo

    if find_preset(DEMO_DATASET, settings).ready:
        return
    reporter = reporter or Reporter()
    reporter.log(f"Generating the synthetic demo data set in {settings.demo_dir}")
    generate_demo(settings.demo_dir, progress=lambda done, total: reporter.update("demo data", done, total, "images"))


def _with_images(dataset: Dataset, spec: ExperimentSpec, warnings: list[str]) -> pd.DataFrame:
    """The data set's cells; cells whose image file is missing stop the plan, or are dropped when asked."""
    if not dataset.missing_images:
        return dataset.cells
    missing = set(dataset.missing_images)
    lost = dataset.cells["image"].isin(missing)
    listed = ", ".join(sorted(missing)[:LISTED]) + (f" and {len(missing) - LISTED} more" if len(missing) > LISTED else "")
    if spec.missing_images != "drop":
        raise DataError(
            f"{dataset.name}: {len(missing)} image file(s) of {int(lost.sum())} cell(s) are missing: {listed}.",
            'Put the images where the annotation file expects them, or set missing_images = "drop" (the New '
            "benchmark page: 'Leave out cells whose image is missing') to run without those cells.",
        )
    warnings.append(f"{dataset.name}: left out {int(lost.sum())} cell(s) of {len(missing)} missing image file(s) "
                    f"({listed}).")
    if lost.all():
        raise DataError(f"{dataset.name}: every image file is missing, so no cell is left.",
                        "Put the images where the annotation file expects them.")
    return dataset.cells[~lost]


def _report_rows(dataset: Dataset, warnings: list[str]) -> None:
    for line in describe_rows(dataset.adjusted):
        warnings.append(f"{dataset.name}: adjusted {line}")
    for line in describe_rows(dataset.skipped):
        warnings.append(f"{dataset.name}: skipped {line}")
    for column, merges in dataset.normalised.items():
        if column != "label":
            text = ", ".join(f"{m['raw']!r} → {m['normalised']!r} ({m['rows']})" for m in merges[:6])
            warnings.append(f"{dataset.name}: {column} names normalised: {text}.")


def load_cells(spec: ExperimentSpec, settings: Settings) -> tuple[pd.DataFrame, list[Dataset], list[str]]:
    """The run's cell table: the experiment's data sets, then its external test sets (``test_only``)."""
    from mitoviz.data.sources import load_dataset

    warnings: list[str] = []
    datasets, parts = [], []
    for name in (*spec.datasets, *spec.test_datasets):
        dataset = load_dataset(name, settings, strict=spec.strict)
        _report_rows(dataset, warnings)
        datasets.append(dataset)
        parts.append(_with_images(dataset, spec, warnings).assign(**{EXTERNAL: name in spec.test_datasets}))
    cells = pd.concat(parts, ignore_index=True)
    for column in set(cells.columns) - set(COLUMNS) - {EXTERNAL}:  # columns only some data sets have
        cells[column] = cells[column].fillna(UNKNOWN)
    if cells["cell_id"].duplicated().any():
        raise SpecError("Two data sets share cell ids.", "Do not list the same data set twice under two names.")
    return _external_labels(cells, warnings), datasets, warnings


def _external_labels(cells: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """External cells must carry classes the training data has; others are left out, none at all is an error."""
    external = cells[EXTERNAL].to_numpy()
    trained = set(cells.loc[~external, "label"])
    keep = np.ones(len(cells), dtype=bool)
    for name, group in cells[external].groupby("dataset"):
        labels = set(group["label"])
        if not labels & trained:
            raise DataError(
                f"External test set {name} has the classes {sorted(labels)}, none of which the training data has "
                f"({sorted(trained)}).", "Test on a data set of the same task (e.g. atypical vs normal with AMi-Br).")
        extra = labels - trained
        if extra:
            lost = group["label"].isin(extra)
            keep[group.index[lost]] = False
            warnings.append(f"External test set {name}: {int(lost.sum())} cell(s) of class(es) {sorted(extra)} that "
                            "the training data lacks are left out.")
    return cells[keep].reset_index(drop=True)


def _domains(cells: pd.DataFrame, axis: str, protocol: str, internal: np.ndarray, warnings: list[str]) -> list[str]:
    available = domain_axes(cells[internal])
    if axis not in available:
        raise SpecError(f"Unknown domain axis {axis!r} in {protocol}: this data's domain columns are {available}.",
                        "Use one of those columns, or the pooled protocol.")
    values = cells.loc[internal, axis].astype(str)
    unknown = int((values == UNKNOWN).sum())
    if unknown:
        warnings.append(f"{protocol}: {unknown} cell(s) with an unknown {axis} are in no training domain.")
    return sorted(set(values) - {UNKNOWN, ""})


def _replicates(cells: pd.DataFrame, spec: ExperimentSpec, internal: np.ndarray
                ) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray | None]]:
    """(replicate, training part, test cells, validation cells or None): one per seed, or one per fold."""
    labels = cells["label"].to_numpy().astype(str)
    inside = np.flatnonzero(internal)
    external = np.flatnonzero(~internal)
    out = []
    for seed in spec.seeds:
        split = split_cells(cells.iloc[inside], spec.split, spec.test_fraction, seed)
        train, test = inside[split == "train"], np.concatenate([inside[split == "test"], external])
        if spec.folds:
            slides = cells["slide"].to_numpy().astype(str)
            out.extend((k, pool, test, val) for k, (pool, val) in
                       enumerate(fold_pools(labels, slides, train, spec.folds, seed)))
        else:
            out.append((seed, train, test, None))
    return out


def _pools(cells: pd.DataFrame, protocol: str, train: np.ndarray, internal: np.ndarray,
           warnings: list[str]) -> tuple[str, dict[str, np.ndarray]]:
    kind, axis = parse_protocol(protocol)
    if kind == "pooled":
        return "", {ALL: train}
    values = _domains(cells, axis, protocol, internal, warnings)
    if len(values) < 2:
        raise SpecError(f"Protocol {protocol} needs at least two {axis} values; the data has {values}.",
                        "Use the pooled protocol, or add data from another domain.")
    domain = cells[axis].to_numpy().astype(str)
    if kind == "cross":
        return axis, {v: train[domain[train] == v] for v in values}
    return axis, {f"not {v}": train[(domain[train] != v) & (domain[train] != UNKNOWN)] for v in values}


def plan_fits(cells: pd.DataFrame, spec: ExperimentSpec) -> tuple[list[FitPlan], list[str]]:
    """Split per replicate and draw the budgets for every protocol and training domain.

    Raises a :class:`MitovizError` for anything that cannot work (a class missing from a split or
    domain, a budget larger than a class, an unknown domain column) before any compute starts.
    """
    if EXTERNAL not in cells:
        cells = cells.assign(**{EXTERNAL: False})
    internal = ~cells[EXTERNAL].to_numpy(dtype=bool)
    labels = cells["label"].to_numpy().astype(str)
    warnings = [CELL_SPLIT_WARNING] if spec.split in LEAKY_SPLITS else []
    fits: list[FitPlan] = []
    for replicate, train_all, test, fold_val in _replicates(cells, spec, internal):
        for protocol in spec.protocols:
            axis, pools = _pools(cells, protocol, train_all, internal, warnings)
            # a fold's validation cells, restricted like the pool: never another (or the held-out) domain
            fold_vals = _pools(cells, protocol, fold_val, internal, [])[1] if fold_val is not None else {}
            for train_domain, pool in pools.items():
                for budget, train, val, per_class, capped in _draws(spec, labels, pool, replicate, train_domain,
                                                                    int(internal.sum())):
                    given = val if val is not None else fold_vals.get(train_domain)
                    fits.append(FitPlan(len(fits), protocol, axis or "", train_domain, budget, replicate, train,
                                        test, per_class, capped, given))
                    if capped:
                        warnings.append(f"Budget {budget.label} capped in {train_domain} (replicate {replicate}): "
                                        "a class has fewer cells than asked.")
    return fits, sorted(set(warnings), key=warnings.index)


def _draws(spec: ExperimentSpec, labels: np.ndarray, pool: np.ndarray, replicate: int, train_domain: str, n: int
           ) -> list[tuple[Budget, np.ndarray, np.ndarray | None, dict[str, int], bool]]:
    where = "" if train_domain == ALL else f" (training domain {train_domain})"
    try:
        if spec.split == "fmc":
            draws = fmc_budget_draws(n, pool, list(spec.budgets), spec.test_fraction, replicate)
            out = []
            for budget, train, val in draws:
                classes, sizes = np.unique(labels[train], return_counts=True)
                if len(classes) < 2:
                    raise BudgetError(
                        f"Budget {budget.label} of seed {replicate} draws {len(train)} training cell(s), all "
                        f"{classes[0] if len(classes) else 'of no class'}: a classifier needs both classes",
                        "Raise the smallest budget (the published protocol draws a fraction of the cells at random, "
                        "so small fractions of small data sets can miss a class), or use a per-class budget "
                        "with another split mode.",
                    )
                out.append((budget, np.sort(train), np.sort(val), dict(zip(classes.tolist(), sizes.tolist(),
                                                                           strict=True)), False))
            return out
        draws = draw_budgets(labels[pool], list(spec.budgets), replicate, spec.on_budget_overflow)
    except MitovizError as exc:
        raise type(exc)(exc.what.rstrip(".") + where + ".", exc.fix) from exc
    return [(d.budget, pool[d.indices], None, d.per_class, d.capped) for d in draws]


def check_encoders(spec: ExperimentSpec, settings: Settings) -> dict[str, list[int]]:
    """Every encoder (probed or trained) is known, has its weights here, and suits its method.
    Returns the blocks asked for by depth (``layers``), resolved ("all" → every block)."""
    from mitoviz.encoders import TOKEN_POOLINGS, encoder_status, get_spec, resolve_encoder_layers

    status = {s.name: s for s in encoder_status(settings)}
    trained = {m.encoder: m for m in spec.trained if m.encoder}
    for name in (*spec.encoders, *(n for n in trained if n not in spec.encoders)):
        if name not in status:
            raise SpecError(f"Unknown encoder {name!r}.", f"Known encoders: {', '.join(sorted(status))}.")
        if not status[name].available:
            raise SpecError(f"Encoder {name} has no weights here: {status[name].reason}.", status[name].how_to_get)
    for method in spec.trained:
        if method.kind == "lora" and get_spec(method.encoder, settings).pooling not in TOKEN_POOLINGS:
            raise SpecError(f"LoRA adapts transformer blocks, but {method.encoder} is not a transformer.",
                            f"Fine-tune {method.encoder} fully (kind finetune), or use LoRA on a ViT encoder.")
    return {name: list(resolve_encoder_layers(name, layers, settings)) for name, layers in spec.layers.items()}


def prepare(spec: ExperimentSpec, settings: Settings, reporter: Reporter | None = None) -> Plan:
    """Load, split and plan; every check that can be made in advance is made here."""
    blocks = check_encoders(spec, settings)
    for name in spec.classifiers:
        make_classifier(name, **spec.classifier_params.get(name, {}))
    if DEMO_DATASET in (*spec.datasets, *spec.test_datasets) and reporter is not None:
        ensure_demo_data(settings, reporter)
    cells, datasets, warnings = load_cells(spec, settings)
    positive = positive_label(cells.loc[~cells[EXTERNAL], "label"])
    fits, fit_warnings = plan_fits(cells, spec)
    warnings = [*fit_warnings, *warnings]
    for dataset in datasets:
        warnings.extend(f"{dataset.name}: {note}" for note in dataset.notes)
    return Plan(spec, cells, datasets, fits, positive, warnings, blocks)
