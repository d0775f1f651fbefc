import tempfile
from pathlib import Path

import pandas as pd
import streamlit as st

from mitoviz.errors import MitovizError
from mitoviz.experiment.bundle import export_bundle
from mitoviz.results import ResultsStore
from mitoviz.ui.widgets import settings, show_error, user_errors

cfg = settings()
store = ResultsStore(cfg.results_dir)
st.title("Runs & bundles")
st.caption(
    "A bundle is one file with a run's results, embedding maps and the cell images its galleries need: compute "
    "on a GPU server, then show the results on a laptop without the data set."
)

runs = store.listing()
if runs:
    frame = pd.DataFrame(runs)
    st.dataframe(frame[["run_id", "name", "status", "created", "datasets", "encoders", "fits", "synthetic", "imported"]],
                 hide_index=True, width="stretch")
else:
    st.caption("No stored runs.")

left, right = st.columns(2, gap="large")
with left, st.container(border=True):
    st.markdown("#### Export")
    if runs:
        run_id = st.selectbox("Run", [r["run_id"] for r in runs], key="export_run")
        if st.button("Build bundle", icon=":material/archive:"):
            with st.spinner("Collecting results and cell images…"), user_errors():
                target = Path(tempfile.mkdtemp(prefix="mitoviz-bundle-"))
                st.session_state["bundle"] = (run_id, export_bundle(run_id, target, cfg))
        built = st.session_state.get("bundle")
        if built and built[0] == run_id and built[1].exists():
            st.download_button(f"Download {built[1].name} ({built[1].stat().st_size / 1e6:.1f} MB)",
                               built[1].read_bytes(), built[1].name, "application/zip", icon=":material/download:",
                               on_click="ignore")
        st.divider()
        doomed = st.selectbox("Delete a run", [r["run_id"] for r in runs], index=None, placeholder="choose a run")
        if doomed and st.button(f"Delete {doomed}", type="secondary", icon=":material/delete:"):
            try:
                store.delete(doomed)
                st.rerun()
            except MitovizError as exc:
                show_error(exc)
    else:
        st.caption("Nothing to export yet.")

with right, st.container(border=True):
    st.markdown("#### Import")
    upload = st.file_uploader("Results bundle (.mitoviz.zip)", type=["zip"])
    if upload is not None and st.button("Import", icon=":material/unarchive:"):
        with user_errors():
            run = store.import_bundle(upload.getvalue())
            st.success(f"Imported as run {run.run_id}.")
            st.page_link("views/curves.py", label="Open its results", query_params={"run": run.run_id},
                         icon=":material/show_chart:")
