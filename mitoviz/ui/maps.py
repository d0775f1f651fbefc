"""The embedding map chart: one point per cell, coloured from the shared palette, brushable."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from mitoviz.report.agreement import AGREEMENT_LEVELS, NO_VOTES
from mitoviz.report.maps import VERDICTS
from mitoviz.report.names import axis_name
from mitoviz.ui.palette import GREY, VERDICT, categorical

alt.data_transformers.disable_max_rows()  # maps send up to 50k points; Streamlit ships them as Arrow

#: Fixed orders, so a value keeps its colour whatever the selection holds.
ORDERS = {"correctness": list(VERDICTS), "agreement_level": [*AGREEMENT_LEVELS, NO_VOTES]}
#: Agreement levels from sure to unsure (the palette's blue, orange, vermillion) and grey for no votes.
AGREEMENT_COLOURS = ("#0072B2", "#E69F00", "#D55E00", GREY)


def colour_scale(values: Sequence[str], colour: str) -> alt.Scale:
    """The palette for a column: fixed verdict and agreement colours, else Okabe-Ito with grey for neutral values."""
    if colour == "correctness":
        return alt.Scale(domain=list(VERDICT), range=list(VERDICT.values()))
    if colour == "agreement_level":
        return alt.Scale(domain=ORDERS[colour], range=list(AGREEMENT_COLOURS))
    domain, colours = categorical(sorted(str(v) for v in values))
    return alt.Scale(domain=domain, range=colours)


def _point_size(n: int) -> int:
    """Points big enough to tell colours apart on a small map, small enough not to cover each other on a large."""
    return 60 if n <= 500 else 30 if n <= 5000 else 14


def embedding_map(data: pd.DataFrame, colour: str, title: str, legend_title: str | None = None,
                  axes: Sequence[str] = ()) -> alt.Chart:
    """A 2-D map of embeddings; drag a rectangle to select cells. ``axes``: domain columns for the tooltip.

    The legend sits below the plot in as many columns as fit, so no label is cut at any width.
    """
    numeric = pd.api.types.is_numeric_dtype(data[colour]) and data[colour].nunique() > 8
    values = data[colour].dropna().unique().tolist()
    if numeric:
        colour_enc = alt.Color(f"{colour}:Q", title=legend_title, scale=alt.Scale(scheme="viridis"))
    else:
        colour_enc = alt.Color(
            f"{colour}:N", title=legend_title or colour, scale=colour_scale(values, colour),
            legend=alt.Legend(orient="bottom", direction="horizontal", columns=min(4, max(1, len(values))),
                              labelLimit=0, titleLimit=0, symbolOpacity=1, symbolSize=90),
        )
    tooltip = [alt.Tooltip("cell_id:N", title="cell"), alt.Tooltip("truth:N", title="label"),
               *[alt.Tooltip(f"{a}:N", title=axis_name(a)) for a in axes if a != colour and a in data.columns]]
    if colour not in ("truth", *axes):
        tooltip.append(alt.Tooltip(f"{colour}:N", title=legend_title or colour))
    return (
        alt.Chart(data, title=alt.TitleParams(title, anchor="start", fontSize=14))
        .mark_circle(size=_point_size(len(data)), opacity=0.8)
        .encode(
            x=alt.X("u:Q", title=None, axis=alt.Axis(labels=False, ticks=False, grid=False, domain=False)),
            y=alt.Y("v:Q", title=None, axis=alt.Axis(labels=False, ticks=False, grid=False, domain=False)),
            color=colour_enc,
            tooltip=tooltip,
        )
        .properties(height=420)
        .add_params(alt.selection_interval(name="brush", encodings=["x", "y"]))
    )
