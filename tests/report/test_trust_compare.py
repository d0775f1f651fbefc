"""Paired comparisons per budget (the curves page panel, the ``compare`` command) against evaluate.stats."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from mitoviz.errors import SpecError
from mitoviz.evaluate import stats
from mitoviz.report import compare as cmp
from mitoviz.report import trust
from mitoviz.report.methods import labelled
from tests.report.runs import POSITIVE, write_run
from tests.report.test_trust import LABELS, direct


@pytest.fixture(scope="module")
def facet(trust_tables) -> trust.Trust:
    fits, preds, _, info = trust_tables
    return trust.facet_trust(fits, preds, info, ["balanced_accuracy"], "pooled", "all")


def test_paired_rows_follow_the_budgets_with_stats_verdicts(trust_tables, facet) -> None:
    fits = trust_tables[0]
    out = cmp.paired(facet, fits, "balanced_accuracy", "uni+lora", "e2e-resnet18 (end-to-end)")
    assert list(out["budget"]) == ["2/class", "8/class", "32/class"] and list(out["n_train"]) == [4, 16, 64]
    for _, row in out.iterrows():
        boot = direct(trust_tables, "pooled", "all", row["budget"], LABELS, metrics=("balanced_accuracy",))
        d = boot.difference("balanced_accuracy", "uni+lora", "e2e-resnet18 (end-to-end)")
        assert (row["difference"], row["low"], row["high"], row["p_value"]) == pytest.approx(
            (*d[:3], d.p_value)
        )
        assert row["real"] == d.excludes_zero
        digits = 3 if min(abs(d.low), abs(d.high)) < 0.005 else 2  # a bound is never printed as a false 0.00
        assert row["verdict"] == d.verdict("uni+lora", "e2e-resnet18 (end-to-end)", row["budget"], digits)
        assert row["seeds"] == "0, 1, 2"
        per_seed = [float(v.replace("−", "-")) for v in row["per_seed"].split(", ")]
        np.testing.assert_allclose(per_seed, d.per_seed, atol=5e-4)
    seeds = cmp.seed_differences(facet, "balanced_accuracy", "uni+lora", "e2e-resnet18 (end-to-end)")
    assert len(seeds) == 9 and set(seeds.columns) == {"budget", "seed", "difference"}
    flipped = cmp.paired(facet, fits, "balanced_accuracy", "e2e-resnet18 (end-to-end)", "uni+lora")
    np.testing.assert_allclose(flipped["difference"], -out["difference"])
    np.testing.assert_allclose(flipped["low"], -out["high"])


def test_best_two_and_the_matrix(facet) -> None:
    best = cmp.best_two(facet.points, "32/class")
    at = facet.points[facet.points["budget"] == "32/class"].sort_values("estimate", ascending=False)
    assert best == at["label"].head(2).tolist()
    table = cmp.matrix(facet, "balanced_accuracy", "32/class")
    assert len(table) == 12
    once = cmp.matrix_numbers(table, LABELS)
    assert len(once) == 6 and "Holm-adjusted p" in once.columns and "p_holm" not in once.columns
    assert "6 pairwise comparisons" in cmp.matrix_statement(table)
    assert cmp.matrix_statement(table) == stats.CORRECTION_STATEMENT.format(alpha=0.05, m=6, level=95)


def test_compare_from_the_run_tables_equals_the_page(trust_tables, facet, trust_run) -> None:
    fits, preds, cells, _ = trust_tables
    out = cmp.compare(fits, preds, cells, POSITIVE, "uni", "e2e-resnet18")
    page = cmp.paired(facet, fits, "balanced_accuracy", "uni", "e2e-resnet18 (end-to-end)")
    pd.testing.assert_frame_equal(out, page)
    assert cmp.compare_run(trust_run, "uni", "e2e-resnet18").equals(out)
    scanner = cmp.compare(
        fits,
        preds,
        cells,
        POSITIVE,
        "uni",
        "virchow2",
        metric="auroc",
        protocol="cross:scanner",
        train_domain="Scanner A",
        test_axis="scanner",
        test_domain="Scanner B",
    )
    assert (
        set(scanner["test_domain"]) == {"Scanner B"}
        and set(scanner["metric"]) == {"auroc"}
        and len(scanner) == 3
    )
    lines = cmp.compare_lines(out)
    assert lines[0].startswith("uni − e2e-resnet18 (end-to-end): Balanced accuracy (pooled, trained on all")
    interval = re.compile(r"at (\d+/class): −?\d\.\d{2,3} \[−?\d\.\d{2,3}, −?\d\.\d{2,3}\]")
    assert [interval.search(line).group(1) for line in lines[1:4]] == ["2/class", "8/class", "32/class"]
    assert all(("real" in line) != ("could be chance" in line) for line in lines[1:4])
    assert lines[-1] == stats.PAIRED_STATEMENT


def test_compare_reads_stored_tables(tmp_path) -> None:
    run = write_run(tmp_path)
    trust.precompute_facets(run, ("balanced_accuracy",), test_axes=None)  # every axis
    stored = trust.stored(run, labelled(run.fits()))
    assert set(stored.pairs["test_axis"]) == {"all", "scanner", "tumor_type", "dataset"}
    stored.pairs["difference"] = 9.0  # a marker: only a read of the stored tables gives it
    out = cmp.compare(
        run.fits(), run.predictions().iloc[:0], run.cells(), POSITIVE, "uni", "virchow2", trust=stored
    )
    assert (out["difference"] == 9.0).all()


def test_methods_are_named_as_the_run_names_them(trust_tables) -> None:
    fits, preds, cells, _ = trust_tables
    assert cmp.resolve(fits, "e2e-resnet18") == "e2e-resnet18 (end-to-end)"
    assert cmp.resolve(fits, "uni+lora") == "uni+lora"
    with pytest.raises(SpecError, match="no method 'conch'") as caught:
        cmp.resolve(fits, "conch")
    assert "uni+lora" in caught.value.fix
    two = pd.concat([fits, fits.assign(classifier="knn", fit_id=fits["fit_id"] + "k")]).drop(columns="label")
    with pytest.raises(SpecError, match="several methods"):
        cmp.resolve(two, "uni")
    with pytest.raises(SpecError, match="same method"):
        cmp.compare(fits, preds, cells, POSITIVE, "uni", "uni")
    with pytest.raises(SpecError, match="No paired comparison"):
        cmp.compare(fits, preds, cells, POSITIVE, "uni", "virchow2", metric="ece")
    with pytest.raises(SpecError, match="no fits for protocol"):
        cmp.compare(fits, preds, cells, POSITIVE, "uni", "virchow2", protocol="lodo:scanner")
    assert cmp.compare_lines(cmp.paired(trust.Trust.empty(), fits, "auroc", "uni", "virchow2")) == [
        "No budget where both methods were tested on the same seeds."
    ]
