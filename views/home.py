import pandas as pd
import streamlit as st

from mitoviz.jobs import active_job, submit
from mitoviz.results import ResultsStore
from mitoviz.ui import pages
from mitoviz.ui.jobs import duration
from mitoviz.ui.widgets import catalogue, run_label, settings, user_errors

RECENT = 8
#: Measured by bench/bench_demo.py (fresh home folder, 2 CPU cores); replaced by this machine's own last demo run.
DEMO_TIME = "about 2 minutes on 2 CPU cores, the first results after about 30 s"

cfg = settings()
st.title("mitoviz")
st.markdown(
    "Which image encoder should you trust for telling **mitotic figures from look-alikes**, with how many "
    "labels, and does it survive a new scanner or tumour type? mitoviz compares frozen foundation-model "
    "embeddings, fine-tuned encoders and an end-to-end CNN across label budgets and domains, says which "
    "differences are real, and shows you the cells each model gets wrong."
)

left, right = st.columns([3, 2], gap="large")
card = left.container(border=True)  # its buttons come last: they need the demo's identity, the rest does not
card.markdown("#### One-click demo")
card.markdown(
    "Generates the built-in **synthetic** H&E set (MIDOG format, three simulated scanners, two tumour types) and "
    "benchmarks the encoders that need no weights against an end-to-end CNN: four label budgets, three seeds, "
    "pooled and cross-scanner. Results appear while it runs."
)
datasets, encoders = catalogue(cfg)
runs = ResultsStore(cfg.results_dir).listing()

with right:
    a, b, c = st.columns(3)
    a.metric("Data sets found", f"{sum(d.ready for d in datasets)} / {len(datasets)}")
    b.metric("Encoders ready", f"{sum(e.available for e in encoders)} / {len(encoders)}")
    c.metric("Stored runs", len(runs))
    pages.link(pages.NEW, "Set up a benchmark")
    st.caption(f"Home folder: `{cfg.home}` · data roots: " + ", ".join(f"`{r}`" for r in cfg.all_data_roots()))

st.subheader("Recent runs")
if runs:
    for row in runs[:RECENT]:
        target = pages.RUNS if row["status"] == "damaged" else pages.CURVES
        pages.link(target, run_label(row), ":material/inventory_2:" if target is pages.RUNS else None,
                   query_params={} if target is pages.RUNS else {"run": row["run_id"]},
                   help=f"{row['datasets']} · {row['encoders']}" if row["datasets"] else row["problem"] or None)
    if len(runs) > RECENT:
        pages.link(pages.RUNS, f"All {len(runs)} runs")
else:
    st.caption("No runs yet: start the demo above, or set up a benchmark.")

st.subheader("Data sets")
rows = []
for d in datasets:
    status = "ready" if d.ready else "annotations found, images missing" if d.found else "not found"
    rows.append({"data set": d.title, "name": d.name, "status": status,
                 "where / how to get it": str(d.path) if d.found else d.how_to_get})
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
             column_config={"where / how to get it": st.column_config.TextColumn(width="large")})

st.subheader("Encoders")
frame = pd.DataFrame(
    [{"encoder": e.title, "name": e.name, "family": e.family, "dim": e.dim,
      "weights": e.location if e.available else f"missing: {e.how_to_get}"} for e in encoders]
)
st.dataframe(frame, hide_index=True, width="stretch", column_config={"weights": st.column_config.TextColumn(width="large")})


@st.cache_resource(show_spinner=False)
def demo_spec():
    """The demo preset. Its module loads torch (seconds on a fresh server): asked for after the rest has drawn."""
    from mitoviz.experiment.spec import PRESETS

    return PRESETS["demo"]


def active_demo_job(spec_hash: str) -> dict | None:
    with user_errors():
        return active_job(cfg, spec_hash)
    return None


def start_demo() -> None:
    with user_errors():
        job, _ = submit(demo_spec(), cfg)
        pages.switch(pages.JOBS, {"job": job["id"]})


spec = demo_spec()
done = [r for r in runs if r["status"] == "complete" and r["spec_hash"] == spec.spec_hash()]  # newest first
running = active_demo_job(spec.spec_hash())
took = done[0]["seconds"] if done else None
with card:
    st.caption(f":material/timer: It took {duration(took)} on this machine last time." if took
               else f":material/timer: It takes {DEMO_TIME}.")
    if running:
        st.info(f"The demo is {running['state']} (job {running['id']}).", icon=":material/progress_activity:")
    row = st.container(horizontal=True, vertical_alignment="center")
    if running:
        if row.button("Watch the demo run", type="primary", icon=":material/pending_actions:"):
            pages.switch(pages.JOBS, {"job": running["id"]})
        if running.get("run_id"):
            pages.link(pages.CURVES, "Results so far", container=row, query_params={"run": running["run_id"]})
    elif done:
        if row.button("Open the demo results", type="primary", icon=":material/show_chart:"):
            pages.switch(pages.CURVES, {"run": done[0]["run_id"]})
        if st.session_state.get("confirm_demo"):
            st.warning(f"**The demo already ran** ({done[0]['created']}). Running it again starts an identical "
                       "job: the same data, encoders and seeds, so the same results (a little faster: the "
                       "embeddings are cached). Run it anyway?", icon=":material/content_copy:")
            with st.container(horizontal=True):
                if st.button("Yes, run it again", icon=":material/replay:"):
                    st.session_state.pop("confirm_demo", None)
                    start_demo()
                st.button("No, keep these results", on_click=st.session_state.pop, args=("confirm_demo", None))
        else:
            row.button("Run the demo again", icon=":material/replay:", on_click=st.session_state.__setitem__,
                       args=("confirm_demo", True), help="Asks first: it would start an identical job.")
    elif row.button("Run the demo", type="primary", icon=":material/play_arrow:"):
        start_demo()
