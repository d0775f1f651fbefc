"""Altair chart builders for the result pages (pure: a DataFrame in, a chart out).

Charts fit for slides: legends above the plot (never clipped, also beside facets), axes that start at zero
or at the metric's range, rounded ticks, the colour-blind-safe palette of :mod:`mitoviz.ui.palette` with one
colour per method on every chart (:func:`method_colours`), and trained methods dashed.
"""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from mitoviz.report import FROZEN, METRICS, TRAINED
from mitoviz.ui.palette import CATEGORICAL, GREY, categorical

alt.data_transformers.disable_max_rows()  # maps send up to 50k points; Streamlit ships them as Arrow

CHANCE = {"balanced_accuracy": 0.5, "auroc": 0.5, "accuracy": None, "f1": None, "kappa": 0.0, "ece": None}
IN_DOMAIN, OUT_OF_DOMAIN = CATEGORICAL[0], CATEGORICAL[5]  # blue and vermillion
REAL, CHANCE_COLOUR = CATEGORICAL[0], GREY
DODGE = 0.012  # log10 units between methods at one budget, so their interval bars do not hide each other


#: Charts keep their own size: Streamlit otherwise fits a plain or concatenated chart, axis labels and
#: legends included, into its width and height, squashing the plot between long labels.
NATURAL = alt.AutoSizeParams(type="pad", contains="padding")


def _in_text(metric: str) -> str:
    """A metric's name inside a sentence: ``Balanced accuracy`` → ``balanced accuracy`` (``AUROC`` stays)."""
    name = METRICS.get(metric, metric)
    return name[0].lower() + name[1:] if name[1:2].islower() else name


def method_colours(labels: Sequence[str]) -> alt.Scale:
    """One palette colour per method, the same on every chart: pass every label of the run, in one order."""
    domain, colours = categorical(list(dict.fromkeys(labels)))
    return alt.Scale(domain=domain, range=colours)


def _legend(n: int, title: str | None = "method") -> alt.Legend:
    return alt.Legend(
        title=title,
        orient="top",
        direction="horizontal",
        columns=min(max(n, 1), 4),
        labelLimit=360,
        symbolOpacity=1,
        symbolType="stroke",
        symbolStrokeWidth=4,
        titleOrient="left",
    )


def _metric_domain(metric: str, data: pd.DataFrame, floor_at_chance: bool = False) -> list[float]:
    """The metric's whole range, never zoomed onto the data: [0, 1] (κ from its lowest tenth below 0; ECE up
    to its highest tenth). ``floor_at_chance``: balanced accuracy and AUROC start at chance (0.5, dotted),
    or lower when a value or interval goes below it."""
    values = data.reindex(columns=["mean", "low", "high"]).to_numpy(dtype=float)
    if metric == "ece":
        return [0.0, max(0.1, float(np.ceil(np.nanmax(values, initial=0.1) * 10) / 10))]
    low = float(np.floor(np.nanmin(values, initial=1.0) * 10) / 10)
    if metric == "kappa":
        return [min(0.0, low), 1.0]
    chance = CHANCE.get(metric)
    return [min(chance, low), 1.0] if floor_at_chance and chance is not None else [0.0, 1.0]


def _log_ticks(values: pd.Series) -> list[int] | None:
    """Rounded label counts to tick at (the budgets themselves when few enough), else Vega's own."""
    ticks = sorted({round(float(v)) for v in values.dropna() if v > 0})
    return ticks if 0 < len(ticks) <= 12 else None


def dodged(data: pd.DataFrame, labels: Sequence[str]) -> pd.Series:
    """Each point's x: its labelled cells, shifted a little per method on the log axis."""
    order = {label: i for i, label in enumerate(labels)}
    offset = data["label"].map(order).fillna(0).to_numpy(dtype=float) - (len(labels) - 1) / 2
    return data["n_train"] * 10 ** (DODGE * offset)


def curve_chart(data: pd.DataFrame, metric: str, labels: Sequence[str], columns: int = 3) -> alt.FacetChart:
    """Metric against labelled cells (log axis): one line per method, each point's bootstrap interval as a
    bar, a cross on points that include one-class fits, faceted by test domain. Trained methods are dashed.

    ``data``: a curves table with ``low``/``high`` (NaN: no interval); ``labels``: every method of the run, in
    colour order.
    """
    labels = list(dict.fromkeys([*labels, *sorted(set(data["label"]) - set(labels))]))
    pick = alt.selection_point(fields=["label"], bind="legend")
    n_facets = max(1, data["test_domain"].nunique()) if not data.empty else 1
    width = {1: 720, 2: 440}.get(n_facets, 280)  # three facets in a row fit the page
    data = data.assign(
        x=dodged(data, labels), flag=np.where(data["degenerate"] > 0, "includes one-class fits", "")
    )
    x = alt.X(
        "x:Q",
        title="labelled training cells (log scale)",
        scale=alt.Scale(type="log", nice=False, padding=10),
        axis=alt.Axis(format=",.0f", values=_log_ticks(data["n_train"]), labelOverlap="greedy"),
    )
    colour = alt.Color("label:N", scale=method_colours(labels), legend=_legend(len(labels)))
    base = alt.Chart().encode(x=x, color=colour)
    # Every layer carries the scale: a layer without one would pull zero into the shared domain.
    domain = _metric_domain(metric, data, floor_at_chance=True)
    y_scale = alt.Scale(domain=domain, nice=False, zero=False)
    ticks = np.round(
        np.arange(domain[0], domain[1] + 1e-9, 0.1 if domain[1] - domain[0] <= 1 else 0.2), 2
    ).tolist()
    y = alt.Y(
        "mean:Q", title=METRICS.get(metric, metric), scale=y_scale, axis=alt.Axis(format=".1f", values=ticks)
    )
    shown = alt.condition(pick, alt.value(1.0), alt.value(0.12))
    bars = (
        base.transform_filter("isValid(datum.low) && isFinite(datum.low)")
        .mark_rule(strokeWidth=1.6)
        .encode(
            y=alt.Y("low:Q", title=METRICS.get(metric, metric), scale=y_scale),
            y2="high:Q",
            opacity=alt.condition(pick, alt.value(0.75), alt.value(0.08)),
        )
    )
    line = base.mark_line(strokeWidth=2.4).encode(
        y=y,
        opacity=shown,
        strokeDash=alt.StrokeDash(
            "training:N",
            scale=alt.Scale(domain=[FROZEN, TRAINED], range=[[1, 0], [6, 3]]),
            legend=alt.Legend(
                title=None,
                orient="bottom",  # beside the method legend, the pair overflowed the chart's width
                symbolType="stroke",
                labelLimit=400,
                symbolStrokeWidth=2.4,
                labelExpr=(
                    "datum.label == 'frozen' ? 'frozen encoder' : 'trained (end-to-end, LoRA, fine-tuned)'"
                ),
            ),
        ),
    )
    tooltip = [
        alt.Tooltip("label:N", title="method"),
        alt.Tooltip("budget:N"),
        alt.Tooltip("n_train:Q", title="labelled cells", format=",.0f"),
        alt.Tooltip("mean:Q", title="mean over seeds", format=".3f"),
        alt.Tooltip("low:Q", title="95 % interval low", format=".3f"),
        alt.Tooltip("high:Q", title="95 % interval high", format=".3f"),
        alt.Tooltip("n_seeds:Q", title="seeds"),
        alt.Tooltip("n_test:Q", title="test cells", format=",.0f"),
        alt.Tooltip("degenerate:Q", title="share of one-class fits", format=".0%"),
    ]
    points = base.mark_point(size=60, filled=True, strokeWidth=2).encode(
        y=y,
        opacity=shown,
        tooltip=tooltip,
        shape=alt.Shape(
            "flag:N",
            scale=alt.Scale(domain=["", "includes one-class fits"], range=["circle", "cross"]),
            legend=None,
        ),
    )
    layers = [bars, line, points]
    if CHANCE.get(metric) is not None:
        layers.append(
            alt.Chart().mark_rule(strokeDash=[2, 2], color="#888").encode(y=alt.datum(CHANCE[metric]))
        )
    chart = alt.layer(*layers, data=data).properties(width=width, height=320 if n_facets == 1 else 240)
    only_all = set(data["test_domain"]) <= {
        "all"
    }  # one facet of all test cells: no header (labels=False is ignored)
    header = (
        alt.Header(title=None, labelExpr="''", labelFontSize=0, labelPadding=0)
        if only_all
        else alt.Header(title=None, labelFontSize=13, labelFontWeight="bold")
    )
    return chart.facet(
        facet=alt.Facet("test_domain:N", header=header), columns=min(columns, n_facets)
    ).add_params(pick)


def paired_chart(
    table: pd.DataFrame, seeds: pd.DataFrame, metric: str, order: Sequence[str]
) -> alt.LayerChart:
    """A − B per budget: the interval as a bar (blue where it excludes 0), the mean, each seed's value."""
    x = alt.X("budget:N", title="label budget", sort=list(order), axis=alt.Axis(labelAngle=0))
    verdict = alt.Color(
        "verdict_kind:N",
        title=None,
        legend=alt.Legend(orient="top"),
        scale=alt.Scale(
            domain=["real (interval excludes 0)", "could be chance"], range=[REAL, CHANCE_COLOUR]
        ),
    )
    data = table.assign(verdict_kind=np.where(table["real"], "real (interval excludes 0)", "could be chance"))
    name = _in_text(metric)
    tooltip = [
        alt.Tooltip("verdict:N"),
        alt.Tooltip("p_value:Q", title="bootstrap p", format=".3f"),
        alt.Tooltip("per_seed:N", title="per seed"),
    ]
    bars = (
        alt.Chart(data)
        .mark_rule(strokeWidth=6, opacity=0.55)
        .encode(
            x=x,
            y=alt.Y("low:Q", title=f"difference in {name}", scale=alt.Scale(zero=True)),
            y2="high:Q",
            color=verdict,
            tooltip=tooltip,
        )
    )
    means = (
        alt.Chart(data)
        .mark_tick(size=26, thickness=3)
        .encode(x=x, y="difference:Q", color=verdict, tooltip=tooltip)
    )
    dots = (
        alt.Chart(seeds)
        .mark_point(size=36, color="#333", filled=False)
        .encode(
            x=x,
            xOffset=alt.XOffset("seed:N"),
            y="difference:Q",
            tooltip=[alt.Tooltip("seed:N"), alt.Tooltip("difference:Q", format="+.3f")],
        )
    )
    zero = alt.Chart().mark_rule(color="#666").encode(y=alt.datum(0))
    return alt.layer(zero, bars, means, dots).properties(
        width=max(520, 110 * len(order)), height=280, autosize=NATURAL
    )


def matrix_chart(table: pd.DataFrame, labels: Sequence[str], metric: str) -> alt.LayerChart:
    """All pairs at one budget: cell (row, column) = row method − column method; ✱ where Holm keeps it."""
    data = table.assign(
        text=[
            f"{d:+.3f}{' ✱' if r else ''}".replace("-", "−") if np.isfinite(d) else ""
            for d, r in zip(table["difference"], table["real"], strict=True)
        ]
    )
    top = (
        float(np.nanmax(np.abs(data["difference"].to_numpy(dtype=float)), initial=0.01))
        if len(data)
        else 0.01
    )
    order = list(labels)
    base = alt.Chart(data).encode(
        x=alt.X("b:N", title="minus this method", sort=order, axis=alt.Axis(labelAngle=-30, labelLimit=220)),
        y=alt.Y("a:N", title="this method", sort=order, axis=alt.Axis(labelLimit=260)),
    )
    cells = base.mark_rect(stroke="#fff", strokeWidth=1).encode(
        color=alt.Color(
            "difference:Q",
            title=f"difference in {_in_text(metric)}",
            scale=alt.Scale(scheme="blueorange", domain=[-top, top], reverse=True),
            legend=alt.Legend(orient="top", format="+.2f", gradientLength=220, titleLimit=400),
        ),
        tooltip=[
            alt.Tooltip("a:N", title="method"),
            alt.Tooltip("b:N", title="minus"),
            alt.Tooltip("difference:Q", format="+.3f"),
            alt.Tooltip("low:Q", title="95 % low", format="+.3f"),
            alt.Tooltip("high:Q", title="95 % high", format="+.3f"),
            alt.Tooltip("p_holm:Q", title="Holm-adjusted p", format=".3f"),
        ],
    )
    text = base.mark_text(fontSize=13).encode(
        text="text:N",
        color=alt.condition(f"abs(datum.difference) > {0.6 * top}", alt.value("#fff"), alt.value("#111")),
    )
    side = max(64, min(120, 520 // max(1, len(order))))
    return alt.layer(cells, text).properties(
        width=side * len(order), height=round(side * 0.6) * len(order), autosize=NATURAL
    )


def heatmap(data: pd.DataFrame, metric: str, columns: int = 3) -> alt.FacetChart:
    """Train domain × test domain per method (``label``), each cell its mean and, where computed, its
    interval; in-domain cells are outlined."""
    n = max(1, data["test_domain"].nunique()) if not data.empty else 1
    rows = max(1, data["train_domain"].nunique()) if not data.empty else 1
    has_interval = "low" in data and data["low"].notna().any()
    data = data.assign(
        interval=[
            f"[{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else ""
            for lo, hi in zip(
                data.get("low", pd.Series(np.nan, index=data.index)),
                data.get("high", pd.Series(np.nan, index=data.index)),
                strict=True,
            )
        ]
    )
    low = CHANCE.get(metric) if CHANCE.get(metric) is not None and metric != "kappa" else 0.0
    base = alt.Chart().encode(
        x=alt.X(
            "test_domain:N",
            title="tested on",
            axis=alt.Axis(labelAngle=-30, labelLimit=180, labelOverlap=False),
        ),
        y=alt.Y("train_domain:N", title="trained on", axis=alt.Axis(labelLimit=180)),
    )
    cells = base.mark_rect(stroke="#fff", strokeWidth=1).encode(
        color=alt.Color(
            "mean:Q",
            title=METRICS.get(metric, metric),
            scale=alt.Scale(scheme="viridis", domain=[low, 1], clamp=True),
            legend=alt.Legend(orient="top", format=".1f", gradientLength=200),
        ),
        tooltip=[
            alt.Tooltip("label:N", title="method"),
            alt.Tooltip("train_domain:N", title="trained on"),
            alt.Tooltip("test_domain:N", title="tested on"),
            alt.Tooltip("mean:Q", title="mean", format=".3f"),
            alt.Tooltip("interval:N", title="95 % interval"),
            alt.Tooltip("n_seeds:Q", title="seeds"),
        ],
    )
    diagonal = base.transform_filter("datum.in_domain === true").mark_rect(
        fill=None, stroke=OUT_OF_DOMAIN, strokeWidth=3
    )
    ink = alt.condition(f"datum.mean > {low + 0.6 * (1 - low)}", alt.value("#111"), alt.value("#fff"))
    text = base.mark_text(fontSize=14, fontWeight="bold", dy=-7 if has_interval else 0).encode(
        text=alt.Text("mean:Q", format=".2f"), color=ink
    )
    layers = [cells, diagonal, text]
    if has_interval:
        layers.append(base.mark_text(fontSize=10, dy=9).encode(text="interval:N", color=ink))
    cell_w, cell_h = (96, 50) if has_interval else (72, 44)
    layered = alt.layer(*layers, data=data).properties(width=cell_w * n, height=cell_h * rows)
    return layered.facet(
        facet=alt.Facet("label:N", title=None, header=alt.Header(labelFontSize=13, labelFontWeight="bold")),
        columns=max(1, min(columns, 900 // (cell_w * n + 160))),
    )


def drop_chart(data: pd.DataFrame, metric: str) -> alt.HConcatChart:
    """In-domain vs out-of-domain score per method on the metric's whole axis (from zero), beside the drop on
    an axis that starts at zero, with intervals where the bootstrap gave them; sorted by the drop."""
    data = data.copy()
    for column in ("in_low", "in_high", "out_low", "out_high", "low", "high"):
        if column not in data:
            data[column] = np.nan
    order = data.sort_values("drop")["label"].tolist()
    y = alt.Y("label:N", title=None, sort=order, axis=alt.Axis(labelLimit=280, labelOverlap=False))
    long = pd.concat(
        [
            data[["label", "drop", column, f"{short}_low", f"{short}_high"]]
            .set_axis(["label", "drop", "score", "low", "high"], axis=1)
            .assign(where=column.replace("_", " "))
            for column, short in (("in_domain", "in"), ("out_of_domain", "out"))
        ],
        ignore_index=True,
    )
    where = alt.Color(
        "where:N",
        title=None,
        legend=alt.Legend(orient="top", direction="horizontal"),
        scale=alt.Scale(domain=["in domain", "out of domain"], range=[IN_DOMAIN, OUT_OF_DOMAIN]),
    )
    name = METRICS.get(metric, metric)
    height = max(120, 34 * len(data))
    score_x = alt.X(
        "score:Q",
        title=name,
        scale=alt.Scale(domain=_metric_domain(metric, long.rename(columns={"score": "mean"})), nice=False),
        axis=alt.Axis(format=".1f"),
    )
    side = alt.YOffset(
        "where:N", scale=alt.Scale(domain=["in domain", "out of domain"])
    )  # two sub-rows per method
    points = (
        alt.Chart(long)
        .mark_circle(size=90, opacity=1)
        .encode(
            y=y,
            yOffset=side,
            x=score_x,
            color=where,
            tooltip=[
                alt.Tooltip("label:N", title="method"),
                alt.Tooltip("where:N"),
                alt.Tooltip("score:Q", format=".3f"),
                alt.Tooltip("low:Q", title="95 % low", format=".3f"),
                alt.Tooltip("high:Q", title="95 % high", format=".3f"),
            ],
        )
    )
    bars = (
        alt.Chart(long)
        .transform_filter("isValid(datum.low) && isFinite(datum.low)")
        .mark_bar(height=2.5)
        .encode(y=y, yOffset=side, x="low:Q", x2="high:Q", color=where)
    )
    dumbbell = alt.layer(points, bars).properties(width=420, height=height)
    drop_title = f"drop (in − out of domain) in {_in_text(metric)}"
    drop_x = alt.X("drop:Q", title=drop_title, scale=alt.Scale(zero=True), axis=alt.Axis(format=".2f"))
    drop_bars = (
        alt.Chart(data)
        .mark_bar(color=GREY, height=14)
        .encode(
            y=alt.Y("label:N", sort=order, axis=None),
            x=drop_x,
            tooltip=[
                alt.Tooltip("label:N", title="method"),
                alt.Tooltip("drop:Q", format="+.3f"),
                alt.Tooltip("low:Q", title="95 % low", format="+.3f"),
                alt.Tooltip("high:Q", title="95 % high", format="+.3f"),
            ],
        )
    )
    drop_ci = (
        alt.Chart(data)
        .transform_filter("isValid(datum.low) && isFinite(datum.low)")
        .mark_errorbar(ticks=alt.MarkConfig(size=8), color="#222")
        .encode(y=alt.Y("label:N", sort=order, axis=None), x=alt.X("low:Q", title=drop_title), x2="high:Q")
    )
    zero = alt.Chart().mark_rule(color="#444").encode(x=alt.datum(0))
    drop = alt.layer(drop_bars, drop_ci, zero).properties(width=260, height=height)
    return alt.hconcat(dumbbell, drop, spacing=24, autosize=NATURAL).resolve_scale(color="independent")
