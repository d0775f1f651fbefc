"""A brushed selection's pages: stratified over classes and domains, complete and disjoint; maps of any method."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from mitoviz.report import map_fits, page_of, selection_summary, stratified_order
from mitoviz.report.maps import n_pages

PAGE = 24


def _selection(counts: dict[tuple[str, str], int]) -> pd.DataFrame:
    """A selection in one scanner's order first (as a brushed box returns it), with these class × scanner counts."""
    rows = [{"truth": t, "scanner": s} for (t, s), n in counts.items() for _ in range(n)]
    frame = pd.DataFrame(rows).sort_values("scanner", kind="stable").reset_index(drop=True)
    return frame.assign(cell=np.arange(len(frame)) * 7, tumor_type=np.where(frame.index % 5 == 0, "dog", "human"))


UNEVEN = {("mitotic figure", "A"): 40, ("imposter", "A"): 60, ("mitotic figure", "B"): 2, ("imposter", "B"): 110,
          ("mitotic figure", "C"): 78, ("imposter", "C"): 22}


def test_first_page_is_not_the_first_rows_but_covers_every_class_and_domain() -> None:
    selected = _selection(UNEVEN)
    assert set(selected.head(PAGE)["scanner"]) == {"A"}  # what "the first 24" showed
    ordered = stratified_order(selected, ["truth", "scanner"])
    first = page_of(ordered, 1, PAGE, "truth")
    assert set(first["scanner"]) == {"A", "B", "C"} and set(first["truth"]) == {"mitotic figure", "imposter"}
    assert set(zip(first["truth"], first["scanner"], strict=True)) == set(UNEVEN)  # even the 2-cell stratum
    # beyond one cell per stratum the page follows the strata's sizes
    counts = first.groupby(["truth", "scanner"]).size()
    assert counts[("imposter", "B")] >= counts[("mitotic figure", "B")] + 2
    assert first["truth"].tolist() == sorted(first["truth"])  # grouped by class for display,
    imposters = first.loc[first["truth"] == "imposter", "scanner"].tolist()
    assert set(imposters[:3]) == {"A", "B", "C"}  # within a class the scanners alternate, never in blocks


@pytest.mark.parametrize("size", [1, 5, 24, 50])
def test_pages_are_complete_and_disjoint(size: int) -> None:
    selected = _selection(UNEVEN)
    ordered = stratified_order(selected, ["truth", "scanner"], seed=3)
    pages = [page_of(ordered, p, size, "truth") for p in range(1, n_pages(len(ordered), size) + 1)]
    cells = [c for page in pages for c in page["cell"]]
    assert len(cells) == len(set(cells)) == len(selected) and set(cells) == set(selected["cell"])
    assert all(len(p) == size for p in pages[:-1]) and 0 < len(pages[-1]) <= size
    assert page_of(ordered, len(pages) + 1, size).empty


def test_small_pages_cover_as_many_strata_as_they_can() -> None:
    selected = _selection(UNEVEN)
    ordered = stratified_order(selected, ["truth", "scanner"])
    for size in range(1, 7):
        first = page_of(ordered, 1, size)
        assert len(set(zip(first["truth"], first["scanner"], strict=True))) == size  # no stratum twice


def test_order_is_fixed_and_proportional_overall() -> None:
    selected = _selection(UNEVEN)
    a = stratified_order(selected, ["truth", "scanner"])
    assert a["cell"].tolist() == stratified_order(selected, ["truth", "scanner"])["cell"].tolist()
    assert a["cell"].tolist() != stratified_order(selected, ["truth", "scanner"], seed=1)["cell"].tolist()
    half = a.head(len(a) // 2).groupby(["truth", "scanner"]).size()
    for key, n in UNEVEN.items():
        assert abs(half.get(key, 0) - n / 2) <= 2, key
    assert stratified_order(selected.iloc[0:0], ["truth"]).empty
    assert len(stratified_order(selected, [])) == len(selected)


def test_counts_say_what_was_selected_and_shown() -> None:
    selected = _selection({("mitotic figure", "A"): 100, ("imposter", "A"): 20, ("imposter", "B"): 112,
                           ("imposter", "C"): 80})
    text = selection_summary(selected, ["scanner"], 2, PAGE, ["truth", "scanner"])
    assert text == ("312 cells selected: imposter 212 · mitotic figure 100; scanner: A 120 · B 112 · C 80; "
                    "showing 25–48 of 312 (page 2 of 13), stratified over label × scanner")
    last = selection_summary(selected, ["scanner", "tumor_type"], 13, PAGE, ["truth"])
    assert "showing 289–312 of 312 (page 13 of 13), stratified over label" in last and "tumour type: dog" in last


def test_map_fits_takes_one_fit_per_method_of_any_kind() -> None:
    methods = [("uni", "probe", "logreg"), ("uni", "probe", "knn"), ("uni+lora", "lora", "head"),
               ("e2e-resnet18", "e2e", "end-to-end"), ("virchow2", "probe", "logreg")]
    rows = [{"fit_id": f"{m}|{c}|{b}|{s}|{p}", "method": m, "kind": k, "classifier": c, "budget": b, "seed": s,
             "protocol": p} for (m, k, c), b, s, p in itertools.product(methods, ["2/class", "8/class"], [0, 1],
                                                                         ["pooled", "cross:scanner"])]
    fits = pd.DataFrame(rows)
    chosen = map_fits(fits, ["uni", "uni+lora", "e2e-resnet18"], "8/class", 1, "knn")
    assert sorted(chosen["method"]) == ["e2e-resnet18", "uni", "uni+lora"]
    assert (chosen["protocol"] == "pooled").all() and (chosen["budget"] == "8/class").all()
    assert chosen.set_index("method").loc["uni", "classifier"] == "knn"
    assert chosen.set_index("method").loc["uni+lora", "classifier"] == "head"
    assert map_fits(fits, ["missing"], "8/class", 1).empty


def test_frozen_maps_come_first() -> None:
    from mitoviz.report.maps import map_order

    kinds = {"uni": "probe", "uni@12": "probe", "e2e-resnet18": "e2e", "uni+lora": "lora"}
    assert map_order(["e2e-resnet18", "uni+lora", "uni@12", "uni", "other"], kinds) == [
        "other", "uni", "uni@12", "e2e-resnet18", "uni+lora"]


def test_a_trained_methods_map_is_coloured_by_its_own_verdicts() -> None:
    from mitoviz.report import map_correctness

    points = pd.DataFrame({"cell": [0, 1, 2] * 2, "encoder": ["uni"] * 3 + ["uni+lora"] * 3, "u": 0.0, "v": 0.0})
    per_cell = pd.DataFrame({"cell": [0, 1, 0, 2], "method": ["uni", "uni", "uni+lora", "uni+lora"],
                             "correct": [True, False, False, True]})
    verdict = map_correctness(points, per_cell).set_index(["encoder", "cell"])["correctness"]
    assert verdict[("uni", 1)] == "wrong" and verdict[("uni", 2)] == "not in the test set"
    assert verdict[("uni+lora", 0)] == "wrong" and verdict[("uni+lora", 2)] == "correct"
    assert verdict[("uni+lora", 1)] == "not in the test set"
