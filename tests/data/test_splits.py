import itertools

import numpy as np
import pandas as pd
import pytest

from mitoviz.data.splits import Budget, draw_budgets, split_cells
from mitoviz.errors import BudgetError, SpecError


def _cells(n_slides: int = 10, per_slide: int = 20, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_slides):
        for c in range(per_slide):
            rows.append(
                {
                    "cell_id": f"s{s}c{c}",
                    "slide": f"slide{s}",
                    "label": "mitotic figure" if rng.random() < 0.4 else "imposter",
                    "split": "",
                }
            )
    return pd.DataFrame(rows)


def test_slide_split_never_puts_a_slide_on_both_sides():
    cells = _cells()
    for seed in range(5):
        split = split_cells(cells, "slide", 0.2, seed)
        sides = pd.Series(split).groupby(cells["slide"]).nunique()
        assert (sides == 1).all()
        assert 0.1 < (split == "test").mean() < 0.4


def test_splits_are_reproducible_per_seed_and_differ_between_seeds():
    cells = _cells()
    assert (split_cells(cells, "slide", 0.2, 3) == split_cells(cells, "slide", 0.2, 3)).all()
    assert (split_cells(cells, "cell", 0.2, 3) == split_cells(cells, "cell", 0.2, 3)).all()
    assert any(
        (split_cells(cells, "slide", 0.2, 0) != split_cells(cells, "slide", 0.2, s)).any()
        for s in range(1, 6)
    )


def test_cell_split_is_stratified():
    cells = _cells()
    split = split_cells(cells, "cell", 0.25, 0)
    for label in ("mitotic figure", "imposter"):
        mask = cells["label"] == label
        assert abs((split[mask] == "test").mean() - 0.25) < 0.02


def test_predefined_split_is_used_and_incomplete_one_refused():
    cells = _cells(4, 10)
    cells["split"] = np.where(cells["slide"] == "slide0", "test", "train")
    assert list(split_cells(cells, "predefined")) == list(cells["split"])
    cells.loc[3, "split"] = ""
    with pytest.raises(SpecError, match="no predefined split"):
        split_cells(cells, "predefined")


def test_split_that_leaves_a_class_empty_is_an_error():
    cells = _cells(4, 10)
    cells["label"] = np.where(cells["slide"] == "slide0", "mitotic figure", "imposter")
    cells["split"] = np.where(cells["slide"] == "slide1", "test", "train")
    with pytest.raises(SpecError, match="no mitotic figure cells in the test set"):
        split_cells(cells, "predefined")


def test_one_slide_cannot_be_split_by_slide():
    with pytest.raises(SpecError, match="at least two slides"):
        split_cells(_cells(1, 30), "slide")


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("10", "per_class", 10),
        (25, "per_class", 25),
        ("1%", "fraction", 0.01),
        (0.1, "fraction", 0.1),
        ("0.1%", "fraction", 0.001),
        ("100/class", "per_class", 100),
    ],
)
def test_budget_parse(text, kind, value):
    budget = Budget.parse(text)
    assert (budget.kind, budget.value) == (kind, pytest.approx(value))
    assert Budget.parse(budget.label) == budget


@pytest.mark.parametrize("bad", ["ten", "-1", "0", "150%", "2.5"])
def test_bad_budgets_are_refused(bad):
    with pytest.raises(BudgetError):
        Budget.parse(bad)


def test_budgets_are_stratified_nested_and_reproducible():
    labels = np.array(["m"] * 40 + ["i"] * 160)
    budgets = [Budget("per_class", n) for n in (1, 5, 20)] + [Budget("fraction", f) for f in (0.1, 0.5, 1.0)]
    draws = draw_budgets(labels, budgets, seed=7)
    assert [d.per_class for d in draws[:3]] == [{"i": 1, "m": 1}, {"i": 5, "m": 5}, {"i": 20, "m": 20}]
    assert draws[3].per_class == {"i": 16, "m": 4}
    assert len(draws[5].indices) == 200
    for small, big in itertools.pairwise(draws[:3]):  # per-class budgets nest
        assert set(small.indices) <= set(big.indices)
    for small, big in itertools.pairwise(draws[3:]):  # and so do fractions
        assert set(small.indices) <= set(big.indices)
    again = draw_budgets(labels, budgets, seed=7)
    assert all((a.indices == b.indices).all() for a, b in zip(draws, again, strict=True))
    other = draw_budgets(labels, budgets, seed=8)
    assert not (draws[1].indices == other[1].indices).all()


def test_budget_larger_than_a_class_is_an_error_or_a_visible_cap():
    labels = np.array(["m"] * 3 + ["i"] * 50)
    with pytest.raises(BudgetError, match="asks for 10 'm' cells but the training pool has 3"):
        draw_budgets(labels, [Budget("per_class", 10)], seed=0)
    (draw,) = draw_budgets(labels, [Budget("per_class", 10)], seed=0, on_overflow="cap")
    assert draw.capped and draw.per_class == {"i": 10, "m": 3}


def test_one_class_pool_is_an_error():
    with pytest.raises(BudgetError, match="one class only"):
        draw_budgets(np.array(["m"] * 10), [Budget("per_class", 1)], seed=0)
