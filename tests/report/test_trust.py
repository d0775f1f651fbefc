"""Bootstrap tables of a run's facets against evaluate.stats called directly on the same rows (a plain
pandas pivot of the stored predictions), precomputed tables stored in a run, and partial runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mitoviz.evaluate import stats
from mitoviz.report import trust
from mitoviz.report.methods import labelled
from tests.report.runs import POSITIVE, write_run

LABELS = ["e2e-resnet18 (end-to-end)", "uni", "uni+lora", "virchow2"]


def direct(
    trust_tables,
    protocol: str,
    train: str,
    budget: str,
    labels: list[str],
    keep=None,
    metrics=("balanced_accuracy", "auroc"),
    predictions: pd.DataFrame | None = None,
) -> stats.Bootstrap:
    """stats.bootstrap_metrics on the rows of one point, pivoted with pandas: (seed, cell) × method."""
    fits, preds, cells, _ = trust_tables
    preds = preds if predictions is None else predictions
    at = fits[(fits["protocol"] == protocol) & (fits["train_domain"] == train) & (fits["budget"] == budget)]
    rows = preds.merge(at[["fit_id", "label", "seed"]], on="fit_id").merge(
        cells[["cell", "label", "dataset", "slide", "scanner", "test_only"]].rename(
            columns={"label": "truth"}
        ),
        on="cell",
    )
    rows = rows[keep(rows)] if keep is not None else rows[~rows["test_only"]]
    wide = rows.pivot_table(index=["seed", "cell"], columns="label", values="prob", aggfunc="first").dropna()
    first = rows.drop_duplicates(["seed", "cell"]).set_index(["seed", "cell"]).loc[wide.index]
    return stats.bootstrap_metrics(
        (first["truth"] == POSITIVE).to_numpy(),
        wide[labels].to_numpy().T,
        (first["dataset"] + "/" + first["slide"]).to_numpy(),
        wide.index.get_level_values("seed").to_numpy(),
        labels,
        metrics,
        n_resamples=stats.resamples_for(4),
    )


def test_points_and_pairs_equal_stats_on_the_same_rows(trust_tables) -> None:
    fits, preds, _, info = trust_tables
    found = trust.facet_trust(fits, preds, info, ["balanced_accuracy", "auroc"], "pooled", "all")
    assert set(found.points["budget"]) == {"2/class", "8/class", "32/class"} and set(
        found.points["test_domain"]
    ) == {"all"}
    assert (found.points["n_resamples"] == stats.resamples_for(4)).all() and (
        found.points["n_seeds"] == 3
    ).all()
    boot = direct(trust_tables, "pooled", "all", "8/class", LABELS)
    at = found.where(budget="8/class")
    for metric in ("balanced_accuracy", "auroc"):
        for label in LABELS:
            row = at.points[(at.points["metric"] == metric) & (at.points["label"] == label)].iloc[0]
            expected = boot.interval(metric, label)
            assert (row["estimate"], row["low"], row["high"], row["seed_sd"]) == pytest.approx(
                (expected.estimate, expected.low, expected.high, expected.seed_sd)
            )
        matrix = boot.matrix(metric)
        pairs = at.pairs[at.pairs["metric"] == metric].set_index(["a", "b"])
        assert len(pairs) == 12 and (pairs["comparisons"] == 6).all()
        for i, a in enumerate(LABELS):
            for j, b in enumerate(LABELS):
                if i != j:
                    got = pairs.loc[(a, b)]
                    assert (got["difference"], got["low"], got["high"], got["p_holm"]) == pytest.approx(
                        (matrix.difference[i, j], matrix.low[i, j], matrix.high[i, j], matrix.p_holm[i, j])
                    )
                    assert got["real"] == matrix.real[i, j]
                    assert got["excludes_zero"] == boot.difference(metric, a, b).excludes_zero
    seeds = at.seeds[(at.seeds["metric"] == "auroc") & (at.seeds["label"] == "uni")].sort_values("seed")
    np.testing.assert_allclose(seeds["value"], boot.per_seed[:, LABELS.index("uni"), 1])


def test_test_domains_follow_the_metrics_rows(trust_tables) -> None:
    """Axes but ``dataset`` score the experiment's own test cells; ``dataset`` includes external sets."""
    fits, preds, _, info = trust_tables
    scanner = trust.facet_trust(
        fits, preds, info, ["balanced_accuracy"], "cross:scanner", "Scanner A", "scanner"
    )
    assert set(scanner.points["test_domain"]) == {"Scanner A", "Scanner B"}  # the external Scanner C is not
    boot = direct(
        trust_tables,
        "cross:scanner",
        "Scanner A",
        "2/class",
        LABELS,
        metrics=("balanced_accuracy",),
        keep=lambda r: (r["scanner"] == "Scanner B") & ~r["test_only"],
    )
    row = scanner.points[
        (scanner.points["test_domain"] == "Scanner B")
        & (scanner.points["budget"] == "2/class")
        & (scanner.points["label"] == "uni")
    ].iloc[0]
    assert (row["low"], row["high"]) == pytest.approx(boot.interval("balanced_accuracy", "uni")[1:3])
    dataset = trust.facet_trust(fits, preds, info, ["balanced_accuracy"], "pooled", "all", "dataset")
    assert set(dataset.points["test_domain"]) == {"external", "own"}
    external = dataset.points[dataset.points["test_domain"] == "external"]
    assert (external["n_cells"] == 40).all() and (external["n_slides"] == 2).all()
    values = pd.concat([scanner.points, dataset.points])
    assert values["low"].between(0, 1).all() and values["high"].between(0, 1).all()
    assert (values["low"] <= values["high"]).all()


def test_a_run_in_progress_bootstraps_methods_apart(trust_tables) -> None:
    """A method that lacks a seed at a point is bootstrapped alone and compared with none."""
    fits, preds, _, info = trust_tables
    gone = fits[(fits["label"] == "uni+lora") & (fits["seed"] == 2)]["fit_id"]
    partial = fits[~fits["fit_id"].isin(gone)]
    found = trust.facet_trust(
        partial, preds, info, ["balanced_accuracy"], "pooled", "all", budgets=["8/class"]
    )
    lora = found.points[found.points["label"] == "uni+lora"].iloc[0]
    assert lora["n_seeds"] == 2
    assert not ((found.pairs["a"] == "uni+lora") | (found.pairs["b"] == "uni+lora")).any()
    assert len(found.pairs) == 6 and (found.pairs["comparisons"] == 3).all()
    others = [label for label in LABELS if label != "uni+lora"]
    boot = direct(trust_tables, "pooled", "all", "8/class", others, metrics=("balanced_accuracy",))
    uni = found.points[found.points["label"] == "uni"].iloc[0]
    assert (uni["low"], uni["high"]) == pytest.approx(boot.interval("balanced_accuracy", "uni")[1:3])


def test_a_method_with_more_cells_keeps_them_for_its_interval(trust_tables) -> None:
    """Pairs use the rows both methods predicted; each method's own interval uses all of its rows."""
    fits, preds, _, info = trust_tables
    ids = fits.loc[
        (fits["label"] == "virchow2")
        & (fits["budget"] == "8/class")
        & (fits["protocol"] == "pooled")
        & (fits["seed"] == 0),
        "fit_id",
    ]
    lost = preds[preds["fit_id"].isin(ids)].index[:5]  # virchow2 could not read five cells in seed 0
    fewer = preds.drop(index=lost)
    found = trust.facet_trust(fits, fewer, info, ["balanced_accuracy"], "pooled", "all", budgets=["8/class"])
    shared = direct(
        trust_tables, "pooled", "all", "8/class", LABELS, metrics=("balanced_accuracy",), predictions=fewer
    )
    full = direct(
        trust_tables, "pooled", "all", "8/class", ["uni", "uni+lora"], metrics=("balanced_accuracy",)
    )
    uni = found.points[found.points["label"] == "uni"].iloc[0]
    assert (uni["low"], uni["high"]) == pytest.approx(full.interval("balanced_accuracy", "uni")[1:3])
    virchow = found.points[found.points["label"] == "virchow2"].iloc[0]
    assert (virchow["low"], virchow["high"]) == pytest.approx(
        shared.interval("balanced_accuracy", "virchow2")[1:3]
    )
    pair = found.pairs[(found.pairs["a"] == "uni") & (found.pairs["b"] == "virchow2")].iloc[0]
    assert (pair["low"], pair["high"]) == pytest.approx(
        shared.difference("balanced_accuracy", "uni", "virchow2")[1:3]
    )


def test_precomputed_tables_are_read_back_until_fits_change(tmp_path: Path) -> None:
    run = write_run(tmp_path)
    fits = labelled(run.fits())
    assert trust.stored(run, fits) is None
    made = trust.precompute_facets(run, ("balanced_accuracy",))  # by default the facets the page opens on
    assert set(made.points["test_axis"]) == {"all"}
    assert set(zip(made.points["protocol"], made.points["train_domain"], strict=True)) == {
        ("pooled", "all"),
        ("cross:scanner", "Scanner A"),
        ("cross:scanner", "Scanner B"),
    }
    back = trust.stored(run, fits)
    assert back is not None
    pd.testing.assert_frame_equal(back.points, made.points, check_dtype=False)
    assert len(back.pairs) == len(made.pairs) and len(back.seeds) == len(made.seeds)
    info = trust.CellInfo.of(run.cells(), POSITIVE)
    again = trust.facet_trust(
        fits, run.predictions(), info, ["balanced_accuracy"], "cross:scanner", "Scanner B"
    )
    pd.testing.assert_frame_equal(
        back.where(protocol="cross:scanner", train_domain="Scanner B").points, again.points, check_dtype=False
    )
    extra = run.fits().iloc[:1].assign(fit_id="new-fit")
    run.append("late_part", extra, run.metrics().iloc[:0], run.predictions().iloc[:0])
    assert trust.stored(run, labelled(run.fits())) is None  # stale: the run gained a fit


def test_unknown_metric_and_test_axis_say_what_to_do(trust_tables) -> None:
    fits, preds, _, info = trust_tables
    with pytest.raises(stats.SpecError, match="No bootstrap interval"):
        trust.facet_trust(fits, preds, info, ["ece"], "pooled", "all")
    with pytest.raises(stats.SpecError, match="no column 'centre'"):
        trust.facet_trust(fits, preds, info, ["auroc"], "pooled", "all", "centre", test_domains=["x"])
    assert trust.facet_trust(fits, preds, info, ["auroc"], "lodo:scanner", "all").points.empty
