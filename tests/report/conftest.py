"""Small results tables in the store's shape: four methods of every kind, a user domain axis, three seeds."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

METHODS = [
    ("uni", "probe", "uni", "logreg"),
    ("virchow2", "probe", "virchow2", "logreg"),
    ("uni+lora", "lora", "uni", "head"),
    ("e2e-resnet18", "e2e", "", "end-to-end"),
]
BUDGETS = [("2/class", 2), ("8/class", 8)]
SEEDS = [0, 1, 2]
SPECIES = ["Canine", "Human"]
LABS = ["lab A", "lab B", "lab C"]


@pytest.fixture(scope="module")
def fits() -> pd.DataFrame:
    """Pooled fits and ``cross:species`` fits (one per training species) of every method, budget and seed."""
    rows = []
    protocols = [("pooled", "", "all"), *[("cross:species", "species", s) for s in SPECIES]]
    for (method, kind, encoder, classifier), (budget, value), seed, (
        protocol,
        axis,
        train,
    ) in itertools.product(METHODS, BUDGETS, SEEDS, protocols):
        rows.append(
            {
                "fit_id": f"{method}|{budget}|{seed}|{protocol}|{train}",
                "method": method,
                "kind": kind,
                "encoder": encoder,
                "classifier": classifier,
                "protocol": protocol,
                "axis": axis,
                "train_domain": train,
                "budget": budget,
                "budget_kind": "per_class",
                "budget_value": value,
                "seed": seed,
                "n_train": 2 * value,
                "budget_capped": False,
            }
        )
    return pd.DataFrame(rows)


def score(fit: pd.Series, test_domain: str) -> float:
    """A made-up balanced accuracy: grows with the budget, lower out of domain, varies by seed."""
    base = {"uni": 0.8, "virchow2": 0.75, "uni+lora": 0.85, "e2e-resnet18": 0.7}[fit["method"]]
    out = fit["train_domain"] not in ("all", test_domain) and test_domain in SPECIES
    return base + 0.01 * fit["budget_value"] - 0.1 * out + 0.01 * fit["seed"]


@pytest.fixture(scope="module")
def metrics(fits: pd.DataFrame) -> pd.DataFrame:
    """Rows for the experiment's own test cells (``all``) and for every value of ``species`` and ``lab``."""
    rows = []
    for _, fit in fits.iterrows():
        for axis, domain in [
            ("all", "all"),
            *[("species", s) for s in SPECIES],
            *[("lab", lab) for lab in LABS],
        ]:
            value = score(fit, domain)
            rows.append(
                {
                    "fit_id": fit["fit_id"],
                    "test_axis": axis,
                    "test_domain": domain,
                    "balanced_accuracy": value,
                    "auroc": min(1.0, value + 0.05),
                    "f1": value - 0.1,
                    "accuracy": value,
                    "kappa": 2 * value - 1,
                    "ece": 0.1,
                    "brier": 0.2,
                    "n": 40,
                    "n_pos": 16,
                    "degenerate": fit["method"] == "e2e-resnet18"
                    and fit["budget_value"] == 2
                    and fit["seed"] == 0,
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def cells() -> pd.DataFrame:
    """Twelve cells with a user axis ``lab``, no scanner or tumour type at all."""
    rng = np.random.default_rng(0)
    n = 12
    return pd.DataFrame(
        {
            "cell": np.arange(n),
            "cell_id": [f"c{i}" for i in range(n)],
            "label": ["mitotic figure" if i % 3 == 0 else "imposter" for i in range(n)],
            "species": [SPECIES[i % 2] for i in range(n)],
            "lab": [LABS[i % 3] for i in range(n)],
            "slide": [f"s{i // 4}" for i in range(n)],
            "agreement": rng.random(n),
        }
    )


@pytest.fixture(scope="session")
def trust_run(tmp_path_factory: pytest.TempPathFactory):
    """A finished run in the real store (tests/report/runs.py), shared read-only by the bootstrap tests."""
    from tests.report.runs import write_run

    return write_run(tmp_path_factory.mktemp("trust-run"))


@pytest.fixture(scope="session")
def trust_tables(trust_run):
    """(fits with labels, predictions, cells, CellInfo) of :func:`trust_run`."""
    from mitoviz.report import trust
    from mitoviz.report.methods import labelled
    from tests.report.runs import POSITIVE

    fits, cells = labelled(trust_run.fits()), trust_run.cells()
    return fits, trust_run.predictions(), cells, trust.CellInfo.of(cells, POSITIVE)
