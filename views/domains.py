import streamlit as st

from mitoviz.report import (
    METRICS,
    axis_name,
    domain_drop,
    domain_matrix,
    lodo_matrix,
    protocol_axes,
    robustness_scale,
    robustness_table,
)
from mitoviz.ui.charts import drop_chart, heatmap
from mitoviz.ui.export import chart_downloads
from mitoviz.ui.widgets import NEW_PAGE, empty_state, open_results

cfg, run, data = open_results("Domain shift")
table = data.table
protocols = set(table["protocol"]) if not table.empty else set()
axes = protocol_axes(protocols)
if not axes:
    empty_state(
        "This run has no cross-domain protocol",
        "Domain shift needs a run with the protocol *train on one domain, test on every domain* "
        "(`cross:<column>`, e.g. `cross:scanner`) or *leave one domain out* (`lodo:<column>`).",
        NEW_PAGE, "Set up a cross-domain benchmark",
    )
else:
    c1, c2, c3 = st.columns(3)
    axis = c1.selectbox("Domain", axes, format_func=axis_name)
    metric = c2.selectbox("Metric", [m for m in METRICS if m != "ece"], format_func=METRICS.get)
    budgets = data.budgets()
    budget = c3.selectbox("Label budget", budgets, index=len(budgets) - 1)

    if f"cross:{axis}" in protocols:
        st.subheader(f"Train {axis_name(axis)} × test {axis_name(axis)}")
        labels = data.labels()
        chosen = st.multiselect("Methods", labels, default=labels[: min(4, len(labels))])
        matrix = domain_matrix(table, metric, axis, budget, chosen)
        if matrix.empty:
            st.caption("No fits for this budget.")
        else:
            st.altair_chart(heatmap(matrix, metric), width="content")
        st.caption("Rows: the domain the classifier was trained on; columns: the domain it was tested on. The "
                   "red-outlined diagonal is in-domain. Mean over seeds.")

        st.subheader("In-domain vs out-of-domain")
        drops = domain_drop(table, metric, axis, budget)
        if drops.empty:
            st.caption("No fits for this budget.")
        else:
            chart = drop_chart(drops, metric)
            st.altair_chart(chart, width="stretch", height=90 + 34 * len(drops))
            st.dataframe(drops, hide_index=True, width="stretch", column_config={
                c: st.column_config.NumberColumn(format="%.3f") for c in ("in_domain", "out_of_domain", "drop", "drop_sd")})
            chart_downloads(chart, drops, f"{run.run_id}-{axis}-drop")

    if f"lodo:{axis}" in protocols:
        st.subheader(f"Leave one {axis_name(axis)} out")
        st.dataframe(lodo_matrix(table, metric, axis, budget), width="stretch")
        st.caption("Each column: trained on every other domain, tested on this one (never seen in training).")

st.subheader("Robustness index")
if data.robustness.empty:
    st.caption("No robustness index: it needs a domain axis (scanner, tumour type, …) with at least two values.")
else:
    st.dataframe(robustness_table(data.robustness), hide_index=True, width="stretch",
                 column_config={"RI": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.3f")})
    scale = robustness_scale(data.robustness)
    st.caption(
        "Among each cell's k nearest neighbours in cosine space (cells of the same slide excluded), neighbours that share "
        "either its class or its domain but not both: RI is the share that shares the class. Compare it with the RI "
        f"random neighbours would give, shown beside it. Scale: {scale}"
    )
