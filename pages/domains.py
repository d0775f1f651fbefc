import streamlit as st

from mitoviz.evaluate.summary import METRICS, domain_drop, domain_matrix, lodo_table
from mitoviz.ui.charts import drop_chart, heatmap
from mitoviz.ui.data import run_data
from mitoviz.ui.export import chart_downloads
from mitoviz.ui.widgets import NEW_PAGE, empty_state, run_picker, settings, synthetic_banner

AXIS_NAMES = {"scanner": "scanner", "tumor_type": "tumour type"}

cfg = settings()
st.title("Domain shift")
run = run_picker(cfg)
if run is None:
    st.stop()
data = run_data(cfg, run)
if data.synthetic:
    synthetic_banner()
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
        chosen = st.multiselect("Methods", labels, default=labels[: min(3, len(labels))])
        cols = st.columns(min(3, max(1, len(chosen))))
        for i, label in enumerate(chosen):
            matrix = domain_matrix(table, metric, axis, label, budget)
            with cols[i % len(cols)]:
                st.markdown(f"**{label}**")
                if matrix.empty:
                    st.caption("no fits for this budget")
                else:
                    st.altair_chart(heatmap(matrix, metric), width="content")
        st.caption("Rows: the domain the classifier was trained on; columns: the domain it was tested on. The "
                   "outlined diagonal is in-domain. Mean over seeds.")

        st.subheader("In-domain vs out-of-domain")
        drops = domain_drop(table, metric, axis, budget)
        if drops.empty:
            st.caption("No fits for this budget.")
        else:
            chart = drop_chart(drops, metric)
            st.altair_chart(chart, width="content")
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
    ri = data.robustness
    st.dataframe(ri, hide_index=True, width="stretch")
    scale = ri["scale"].iloc[0] if "scale" in ri else ""
    st.caption(
        "k-nearest neighbours in cosine space, neighbours from the same slide excluded. Of the neighbours that share "
        "either the class or the domain (not both), the share that shares the class. " + str(scale)
    )
