"""The failure page's chart of each method's error rate by rater agreement level, with its intervals."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd
import streamlit as st

from mitoviz.report.agreement import AGREEMENT_LEVELS, error_table, level_counts
from mitoviz.results import Run
from mitoviz.ui.data import content_stamp
from mitoviz.ui.palette import categorical


def agreement_chart(errors: pd.DataFrame, labels: Sequence[str] = ()) -> alt.Chart:
    """Error rate (points) and interval (bars) per agreement level, methods side by side in palette colours.

    ``errors``: :func:`mitoviz.report.error_table` rows; ``labels``: every method label of the run in the
    order the other charts colour them (a method keeps its colour from page to page). The axis starts at
    zero so a small error stays small; each level's label carries how many cells it holds.
    """
    data = errors.assign(where=[f"{level} ({n:,} cells)" for level, n in zip(errors["level"], errors["n_cells"],
                                                                          strict=True)])
    order = [w for level in AGREEMENT_LEVELS for w in data.loc[data["level"] == level, "where"].unique()]
    methods = sorted(data["label"].unique())
    domain, colours = categorical(list(dict.fromkeys([*labels, *methods])))
    top = float(min(1.0, max(0.1, data["high"].max(skipna=True) * 1.1))) if len(data) else 1.0
    base = alt.Chart(data).encode(
        x=alt.X("where:N", title="rater agreement", sort=order, axis=alt.Axis(labelAngle=0, labelLimit=0)),
        xOffset=alt.XOffset("label:N", sort=methods),
        color=alt.Color("label:N", title="method", scale=alt.Scale(domain=domain, range=colours),
                        legend=alt.Legend(orient="top", direction="horizontal", columns=min(4, len(methods)),
                                          labelLimit=0, titleLimit=0, symbolOpacity=1)),
        tooltip=[alt.Tooltip("label:N", title="method"), alt.Tooltip("level:N", title="rater agreement"),
                 alt.Tooltip("error:Q", title="error rate", format=".1%"),
                 alt.Tooltip("low:Q", title="interval low", format=".1%"),
                 alt.Tooltip("high:Q", title="interval high", format=".1%"),
                 alt.Tooltip("n_cells:Q", title="cells"), alt.Tooltip("n_seeds:Q", title="seeds")],
    )
    bars = base.mark_rule(strokeWidth=2.5).encode(
        y=alt.Y("low:Q", title="error rate", scale=alt.Scale(domain=[0, top], nice=False),
                axis=alt.Axis(format="%", tickCount=5)),
        y2="high:Q",
    )
    points = base.mark_point(filled=True, size=90, opacity=1).encode(y="error:Q")
    return (bars + points).properties(height=380)  # with its axis and legend: Streamlit fits the whole


@st.cache_data(show_spinner="Bootstrapping error rates by rater agreement…", max_entries=16)
def _errors(run_id: str, stamp: tuple[object, ...], fit_ids: tuple[str, ...], _per_cell: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    return error_table(_per_cell)  # keyed by the run, its change stamp and the fits (the frame is not hashed)


def agreement_section(run: Run, per_cell: pd.DataFrame, fit_ids: list[str], budget: str,
                      labels: Sequence[str] = ()) -> None:
    """The chart of error rate by agreement level with its statement, the cells per level, and the numbers."""
    errors, statement = _errors(run.run_id, content_stamp(run), tuple(sorted(fit_ids)), per_cell)
    st.markdown(f"**Error rate by rater agreement** at {budget}, every seed: is a method wrong where the raters "
                "are unsure?")
    if errors.empty:
        st.info("No test cell with rater votes was predicted at this choice.")
        return
    st.altair_chart(agreement_chart(errors, labels), width="stretch")
    st.caption(statement)
    counts = level_counts(per_cell)
    st.caption("Test cells per level: " + " · ".join(f"{level} {n:,}" for level, n in counts.items())
               + ". A level without cells is not drawn.")
    with st.expander("The numbers"):
        st.dataframe(
            errors.rename(columns={"label": "method", "level": "rater agreement", "error": "error rate",
                                   "low": "interval low", "high": "interval high", "n_cells": "cells",
                                   "n_seeds": "seeds"}),
            hide_index=True, width="stretch",
            column_config={c: st.column_config.NumberColumn(c, format="percent")
                           for c in ("error rate", "interval low", "interval high")},
        )
