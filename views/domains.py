import streamlit as st

from mitoviz.evaluate import stats
from mitoviz.report import (
    METRICS,
    axis_name,
    curves,
    degenerate_note,
    facet_axes,
    protocol_order,
    robustness_scale,
    robustness_table,
)
from mitoviz.report.domain_trust import STATEMENT
from mitoviz.report.domains import (
    default_test_axis,
    domain_drop,
    domain_matrix,
    drop_numbers,
    has_drop,
    lodo_matrix,
    matrix_numbers,
    own_datasets,
    protocol_name,
    with_domain_intervals,
)
from mitoviz.ui import pages
from mitoviz.ui.charts import drop_chart, heatmap
from mitoviz.ui.export import chart_downloads, export_title
from mitoviz.ui.trust import domain
from mitoviz.ui.widgets import empty_state, open_results

cfg, run, data = open_results("Domain shift")
table = data.table
protocols = protocol_order(table)
shifted = [p for p in protocols if ":" in p]
if not shifted:
    empty_state(
        "This run has no cross-domain protocol",
        "Domain shift is clearest with a run that trains on one domain and tests on every domain "
        "(`cross:<column>`, e.g. `cross:scanner`) or leaves one domain out (`lodo:<column>`). Below: how the "
        "pooled models score on each test domain.",
        pages.NEW,
        "Set up a cross-domain benchmark",
    )
axes_by = {p: [a for a in facet_axes(table, p) if a != "all"] for p in protocols}
protocols = [p for p in protocols if axes_by[p]]
if not protocols:
    st.caption("The test cells of this run hold a single domain of every axis: nothing to split them by.")
else:
    c1, c2, c3, c4 = st.columns(4)
    protocol = c1.selectbox(
        "Trained", protocols, index=protocols.index(shifted[0]) if shifted else 0, format_func=protocol_name
    )
    axes = axes_by[protocol]
    test_axis = c2.selectbox(
        "Tested on each", axes, index=axes.index(default_test_axis(protocol, axes)), format_func=axis_name
    )
    metric = c3.selectbox("Metric", [m for m in METRICS if m != "ece"], format_func=METRICS.get)
    budgets = data.budgets()
    budget = c4.selectbox("Label budget", budgets, index=len(budgets) - 1)
    labels = data.labels()
    chosen = st.multiselect("Methods", labels, default=labels[: min(4, len(labels))])
    st.space("small")  # room for the chart's toolbar, which floats above the chart's top edge

    name, run_name = METRICS.get(metric, metric), str(data.manifest.get("name") or run.run_id)
    own = own_datasets(data.cells)
    train_axis = protocol.partition(":")[2]
    st.subheader(f"Trained {protocol_name(protocol)} × tested on each {axis_name(test_axis)}")
    matrix = domain_matrix(table, metric, protocol, test_axis, budget, chosen, own)
    drops = domain_drop(table, metric, protocol, test_axis, budget, own)
    with st.spinner("Bootstrapping intervals over seeds and test slides…"):
        cells, bootstrapped = domain(cfg, run, data, metric, protocol, test_axis, budget, chosen)
    matrix, drops = with_domain_intervals(matrix, drops[drops["label"].isin(chosen)], cells, bootstrapped)
    statement = STATEMENT.format(level=95, n=stats.N_RESAMPLES)
    shown = curves(table, metric, test_axis, protocol=protocol)
    note = degenerate_note(shown[(shown["budget"] == budget) & shown["label"].isin(chosen)])
    if note:
        st.warning(note)
    if matrix.empty:
        st.caption("No fits for this budget.")
    else:
        grid = heatmap(matrix, metric)
        st.altair_chart(grid, width="content")
        outline = " Outlined: in-domain." if matrix["in_domain"].notna().any() else ""
        st.caption(
            f"Rows: the domain the model was trained on; columns: the domain it was tested on. Mean over "
            f"seeds with its 95 % interval.{outline} {statement}"
        )
        chart_downloads(
            grid,
            matrix_numbers(matrix),
            f"{run.run_id}-{protocol.replace(':', '-')}-{test_axis}-matrix",
            export_title(
                f"{name}: trained {protocol_name(protocol)}, tested on each "
                f"{axis_name(test_axis)} ({budget})",
                run_name,
                run.run_id,
                name,
                data.synthetic,
                [statement],
            ),
            key="matrix",
        )

    st.subheader("In-domain vs out-of-domain")
    if not has_drop(protocol, test_axis, set(matrix["test_domain"]), own) or drops.empty:
        st.caption(
            "In- vs out-of-domain needs a model trained on part of the domains of this axis (a cross or "
            "leave-one-out protocol tested on its own axis), or external test sets (tested on each data set)."
        )
    else:
        chart = drop_chart(drops, metric)
        st.altair_chart(chart, width="content")
        missing = (
            ""
            if drops["low"].notna().all()
            else (
                " Some drops have no interval: their test domains were not all tested in every seed (a "
                "seed's test slides may miss a domain), so the seeds cannot be redrawn together for them."
            )
        )
        st.caption(
            "Left: mean score on the domains each model was trained on (in domain) and on the others, on "
            f"the metric's whole axis; right: the drop, from zero. Bars: 95 % intervals. {statement}{missing}"
        )
        st.dataframe(drop_numbers(drops), hide_index=True, width="stretch")
        chart_downloads(
            chart,
            drop_numbers(drops),
            f"{run.run_id}-{test_axis}-drop",
            export_title(
                f"{name} in vs out of domain ({axis_name(test_axis)}, {budget})",
                run_name,
                run.run_id,
                name,
                data.synthetic,
                [statement],
            ),
            key="drop",
        )

    if protocol.startswith("lodo:") and train_axis == test_axis:
        st.subheader(f"Leave one {axis_name(train_axis)} out")
        st.dataframe(lodo_matrix(table, metric, train_axis, budget), width="stretch")
        st.caption("Each column: trained on every other domain, tested on this one (never seen in training).")

st.subheader("Robustness index")
if data.robustness.empty:
    st.caption(
        "No robustness index: it needs a domain axis (scanner, tumour type, …) with at least two values."
    )
else:
    st.dataframe(
        robustness_table(data.robustness),
        hide_index=True,
        width="stretch",
        column_config={"RI": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.3f")},
    )
    scale = robustness_scale(data.robustness)
    st.caption(
        "Among each cell's k nearest neighbours in cosine space (cells of the same slide excluded), neighbours that share "
        "either its class or its domain but not both: RI is the share that shares the class. Compare it with the RI "
        f"random neighbours would give, shown beside it. Scale: {scale}"
    )
