"""Download buttons for a chart (PNG, SVG) and the table behind it (CSV)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st


def chart_png(chart: alt.TopLevelMixin) -> bytes:
    import vl_convert

    return vl_convert.vegalite_to_png(chart.to_json(), scale=2)


def chart_svg(chart: alt.TopLevelMixin) -> str:
    import vl_convert

    return vl_convert.vegalite_to_svg(chart.to_json())


def chart_downloads(chart: alt.TopLevelMixin, table: pd.DataFrame, stem: str) -> None:
    """CSV of the data, PNG and SVG of the chart; images are rendered only when clicked."""
    a, b, c, _ = st.columns([1, 1, 1, 2])
    a.download_button("Data (CSV)", table.to_csv(index=False).encode(), f"{stem}.csv", "text/csv",
                      icon=":material/download:", on_click="ignore")
    b.download_button("Chart (PNG)", lambda: chart_png(chart), f"{stem}.png", "image/png",
                      icon=":material/image:", on_click="ignore")
    c.download_button("Chart (SVG)", lambda: chart_svg(chart).encode(), f"{stem}.svg", "image/svg+xml",
                      icon=":material/draw:", on_click="ignore")
