"""Domain axes come from the data: any column the results split by, none assumed, none hard-coded."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

import mitoviz.report
from mitoviz.report import axis_name, facet_axes, ordered_axes, present_axes, protocol_axes, result_axes
from mitoviz.report.names import AXIS_ORDER


def test_axes_present_in_results(fits: pd.DataFrame, metrics: pd.DataFrame) -> None:
    table = mitoviz.report.joined(fits, metrics)
    assert facet_axes(table) == ["all", "species", "lab"]
    assert result_axes(table) == ["species", "lab"]
    assert facet_axes(table, "pooled") == ["all", "species", "lab"]
    assert facet_axes(table, "lodo:lab") == [] and facet_axes(table.iloc[0:0]) == []


def test_protocol_axes_and_order() -> None:
    assert protocol_axes(["pooled", "lodo:lab", "cross:species", "cross:scanner", "lodo:species"]) == [
        "scanner",
        "species",
        "lab",
    ]
    assert ordered_axes(["zeta", "dataset", "alpha", "tumor_type"]) == [
        "tumor_type",
        "dataset",
        "alpha",
        "zeta",
    ]
    assert axis_name("tumor_type") == "tumour type" and axis_name("staining_lab") == "staining lab"


def test_present_axes_keeps_columns_of_the_frame(cells: pd.DataFrame) -> None:
    assert present_axes(cells, ["scanner", "species", "lab"]) == ["species", "lab"]


def test_report_code_names_no_particular_axis() -> None:
    """Only names.py (display names and the usual order) may spell out an axis."""
    folder = Path(mitoviz.report.__file__).parent
    for path in folder.glob("*.py"):
        if path.name == "names.py":
            continue
        strings = {n.value for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Constant)}
        assert not strings & set(AXIS_ORDER), (path.name, strings & set(AXIS_ORDER))
