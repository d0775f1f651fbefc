import streamlit as st

from mitoviz.data.splits import LEAKY_SPLITS
from mitoviz.evaluate import stats
from mitoviz.report import (
    METRICS,
    axis_name,
    budget_order,
    curves,
    degenerate_note,
    facet_axes,
    protocol_order,
)
from mitoviz.report import train_domains as train_domains_of
from mitoviz.report.compare import (
    CHANCE,
    REAL,
    best_two,
    matrix,
    matrix_numbers,
    matrix_statement,
    paired,
    paired_numbers,
    seed_differences,
)
from mitoviz.report.curves import ONE_CLASS, curve_numbers, efficiency, efficiency_numbers, with_intervals
from mitoviz.report.trust import Trust
from mitoviz.ui.charts import curve_chart, matrix_chart, paired_chart
from mitoviz.ui.export import chart_downloads, csv_download, export_title
from mitoviz.ui.trust import facet, split_mode
from mitoviz.ui.widgets import open_results

cfg, run, data = open_results("Accuracy vs labels")
if data.table.empty:
    st.info("This run has no finished fits yet. The chart appears as soon as the first encoder is done.")
    st.stop()

protocols = protocol_order(data.table)
c1, c2, c3, c4 = st.columns(4)
metric = c1.selectbox("Metric", list(METRICS), format_func=METRICS.get)
protocol = c2.selectbox("Protocol", protocols)
domains = train_domains_of(data.table, protocol)
train_domain = c3.selectbox("Trained on", domains, disabled=len(domains) == 1)
axes = facet_axes(data.table, protocol)
test_axis = c4.selectbox(
    "Split test results by",
    axes,
    format_func=lambda a: "nothing (all test cells)" if a == "all" else axis_name(a),
)
st.space("small")  # room for the chart's toolbar, which floats above the chart's top edge

name, labels, stem = METRICS.get(metric, metric), data.labels(), f"{run.run_id}-{metric}"
run_name = str(data.manifest.get("name") or run.run_id)
table = curves(data.table, metric, test_axis, protocol=protocol, train_domain=train_domain)
bootstrapped = metric in stats.METRIC_RANGE
slot = st.empty()
trust = Trust.empty()
if bootstrapped:
    slot.altair_chart(curve_chart(with_intervals(table, trust.points), metric, labels), width="content")
    with st.spinner("Bootstrapping intervals over seeds and test slides…"):
        trust = facet(cfg, run, data, metric, protocol, train_domain, test_axis)
table = with_intervals(table, trust.points)
chart = curve_chart(table, metric, labels)
slot.altair_chart(chart, width="content")
statement = (
    stats.INTERVAL_STATEMENT.format(level=95, n=int(trust.points["n_resamples"].max()))
    if len(trust.points)
    else f"Points: mean over seeds; no interval for {name}."
)
chance = (
    " The y axis starts at chance level (dotted line), or below it where a value is lower."
    if metric in ("balanced_accuracy", "auroc")
    else ""
)
st.caption(
    f"{statement} Lines join the means; dashed: trained methods (end-to-end, LoRA, fine-tuned); × marks a "
    f"point with a fit that {ONE_CLASS}. At each budget the methods sit slightly apart so that their bars do "
    f"not hide each other.{chance} Click a legend entry to isolate a method (shift-click for several)."
)
note = degenerate_note(table)
if note:
    st.warning(note)
if table["capped"].any():
    st.info(
        "Some budgets were larger than a class in the training pool and were capped; the x position shows "
        "the number of labelled cells actually used."
    )
where = f"{protocol}, trained on {train_domain}" + (
    "" if test_axis == "all" else f", by {axis_name(test_axis)}"
)
title = export_title(
    f"{name} against labelled cells", run_name, run.run_id, f"{name} ({where})", data.synthetic, [statement]
)
chart_downloads(chart, curve_numbers(table), f"{stem}-curves", title, key="curves")

st.subheader("Which differences are real")
if not bootstrapped or trust.pairs.empty:
    st.info(
        f"Paired comparisons need two methods tested on the same seeds and a metric with a bootstrap "
        f"interval{'' if bootstrapped else f' ({name} has none: choose another metric)'}."
    )
else:
    budgets = [b for b in budget_order(data.fits) if b in set(trust.pairs["budget"])]
    tested = sorted(set(trust.pairs["test_domain"]))
    d1, d2, d3, d4 = st.columns(4)
    budget = d1.selectbox("At budget", budgets, index=len(budgets) - 1)
    test_domain = d2.selectbox(
        "Tested on",
        tested,
        disabled=len(tested) == 1,
        format_func=lambda d: "all test cells" if d == "all" else d,
    )
    at_budget = trust.pairs[(trust.pairs["budget"] == budget) & (trust.pairs["test_domain"] == test_domain)]
    compared = [label for label in labels if label in set(at_budget["a"])] or sorted(set(trust.pairs["a"]))
    best = [label for label in best_two(trust.points, budget, test_domain) if label in compared] + compared
    a = d3.selectbox("Method A", compared, index=compared.index(best[0]))
    others = [label for label in compared if label != a]
    b = d4.selectbox("Method B", others, index=others.index(next(x for x in best if x != a)))
    if split_mode(data) in LEAKY_SPLITS:
        st.caption(
            ":material/warning: This run splits cells, not slides, into training and test: a difference may "
            "partly come from slides the methods saw in training."
        )
    # Sections, not tabs: a chart drawn inside a hidden tab is laid out at the wrong size.
    st.markdown(f"#### {a} − {b} at every budget")
    pairs = paired(trust, data.fits, metric, a, b, test_domain)
    if pairs.empty:
        st.caption("These two were not tested on the same seeds at any budget yet.")
    else:
        st.markdown(
            "\n".join(f"- **{row.verdict}**: {REAL if row.real else CHANCE}" for row in pairs.itertuples())
        )
        pair_chart = paired_chart(pairs, seed_differences(trust, metric, a, b, test_domain), metric, budgets)
        st.altair_chart(pair_chart, width="content")
        st.caption(
            "Bars: 95 % intervals of the difference (blue: excludes 0); tick: mean over seeds; circles: each "
            f"seed's difference. {stats.PAIRED_STATEMENT}"
        )
        st.dataframe(paired_numbers(pairs), hide_index=True, width="stretch")
        chart_downloads(
            pair_chart,
            paired_numbers(pairs),
            f"{stem}-{a}-minus-{b}",
            export_title(
                f"{a} − {b}: {name} per budget",
                run_name,
                run.run_id,
                name,
                data.synthetic,
                [stats.PAIRED_STATEMENT],
            ),
            key="paired",
        )

    st.markdown(f"#### All methods at {budget}")
    everyone = matrix(trust, metric, budget, test_domain)
    shown = [label for label in labels if label in set(everyone["a"])]
    grid = matrix_chart(everyone, shown, metric)
    st.altair_chart(grid, width="content")
    st.caption(f"Each cell: the row's method minus the column's. ✱ {matrix_statement(everyone)}")
    chart_downloads(
        grid,
        matrix_numbers(everyone, shown),
        f"{stem}-{budget.replace('/', '-')}-matrix",
        export_title(
            f"{name} at {budget}: every pair of methods",
            run_name,
            run.run_id,
            name,
            data.synthetic,
            [matrix_statement(everyone)],
        ),
        key="matrix",
    )

st.subheader("Labels needed")
if metric == "ece":
    st.caption(
        "Label efficiency needs a score where higher is better; ECE is not one. Choose another metric."
    )
else:
    pct = st.slider("Target: share of the full-data score", 50, 100, 95, format="%d %%")
    needed = efficiency_numbers(efficiency(table, pct / 100), pct / 100)
    st.dataframe(needed, hide_index=True, width="stretch")
    st.caption(
        stats.EFFICIENCY_STATEMENT.format(pct=pct) + " The full-data score is the score at the largest "
        "budget; the best method's is the highest of those."
    )
    csv_download(needed, f"{stem}-labels-needed", "Labels needed (CSV)", key="needed")

with st.expander("The numbers behind the chart"):
    st.dataframe(curve_numbers(table), hide_index=True, width="stretch")
