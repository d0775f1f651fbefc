import streamlit as st

from mitoviz.evaluate.summary import METRICS, curves
from mitoviz.ui.charts import curve_chart
from mitoviz.ui.export import chart_downloads
from mitoviz.ui.widgets import open_results

cfg, run, data = open_results("Accuracy vs labels")
if data.table.empty:
    st.info("This run has no finished fits yet. The chart appears as soon as the first encoder is done.")
    st.stop()

protocols = sorted(data.table["protocol"].unique(), key=lambda p: (p != "pooled", p))
c1, c2, c3, c4 = st.columns(4)
metric = c1.selectbox("Metric", list(METRICS), format_func=METRICS.get)
protocol = c2.selectbox("Protocol", protocols)
rows = data.table[data.table["protocol"] == protocol]
train_domains = sorted(rows["train_domain"].unique())
train_domain = c3.selectbox("Trained on", train_domains, disabled=len(train_domains) == 1)
axes = [a for a in ("all", "scanner", "tumor_type") if a in set(rows["test_axis"])]
facet = c4.selectbox("Split test results by", axes, format_func=lambda a: {"all": "nothing (all test cells)",
                                                                           "tumor_type": "tumour type"}.get(a, a))

table = curves(rows[rows["train_domain"] == train_domain], metric, facet)
chart = curve_chart(table, metric)
st.altair_chart(chart, width="content")
st.caption(
    "Lines: mean over seeds; band: ± 1 sd; dashed: the end-to-end CNN. Click a legend entry to isolate a method "
    "(shift-click for several). The x axis counts labelled training cells."
)
degenerate = table[table["degenerate"] > 0]
if not degenerate.empty:
    worst = degenerate.sort_values("degenerate", ascending=False).iloc[0]
    points = "one point includes" if len(degenerate) == 1 else f"{len(degenerate)} points include"
    st.warning(
        f"{points.capitalize()} fits that predict one class for every test cell (chance level), e.g. "
        f"{worst['label']} at {worst['budget']}: {worst['degenerate']:.0%} of its seeds. They are shown, not hidden."
    )
if table["capped"].any():
    st.info("Some budgets were larger than a class in the training pool and were capped; the x position shows "
            "the number of labelled cells actually used.")

with st.expander("The numbers behind the chart"):
    shown = table[["label", "budget", "n_train", "test_domain", "mean", "sd", "ci_low", "ci_high", "n_seeds", "n_test",
                   "degenerate"]]
    st.dataframe(shown, hide_index=True, width="stretch")
chart_downloads(chart, table, f"{run.run_id}-{metric}-curves")
