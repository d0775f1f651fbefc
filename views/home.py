import pandas as pd
import streamlit as st

from mitoviz.data.sources import dataset_status
from mitoviz.encoders import encoder_status
from mitoviz.experiment.spec import PRESETS
from mitoviz.jobs import submit
from mitoviz.results import ResultsStore
from mitoviz.ui.widgets import JOBS_PAGE, NEW_PAGE, settings, user_errors

cfg = settings()
st.title("mitoviz")
st.markdown(
    "Which image encoder should you trust for telling **mitotic figures from look-alikes**, with how many "
    "labels, and does it survive a new scanner or tumour type? mitoviz probes frozen foundation-model "
    "embeddings against an end-to-end CNN across label budgets and domains, and shows you the cells each model "
    "gets wrong."
)

datasets = [s.to_dict() for s in dataset_status(cfg)]
encoders = [s.to_dict() for s in encoder_status(cfg)]
runs = ResultsStore(cfg.results_dir).listing()

left, right = st.columns([3, 2], gap="large")
with left, st.container(border=True):
    st.markdown("#### One-click demo")
    st.markdown(
        "Generates the built-in **synthetic** H&E set (MIDOG format, three simulated scanners, two tumour types) "
        "and benchmarks the encoders that need no weights against an end-to-end CNN: four label budgets, three "
        "seeds, pooled and cross-scanner. About 5 minutes on a laptop CPU."
    )
    if st.button("Run the demo", type="primary", icon=":material/play_arrow:"):
        with user_errors():
            job, created = submit(PRESETS["demo"], cfg)
            st.switch_page(JOBS_PAGE, query_params={"job": job["id"]})
with right:
    a, b, c = st.columns(3)
    a.metric("Data sets found", f"{sum(d['ready'] for d in datasets)} / {len(datasets)}")
    b.metric("Encoders ready", f"{sum(e['available'] for e in encoders)} / {len(encoders)}")
    c.metric("Stored runs", len(runs))
    st.page_link(NEW_PAGE, label="Set up a benchmark", icon=":material/add_circle:")
    st.caption(f"Home folder: `{cfg.home}` · data roots: " + ", ".join(f"`{r}`" for r in cfg.all_data_roots()))

st.subheader("Recent runs")
if runs:
    frame = pd.DataFrame(runs[:8])[["name", "status", "created", "datasets", "encoders", "fits", "synthetic"]]
    st.dataframe(frame, hide_index=True, width="stretch")
else:
    st.caption("No runs yet: start the demo above, or set up a benchmark.")

st.subheader("Data sets")
rows = []
for d in datasets:
    if d["ready"]:
        status = "ready"
    elif d["found"]:
        status = "annotations found, images missing"
    else:
        status = "not found"
    rows.append({"data set": d["title"], "name": d["name"], "status": status,
                 "where / how to get it": d["path"] if d["found"] else d["how_to_get"]})
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
             column_config={"where / how to get it": st.column_config.TextColumn(width="large")})

st.subheader("Encoders")
frame = pd.DataFrame(
    [{"encoder": e["title"], "name": e["name"], "family": e["family"], "dim": e["dim"],
      "weights": e["location"] if e["available"] else f"missing: {e['how_to_get']}"} for e in encoders]
)
st.dataframe(frame, hide_index=True, width="stretch",
             column_config={"weights": st.column_config.TextColumn(width="large")})
