"""A small finished run written through the real results store, in well under a second: no training.

Four methods of every kind (two probes, LoRA, the end-to-end CNN), three budgets, three seeds, the pooled
protocol and ``cross:scanner``; the experiment's own data set (two scanners, two tumour types, ten slides)
and an external test set. Each seed tests two slides of each scanner plus the external cells; probabilities
follow the method's skill (growing with the budget), a per-slide effect and noise; metrics rows are computed
with :func:`mitoviz.evaluate.metrics.binary_metrics_many` per test axis as the runner does (contract 3).
The CNN at the smallest budget and seed 0 predicts one class for every cell (a degenerate fit).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from mitoviz.evaluate.metrics import binary_metrics_many
from mitoviz.results import Run, new_run_id

POSITIVE = "mitotic figure"
METHODS = [
    ("uni", "probe", "uni", "logreg", 1.6),
    ("virchow2", "probe", "virchow2", "logreg", 1.2),
    ("uni+lora", "lora", "uni", "head", 1.8),
    ("e2e-resnet18", "e2e", "", "end-to-end", 1.0),
]
BUDGETS = [("2/class", 2), ("8/class", 8), ("32/class", 32)]
SEEDS = [0, 1, 2]
SCANNERS = ["Scanner A", "Scanner B"]
TUMOURS = ["breast", "lymphoma"]


def make_cells(rng: np.random.Generator) -> pd.DataFrame:
    """Ten slides of 24 cells (five per scanner) in data set ``own``, and two slides of 20 in ``external``."""
    rows = []
    for s in range(10):
        rows += [
            {
                "dataset": "own",
                "slide": f"{s:03d}",
                "scanner": SCANNERS[s % 2],
                "tumor_type": TUMOURS[(s // 2) % 2],
                "test_only": False,
            }
        ] * 24
    for s in range(2):
        rows += [
            {
                "dataset": "external",
                "slide": f"{s:03d}",
                "scanner": "Scanner C",
                "tumor_type": "breast",
                "test_only": True,
            }
            for _ in range(20)
        ]
    cells = pd.DataFrame(rows)
    cells["label"] = np.where(rng.random(len(cells)) < 0.4, POSITIVE, "imposter")
    cells["cell_id"] = [f"c{i}" for i in range(len(cells))]
    cells["image"] = "/nowhere/" + cells["dataset"] + "-" + cells["slide"] + ".tiff"
    cells["x"], cells["y"] = rng.uniform(0, 1000, len(cells)), rng.uniform(0, 1000, len(cells))
    return cells


def _test_cells(cells: pd.DataFrame, seed: int) -> np.ndarray:
    """Two own slides of each scanner (drawn per seed) and every external cell."""
    rng = np.random.default_rng(100 + seed)
    own = cells[~cells["test_only"]]
    slides = [
        s
        for scanner in SCANNERS
        for s in rng.choice(sorted(set(own.loc[own["scanner"] == scanner, "slide"])), 2, replace=False)
    ]
    keep = (~cells["test_only"] & cells["slide"].isin(slides)) | cells["test_only"]
    return np.flatnonzero(keep.to_numpy())


def _metrics(
    fit_ids: list[str], test: np.ndarray, y: np.ndarray, probs: np.ndarray, cells: pd.DataFrame
) -> pd.DataFrame:
    external = cells["test_only"].to_numpy()[test]
    groups = [("all", "all", ~external)]
    for axis in ("scanner", "tumor_type", "dataset"):
        values = cells[axis].to_numpy()[test]
        scope = np.ones(len(test), bool) if axis == "dataset" else ~external
        groups += [(axis, v, scope & (values == v)) for v in sorted(set(values[scope]))]
    parts = [
        pd.DataFrame(
            {
                "fit_id": fit_ids,
                "test_axis": axis,
                "test_domain": domain,
                **binary_metrics_many(y[test][mask], probs[:, mask]),
            }
        )
        for axis, domain, mask in groups
    ]
    return pd.concat(parts, ignore_index=True)


def write_run(home: Path, name: str = "Trust test run", synthetic: bool = True, split: str = "slide") -> Run:
    """Write the run under ``home/results`` (status complete) and return it."""
    rng = np.random.default_rng(7)
    cells = make_cells(rng)
    y = (cells["label"] == POSITIVE).to_numpy()
    slide_effect = rng.normal(0, 0.6, 12)
    slide_code = pd.factorize(cells["dataset"] + cells["slide"])[0]
    spec = {
        "datasets": ["own"],
        "test_datasets": ["external"],
        "encoders": ["uni", "virchow2"],
        "classifiers": ["logreg"],
        "split": split,
    }
    run = Run(home / "results" / new_run_id(name))  # the store's own layout, without a live owner
    run.root.mkdir(parents=True)
    run.update_manifest(
        run_id=run.run_id,
        name=name,
        spec=spec,
        spec_hash="trust-test",
        status="complete",
        created="2026-01-01 00:00:00",
    )
    run.write_cells(cells)
    for method, kind, encoder, classifier, skill in METHODS:
        fits, metrics, predictions = [], [], []
        for seed in SEEDS:
            test, ids, probs = _test_cells(cells, seed), [], []
            for protocol, train_domain in [("pooled", "all"), *[("cross:scanner", s) for s in SCANNERS]]:
                for budget, value in BUDGETS:
                    fit_id = hashlib.sha1(
                        f"{method}|{protocol}|{train_domain}|{budget}|{seed}".encode()
                    ).hexdigest()
                    strength = skill * (0.3 + 0.25 * np.log2(value)) + 0.3 * seed
                    out = (cells["scanner"].to_numpy()[test] != train_domain) & (train_domain != "all")
                    logit = (
                        strength * (2 * y[test] - 1)
                        + slide_effect[slide_code[test]]
                        - 0.8 * out
                        + rng.normal(0, 1.0, len(test))
                    )
                    prob = (1 / (1 + np.exp(-logit))).astype(np.float32)
                    if kind == "e2e" and value == 2 and seed == 0:
                        prob = np.full(len(test), 0.3, dtype=np.float32)  # one class for every cell
                    ids.append(fit_id[:12])
                    probs.append(prob)
                    fits.append(
                        {
                            "fit_id": fit_id[:12],
                            "method": method,
                            "kind": kind,
                            "encoder": encoder,
                            "classifier": classifier,
                            "protocol": protocol,
                            "axis": "" if protocol == "pooled" else "scanner",
                            "train_domain": train_domain,
                            "budget": budget,
                            "budget_kind": "per_class",
                            "budget_value": float(value),
                            "seed": seed,
                            "n_train": 2 * value,
                            "n_train_positive": value,
                            "budget_capped": False,
                            "n_test": len(test),
                        }
                    )
                    predictions.append(
                        pd.DataFrame({"fit_id": fit_id[:12], "cell": test.astype(np.int32), "prob": prob})
                    )
            metrics.append(_metrics(ids, test, y, np.stack(probs), cells))
        run.append(
            f"{method}__{classifier}",
            pd.DataFrame(fits),
            pd.concat(metrics, ignore_index=True),
            pd.concat(predictions, ignore_index=True),
        )
    run.update_manifest(
        status="complete", synthetic=synthetic, positive_label=POSITIVE, n_fits_done=4 * 3 * 3 * 3
    )
    return run
