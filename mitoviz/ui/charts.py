"""Altair chart builders for the result pages (pure: a DataFrame in, a chart out)."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from mitoviz.report import FROZEN, METRICS, TRAINED, axis_name

alt.data_transformers.disable_max_rows()  # maps send up to 50k points; Streamlit ships them as Arrow

CHANCE = {"balanced_accuracy": 0.5, "auroc": 0.5, "accuracy": None, "f1": None, "kappa": 0.0, "ece": None}


def _metric_axis(metric: str) -> alt.Y:
    domain = [0, 1] if metric != "kappa" else [-0.2, 1]
    return alt.Y("mean:Q", title=METRICS.get(metric, metric), scale=alt.Scale(domain=domain, clamp=True))


def curve_chart(data: pd.DataFrame, metric: str, columns: int = 3) -> alt.Chart:
    """Metric against labelled cells (log axis), one line per method, a ±sd band, faceted by test domain.

    Trained methods (any kind but a probe: ``training`` is ``trained``) are dashed.
    """
    pick = alt.selection_point(fields=["label"], bind="legend")
    n_facets = max(1, data["test_domain"].nunique()) if not data.empty else 1
    width = {1: 640, 2: 420}.get(n_facets, 300)
    ticks = sorted(data["n_train"].dropna().unique().tolist()) if not data.empty else []
    ticks = ticks if 0 < len(ticks) <= 12 else None  # label the budgets themselves when few enough
    base = alt.Chart().encode(
        x=alt.X(
            "n_train:Q",
            title="labelled training cells (log scale)",
            scale=alt.Scale(type="log", nice=False, padding=8),
            axis=alt.Axis(format="~s", values=ticks),
        ),
        color=alt.Color(
            "label:N",
            title="method",
            scale=alt.Scale(scheme="tableau10"),
            legend=alt.Legend(
                orient="right", labelLimit=320, symbolOpacity=1, symbolType="stroke", symbolStrokeWidth=4
            ),
        ),
    )
    band = base.mark_area(interpolate="monotone").encode(
        y=alt.Y("lower:Q"), y2="upper:Q", opacity=alt.condition(pick, alt.value(0.16), alt.value(0.03))
    )
    tooltip = [
        alt.Tooltip("label:N", title="method"),
        alt.Tooltip("budget:N"),
        alt.Tooltip("n_train:Q", title="labelled cells", format=".0f"),
        alt.Tooltip("mean:Q", format=".3f"),
        alt.Tooltip("sd:Q", format=".3f"),
        alt.Tooltip("ci_low:Q", title="95% CI low", format=".3f"),
        alt.Tooltip("ci_high:Q", title="95% CI high", format=".3f"),
        alt.Tooltip("n_seeds:Q", title="seeds"),
        alt.Tooltip("n_test:Q", title="test cells", format=".0f"),
        alt.Tooltip("degenerate:Q", title="share of one-class fits", format=".0%"),
    ]
    line = base.mark_line(point=alt.OverlayMarkDef(size=45, filled=True), strokeWidth=2.5).encode(
        y=_metric_axis(metric),
        strokeDash=alt.StrokeDash(
            "training:N",
            title="training",
            legend=None,
            scale=alt.Scale(domain=[FROZEN, TRAINED], range=[[1, 0], [6, 3]]),
        ),
        opacity=alt.condition(pick, alt.value(1.0), alt.value(0.12)),
        tooltip=tooltip,
    )
    layers = [band, line]
    if CHANCE.get(metric) is not None:
        layers.append(
            alt.Chart().mark_rule(strokeDash=[2, 2], color="#888").encode(y=alt.datum(CHANCE[metric]))
        )
    chart = alt.layer(*layers, data=data).properties(width=width, height=300 if n_facets == 1 else 240)
    return chart.facet(
        facet=alt.Facet("test_domain:N", title="test domain"), columns=min(columns, n_facets)
    ).add_params(pick)


def heatmap(data: pd.DataFrame, metric: str, columns: int = 3) -> alt.Chart:
    """Train domain × test domain per method (``label``); the diagonal (in-domain) is outlined."""
    n = max(1, data["test_domain"].nunique()) if not data.empty else 1
    base = alt.Chart().encode(
        x=alt.X(
            "test_domain:N",
            title="tested on",
            axis=alt.Axis(labelAngle=-45, labelLimit=160, labelOverlap=False),
        ),
        y=alt.Y("train_domain:N", title="trained on", axis=alt.Axis(labelLimit=160)),
    )
    cells = base.mark_rect(stroke="#fff", strokeWidth=1).encode(
        color=alt.Color(
            "mean:Q", title=METRICS.get(metric, metric), scale=alt.Scale(scheme="viridis", domain=[0.4, 1])
        ),
        tooltip=[
            alt.Tooltip("label:N", title="method"),
            alt.Tooltip("train_domain:N", title="trained on"),
            alt.Tooltip("test_domain:N", title="tested on"),
            alt.Tooltip("mean:Q", format=".3f"),
            alt.Tooltip("sd:Q", format=".3f"),
            alt.Tooltip("n_seeds:Q", title="seeds"),
        ],
    )
    diagonal = base.transform_filter("datum.in_domain").mark_rect(
        fill=None, stroke="#d62728", strokeWidth=2.5
    )
    text = base.mark_text(fontSize=13, fontWeight="bold").encode(
        text=alt.Text("mean:Q", format=".2f"),
        color=alt.condition("datum.mean > 0.75", alt.value("#111"), alt.value("#fff")),
    )
    layered = alt.layer(cells, diagonal, text, data=data).properties(width=64 * n, height=44 * n)
    return layered.facet(
        facet=alt.Facet("label:N", title=None, header=alt.Header(labelFontSize=13, labelFontWeight="bold")),
        columns=columns,
    )


def drop_chart(data: pd.DataFrame, metric: str) -> alt.Chart:
    """In-domain vs out-of-domain score per method (a dumbbell), sorted by the drop."""
    long = data.melt(
        id_vars=["label", "drop"],
        value_vars=["in_domain", "out_of_domain"],
        var_name="where",
        value_name="score",
    )
    long["where"] = long["where"].str.replace("_", " ")
    order = data.sort_values("drop")["label"].tolist()
    y = alt.Y("label:N", title=None, sort=order, axis=alt.Axis(labelLimit=260, labelOverlap=False))
    rule = (
        alt.Chart(data)
        .mark_rule(color="#999", strokeWidth=2)
        .encode(
            y=y,
            x=alt.X("out_of_domain:Q", title=METRICS.get(metric, metric), scale=alt.Scale(zero=False)),
            x2="in_domain:Q",
        )
    )
    points = (
        alt.Chart(long)
        .mark_circle(size=110, opacity=1)
        .encode(
            y=y,
            x="score:Q",
            color=alt.Color(
                "where:N",
                title=None,
                scale=alt.Scale(domain=["in domain", "out of domain"], range=["#1b9e77", "#d95f02"]),
            ),
            tooltip=[
                alt.Tooltip("label:N", title="method"),
                alt.Tooltip("where:N"),
                alt.Tooltip("score:Q", format=".3f"),
                alt.Tooltip("drop:Q", format=".3f"),
            ],
        )
    )
    return (rule + points).properties(width=520, height=max(120, 34 * len(data)))


def embedding_map(
    data: pd.DataFrame, colour: str, title: str, selectable: bool = True, axes: Sequence[str] = ()
) -> alt.Chart:
    """A 2-D map of embeddings; drag a rectangle to select cells. ``axes``: domain columns for the tooltip."""
    numeric = pd.api.types.is_numeric_dtype(data[colour]) and data[colour].nunique() > 8
    colour_enc = (
        alt.Color(f"{colour}:Q", scale=alt.Scale(scheme="viridis"))
        if numeric
        else alt.Color(f"{colour}:N", legend=alt.Legend(orient="bottom", columns=2, labelLimit=220))
    )
    chart = (
        alt.Chart(data, title=title)
        .mark_circle(size=14, opacity=0.7)
        .encode(
            x=alt.X("u:Q", title=None, axis=alt.Axis(labels=False, ticks=False, grid=False)),
            y=alt.Y("v:Q", title=None, axis=alt.Axis(labels=False, ticks=False, grid=False)),
            color=colour_enc,
            tooltip=[
                alt.Tooltip("cell_id:N"),
                alt.Tooltip("truth:N", title="label"),
                *[alt.Tooltip(f"{a}:N", title=axis_name(a)) for a in axes if a != colour],
                alt.Tooltip(f"{colour}:N"),
            ],
        )
        .properties(height=420)
    )
    if selectable:
        chart = chart.add_params(alt.selection_interval(name="brush", encodings=["x", "y"]))
    return chart
