"""Errors against rater agreement: the report's tables are the stats module's answers, reshaped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mitoviz.evaluate import stats
from mitoviz.report import RATER_FILTERS, cell_predictions, error_table, has_votes, level_counts, rater_mask
from mitoviz.report.agreement import AGREE_ALL_WRONG, SPLIT, agreement_text

POSITIVE = "mitotic figure"
N_CELLS = 60
METHODS = [("uni", "probe", "logreg"), ("uni+lora", "lora", "head"), ("e2e-resnet18", "e2e", "end-to-end")]


@pytest.fixture(scope="module")
def voted() -> pd.DataFrame:
    """Cells with three raters (all agree, split 2:1) and five (4:1 majority), a few without votes."""
    rng = np.random.default_rng(4)
    agreement = rng.choice([1.0, 2 / 3, 0.8, np.nan], N_CELLS, p=[0.5, 0.25, 0.15, 0.1])
    return pd.DataFrame({
        "cell": np.arange(N_CELLS), "cell_id": [f"c{i}" for i in range(N_CELLS)],
        "label": np.where(np.arange(N_CELLS) % 3 == 0, POSITIVE, "imposter"),
        "slide": [f"s{i % 8}" for i in range(N_CELLS)], "agreement": agreement,
        "rater_votes": ["a;a;a" if a == 1 else "a;a;b" if a < 0.7 else "a;a;a;a;b" if a == 0.8 else ""
                        for a in agreement],
    })


@pytest.fixture(scope="module")
def per_cell(voted: pd.DataFrame) -> pd.DataFrame:
    """Three methods × three seeds; each seed tests its own 40 cells; errors likelier where raters split."""
    rng = np.random.default_rng(5)
    fits, preds = [], []
    for seed in range(3):
        tested = rng.choice(N_CELLS, 40, replace=False)
        for method, kind, classifier in METHODS:
            fit = f"{method}|{seed}"
            fits.append({"fit_id": fit, "method": method, "kind": kind, "classifier": classifier,
                         "budget": "2/class", "seed": seed, "protocol": "pooled", "train_domain": "all"})
            truth = voted["label"].to_numpy()[tested] == POSITIVE
            unsure = voted["agreement"].to_numpy()[tested] < 1
            wrong = rng.random(40) < np.where(unsure, 0.5, 0.15)
            prob = np.where(truth != wrong, 0.8, 0.2)
            prob[::7] = 0.5  # the threshold itself: the negative class
            preds += [{"fit_id": fit, "cell": c, "prob": p} for c, p in zip(tested, prob, strict=True)]
    return cell_predictions(pd.DataFrame(preds), pd.DataFrame(fits), voted, POSITIVE)


def test_error_table_is_the_stats_bootstrap(per_cell: pd.DataFrame) -> None:
    table, statement = error_table(per_cell, n_resamples=300, random_state=1)
    wide = per_cell.pivot_table(index=["seed", "cell"], columns="label", values="correct", aggfunc="first")
    facts = per_cell.drop_duplicates(["seed", "cell"]).set_index(["seed", "cell"]).loc[wide.index]
    direct = stats.error_by_agreement(wide.to_numpy(bool).T, facts["agreement"].to_numpy(), facts["slide"].to_numpy(),
                                      facts.index.get_level_values("seed").to_numpy(), list(wide.columns),
                                      n_resamples=300, random_state=1)
    assert statement == direct.statement and "two thirds" in statement
    assert set(table["label"]) == {"uni", "uni+lora", "e2e-resnet18 (end-to-end)"}
    assert set(table["level"]) == set(stats.AGREEMENT_LEVELS)
    for row in table.itertuples():
        got = direct.interval(row.level, row.label)
        assert (row.error, row.low, row.high) == pytest.approx((got.estimate, got.low, got.high))
        assert 0 <= row.low <= row.error <= row.high <= 1 and row.n_seeds == 3
    # the point estimate by hand: mean over seeds of the share of wrong calls among the level's test cells
    uni = per_cell[per_cell["label"] == "uni"]
    level = stats.agreement_levels(uni["agreement"].to_numpy())
    split = np.mean([(~uni["correct"][(uni["seed"] == s).to_numpy() & (level == "split")]).mean() for s in range(3)])
    assert table.set_index(["label", "level"]).loc[("uni", "split"), "error"] == pytest.approx(split)
    cells = table.set_index(["label", "level"])["n_cells"]
    tested = per_cell.drop_duplicates("cell")
    assert cells[("uni", "split")] == (stats.agreement_levels(tested["agreement"].to_numpy()) == "split").sum()


def test_levels_without_cells_are_left_out(per_cell: pd.DataFrame) -> None:
    only_clear = per_cell[per_cell["agreement"] == 1]
    table, _ = error_table(only_clear, n_resamples=50)
    assert set(table["level"]) == {"all agree"}
    empty, statement = error_table(per_cell.iloc[0:0])
    assert empty.empty and statement == ""


def test_rater_filters_are_the_stats_masks(per_cell: pd.DataFrame) -> None:
    one_seed = per_cell[per_cell["seed"] == 0]
    correct = one_seed.pivot_table(index="cell", columns="label", values="correct", aggfunc="first").astype(bool)
    agreement = one_seed.drop_duplicates("cell").set_index("cell")["agreement"].reindex(correct.index).to_numpy()
    split = rater_mask(one_seed, SPLIT)
    assert split.index.tolist() == correct.index.tolist()
    assert split.tolist() == stats.raters_split(agreement).tolist() and split.any()
    all_wrong = rater_mask(one_seed, AGREE_ALL_WRONG)
    assert all_wrong.tolist() == stats.all_agree_all_wrong(correct.to_numpy().T, agreement).tolist()
    assert rater_mask(one_seed, RATER_FILTERS[0]).all()
    for cell in all_wrong.index[all_wrong]:
        rows = one_seed[one_seed["cell"] == cell]
        assert (rows["agreement"] == 1).all() and not rows["correct"].any()
    with pytest.raises(ValueError, match="choice must be"):
        rater_mask(one_seed, "unsure")


def test_a_method_that_did_not_test_a_cell_never_makes_it_all_wrong(voted: pd.DataFrame) -> None:
    fits = pd.DataFrame([{"fit_id": m, "method": m, "kind": "probe", "classifier": "logreg", "budget": "2/class",
                          "seed": 0, "protocol": "pooled", "train_domain": "all"} for m in ("a", "b")])
    clear = int(voted.index[(voted["agreement"] == 1) & (voted["label"] == "imposter")][0])
    preds = pd.DataFrame({"fit_id": ["a", "a", "b"], "cell": [clear, clear + 100, clear + 100], "prob": [0.9] * 3})
    per_cell = cell_predictions(preds[preds["cell"] < N_CELLS], fits, voted, POSITIVE)
    assert rater_mask(per_cell, AGREE_ALL_WRONG).loc[clear]  # only a tested it: every method shown was wrong
    both = cell_predictions(pd.DataFrame({"fit_id": ["a", "b"], "cell": [clear, 0], "prob": [0.9, 0.9]}), fits,
                            voted, POSITIVE)
    assert not rater_mask(both, AGREE_ALL_WRONG).loc[clear]  # b did not test it: counted as right


def test_votes_counts_and_card_text(voted: pd.DataFrame) -> None:
    assert has_votes(voted) and not has_votes(voted.assign(agreement=np.nan)) and not has_votes(voted.drop(
        columns="agreement"))
    counts = level_counts(voted)
    assert list(counts.index) == [*stats.AGREEMENT_LEVELS, stats.NO_VOTES] and counts.sum() == N_CELLS
    assert agreement_text(2 / 3, "mitotic figure;imposter;mitotic figure") == (
        "mitotic figure · imposter · mitotic figure (split, 2 of 3)")
    assert agreement_text(0.8, "a;a;a;b;a") == "a · a · a · b · a (majority, 4 of 5)"
    assert agreement_text(float("nan"), "") == "no per-rater votes"
    assert agreement_text(2 / 3, "") == "split (67% voted the label)"  # a share without the votes themselves
