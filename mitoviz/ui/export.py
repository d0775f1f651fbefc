"""Download buttons for a chart (PNG, SVG) and the table behind it (CSV).

An exported image stands alone on a slide: it carries a title, the run's name and id, the metric, the
method behind its intervals and, for the demo, the synthetic mark (:func:`export_title`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import altair as alt
import pandas as pd
import streamlit as st

SYNTHETIC_MARK = "SYNTHETIC DEMO DATA: simulated cells and no-weight encoders, not real encoder performance"


def export_title(
    title: str,
    run_name: str,
    run_id: str,
    metric: str = "",
    synthetic: bool = False,
    notes: Sequence[str] = (),
) -> alt.TitleParams:
    """The title block of an exported chart: title; run name and id; metric; notes (wrapped); the synthetic
    mark."""
    lines = [f"run: {run_name} ({run_id})" if run_name and run_name != run_id else f"run: {run_id}"]
    if metric:
        lines.append(f"metric: {metric}")
    for note in notes:
        lines += textwrap.wrap(note, 110)
    if synthetic:
        lines.append(SYNTHETIC_MARK)
    return alt.TitleParams(
        text=title,
        subtitle=lines,
        anchor="start",
        fontSize=16,
        subtitleFontSize=11,
        subtitleColor="#333",
        offset=12,
    )


def titled(chart: alt.TopLevelMixin, title: alt.TitleParams | None) -> alt.TopLevelMixin:
    """The chart as exported: with ``title`` on top and a white background."""
    if title is None:
        return chart
    return chart.properties(title=title, background="white", padding=16)


def chart_png(chart: alt.TopLevelMixin, title: alt.TitleParams | None = None) -> bytes:
    import vl_convert

    return vl_convert.vegalite_to_png(titled(chart, title).to_json(), scale=2)


def chart_svg(chart: alt.TopLevelMixin, title: alt.TitleParams | None = None) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(titled(chart, title).to_json())


def csv_download(table: pd.DataFrame, stem: str, label: str = "Data (CSV)", key: str | None = None) -> None:
    st.download_button(
        label,
        table.to_csv(index=False).encode(),
        f"{stem}.csv",
        "text/csv",
        icon=":material/download:",
        on_click="ignore",
        key=key,
    )


def chart_downloads(
    chart: alt.TopLevelMixin,
    table: pd.DataFrame,
    stem: str,
    title: alt.TitleParams | None = None,
    key: str | None = None,
) -> None:
    """CSV of the data, PNG and SVG of the chart (with ``title``); images are rendered only when clicked."""
    a, b, c, _ = st.columns([1, 1, 1, 2])
    with a:
        csv_download(table, stem, key=f"{key}-csv" if key else None)
    b.download_button(
        "Chart (PNG)",
        lambda: chart_png(chart, title),
        f"{stem}.png",
        "image/png",
        icon=":material/image:",
        on_click="ignore",
        key=f"{key}-png" if key else None,
    )
    c.download_button(
        "Chart (SVG)",
        lambda: chart_svg(chart, title).encode(),
        f"{stem}.svg",
        "image/svg+xml",
        icon=":material/draw:",
        on_click="ignore",
        key=f"{key}-svg" if key else None,
    )
