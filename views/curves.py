import streamlit as st

from mitoviz.report import (
    METRICS,
    axis_name,
    curve_numbers,
    curves,
    degenerate_note,
    facet_axes,
    protocol_order,
    train_domains,
)
from mitoviz.ui.charts import curve_chart
from mitoviz.ui.export import chart_downloads
from mitoviz.ui.widgets import open_results

cfg, run, data = open_results("Accuracy vs labels")
if data.table.empty:
    st.info("This run has no finished fits yet. The chart appears as soon as the first encoder is done.")
    st.stop()

protocols = protocol_order(data.table)
c1, c2, c3, c4 = st.columns(4)
metric = c1.selectbox("Metric", list(METRICS), format_func=METRICS.get)
protocol = c2.selectbox("Protocol", protocols)
domains = train_domains(data.table, protocol)
train_domain = c3.selectbox("Trained on", domains, disabled=len(domains) == 1)
axes = facet_axes(data.table, protocol)
facet = c4.selectbox("Split test results by", axes,
                     format_func=lambda a: "nothing (all test cells)" if a == "all" else axis_name(a))

table = curves(data.table, metric, facet, protocol=protocol, train_domain=train_domain)
chart = curve_chart(table, metric)
st.altair_chart(chart, width="content")
st.caption(
    "Lines: mean over seeds; band: ± 1 sd; dashed: trained methods (end-to-end, LoRA, fine-tuned). Click a "
    "legend entry to isolate a method (shift-click for several). The x axis counts labelled training cells."
)
note = degenerate_note(table)
if note:
    st.warning(note)
if table["capped"].any():
    st.info("Some budgets were larger than a class in the training pool and were capped; the x position shows "
            "the number of labelled cells actually used.")

with st.expander("The numbers behind the chart"):
    st.dataframe(curve_numbers(table), hide_index=True, width="stretch")
chart_downloads(chart, table, f"{run.run_id}-{metric}-curves")
