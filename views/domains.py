import streamlit as st

from mitoviz.evaluate.summary import METRICS, domain_drop, domain_matrix, lodo_table
from mitoviz.ui.charts import drop_chart, heatmap
from mitoviz.ui.export import chart_downloads
from mitoviz.ui.widgets import NEW_PAGE, empty_state, open_results

AXIS_NAMES = {"scanner": "scanner", "tumor_type": "tumour type"}

cfg, run, data = open_results("Domain shift")
table = data.table
protocols = sorted(table["protocol"].unique()) if not table.empty else []
axes = sorted({p.split(":", 1)[1] for p in protocols if ":" in p})
if not axes:
    empty_state(
        "This run has no cross-domain protocol",
        "Domain shift needs a run with the protocol *train on one domain, test on every domain* "
        "(`cross:scanner`, `cross:tumor_type`) or *leave one domain out* (`lodo:…`).",
        NEW_PAGE, "Set up a cross-domain benchmark",
    )
else:
    c1, c2, c3 = st.columns(3)
    axis = c1.selectbox("Domain", axes, format_func=AXIS_NAMES.get)
    metric = c2.selectbox("Metric", [m for m in METRICS if m != "ece"], format_func=METRICS.get)
    budgets = data.budgets()
    budget = c3.selectbox("Label budget", budgets, index=len(budgets) - 1)

    if f"cross:{axis}" in protocols:
        st.subheader(f"Train {AXIS_NAMES[axis]} × test {AXIS_NAMES[axis]}")
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
        st.subheader(f"Leave one {AXIS_NAMES[axis]} out")
        lodo = lodo_table(table, metric, axis, budget)
        st.dataframe(lodo.pivot(index="label", columns="held_out", values="mean"), width="stretch")
        st.caption("Each column: trained on every other domain, tested on this one (never seen in training).")

st.subheader("Robustness index")
if data.robustness.empty:
    st.caption("No robustness index: it needs at least two scanners or tumour types in the data.")
else:
    ri = data.robustness.rename(columns={"value": "RI", "chance": "RI of random neighbours", "so": "same class, other domain",
                                         "os": "other class, same domain", "undefined_frac": "undefined share"})
    st.dataframe(ri.drop(columns=["scale"], errors="ignore"), hide_index=True, width="stretch",
                 column_config={"RI": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.3f")})
    scale = str(data.robustness["scale"].iloc[0]) if "scale" in data.robustness else ""
    st.caption(
        "Among each cell's k nearest neighbours in cosine space (cells of the same slide excluded), neighbours that share "
        "either its class or its domain but not both: RI is the share that shares the class. Compare it with the RI "
        f"random neighbours would give, shown beside it. Scale: {scale}"
    )
