"""Intervals of the domain page: matrix cells and in- vs out-of-domain drops, against evaluate.stats."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mitoviz.evaluate import stats
from mitoviz.report import joined
from mitoviz.report.domain_trust import domain_trust, stored_domains
from mitoviz.report.domains import domain_drop, own_datasets, with_domain_intervals
from mitoviz.report.methods import labelled
from mitoviz.report.precompute import precompute
from tests.report.runs import write_run
from tests.report.test_trust import LABELS, direct


@pytest.fixture(scope="module")
def scanner(trust_tables) -> tuple[pd.DataFrame, pd.DataFrame]:
    fits, preds, _, info = trust_tables
    return domain_trust(fits, preds, info, "balanced_accuracy", "cross:scanner", "scanner", "8/class")


def test_matrix_cells_equal_stats_on_their_rows(trust_tables, scanner) -> None:
    cells, _ = scanner
    assert len(cells) == 4 * 2 * 2 and cells["low"].between(0, 1).all() and cells["high"].between(0, 1).all()
    boot = direct(
        trust_tables,
        "cross:scanner",
        "Scanner A",
        "8/class",
        LABELS,
        metrics=("balanced_accuracy",),
        keep=lambda r: (r["scanner"] == "Scanner B") & ~r["test_only"],
    )
    for label in LABELS:
        row = cells[
            (cells["label"] == label)
            & (cells["train_domain"] == "Scanner A")
            & (cells["test_domain"] == "Scanner B")
        ].iloc[0]
        assert tuple(row[["estimate", "low", "high"]]) == pytest.approx(
            boot.interval("balanced_accuracy", label)[:3]
        )


def test_drop_uses_the_same_seed_draws_for_every_cell(trust_tables, scanner, trust_run) -> None:
    _, drops = scanner
    table = joined(trust_run.fits(), trust_run.metrics())
    from_metrics = domain_drop(table, "balanced_accuracy", "cross:scanner", "scanner", "8/class").set_index(
        "label"
    )
    assert set(drops["label"]) == set(LABELS)
    for _, row in drops.iterrows():
        assert row["drop"] == pytest.approx(from_metrics.loc[row["label"], "drop"], abs=1e-6)
        assert row["in_domain"] == pytest.approx(from_metrics.loc[row["label"], "in_domain"], abs=1e-6)
        assert (
            row["low"] <= row["drop"] <= row["high"] and row["in_low"] <= row["in_domain"] <= row["in_high"]
        )
    # By hand from stats: a call per test domain (same random_state: the same seed draws), in − out per draw.
    reps = {}
    for test in ("Scanner A", "Scanner B"):
        per_train = [
            direct(
                trust_tables,
                "cross:scanner",
                train,
                "8/class",
                ["uni"],
                metrics=("balanced_accuracy",),
                keep=lambda r, t=test: (r["scanner"] == t) & ~r["test_only"],
            )
            for train in ("Scanner A", "Scanner B")
        ]
        reps[test] = [b.replicates[:, 0, 0] for b in per_train]
    inside = (reps["Scanner A"][0] + reps["Scanner B"][1]) / 2
    outside = (reps["Scanner A"][1] + reps["Scanner B"][0]) / 2
    uni = drops.set_index("label").loc["uni"]
    assert (uni["low"], uni["high"]) == pytest.approx(tuple(np.percentile(inside - outside, [2.5, 97.5])))
    assert (uni["in_low"], uni["in_high"]) == pytest.approx(tuple(np.percentile(inside, [2.5, 97.5])))


def test_no_drop_interval_when_a_domain_misses_a_seed(trust_tables) -> None:
    fits, preds, cells, info = trust_tables
    seed1 = fits.loc[fits["seed"] == 1, "fit_id"]
    scanner_b = cells.loc[cells["scanner"] == "Scanner B", "cell"]
    fewer = preds[~(preds["fit_id"].isin(seed1) & preds["cell"].isin(scanner_b))]
    found, drops = domain_trust(fits, fewer, info, "balanced_accuracy", "cross:scanner", "scanner", "8/class")
    assert drops.empty and found["low"].notna().all()
    assert (found.loc[found["test_domain"] == "Scanner B", "n_seeds"] == 2).all()


def test_external_test_sets_are_out_of_domain(trust_tables) -> None:
    fits, preds, cells, info = trust_tables
    own = own_datasets(cells)
    found, drops = domain_trust(
        fits, preds, info, "auroc", "pooled", "dataset", "32/class", ["uni", "virchow2"], own
    )
    assert (
        own == ["own"]
        and set(found["test_domain"]) == {"own", "external"}
        and set(found["train_domain"]) == {"all"}
    )
    assert set(drops["label"]) == {"uni", "virchow2"} and drops["high"].notna().all()
    boot = direct(
        trust_tables,
        "pooled",
        "all",
        "32/class",
        ["uni", "virchow2"],
        metrics=("auroc",),
        keep=lambda r: r["test_only"],
    )
    row = found[(found["label"] == "uni") & (found["test_domain"] == "external")].iloc[0]
    assert (row["low"], row["high"]) == pytest.approx(boot.interval("auroc", "uni")[1:3])
    matrix = pd.DataFrame(
        {"label": ["uni"], "train_domain": ["all"], "test_domain": ["external"], "mean": [0.8]}
    )
    merged, merged_drops = with_domain_intervals(matrix, drops[["label", "drop"]], found, drops)
    assert merged["low"].iloc[0] == pytest.approx(row["low"]) and merged_drops["in_low"].notna().all()
    assert stats.N_RESAMPLES == 1000


def test_precompute_stores_the_domain_pages_opening_views(tmp_path, trust_tables) -> None:
    run = write_run(tmp_path)
    fits = labelled(run.fits())
    assert stored_domains(run, fits) is None
    precompute(run, ("balanced_accuracy", "auroc"))
    cells, drops = stored_domains(run, fits)
    views = set(zip(cells["protocol"], cells["test_axis"], strict=True))
    assert views == {("cross:scanner", "scanner"), ("pooled", "dataset")}  # each protocol's opening test axis
    assert set(cells["budget"]) == {"32/class"}  # the page opens on the largest budget
    assert set(cells["metric"]) == {"balanced_accuracy", "auroc"}
    _, preds, _, info = trust_tables
    direct_cells, direct_drops = domain_trust(
        fits, preds, info, "auroc", "cross:scanner", "scanner", "32/class"
    )
    at = cells[(cells["protocol"] == "cross:scanner") & (cells["metric"] == "auroc")]
    pd.testing.assert_frame_equal(
        at[direct_cells.columns].reset_index(drop=True), direct_cells, check_dtype=False
    )
    lost = drops[(drops["protocol"] == "cross:scanner") & (drops["metric"] == "auroc")]
    pd.testing.assert_frame_equal(
        lost[direct_drops.columns].reset_index(drop=True), direct_drops, check_dtype=False
    )
    assert set(drops.loc[drops["protocol"] == "pooled", "label"]) == set(LABELS)  # own data vs external set
    run.append(
        "late_part",
        run.fits().iloc[:1].assign(fit_id="new-fit"),
        run.metrics().iloc[:0],
        run.predictions().iloc[:0],
    )
    assert stored_domains(run, labelled(run.fits())) is None
