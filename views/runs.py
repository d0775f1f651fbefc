import pandas as pd
import streamlit as st

from mitoviz.errors import MitovizError
from mitoviz.experiment.bundle import export_for_download
from mitoviz.results import ResultsStore
from mitoviz.ui import pages
from mitoviz.ui.widgets import settings, show_error, user_errors

cfg = settings()
store = ResultsStore(cfg.results_dir)
st.title("Runs & bundles")
st.caption(
    "A bundle is one file with a run's results, embedding maps and the cell images its galleries need: compute "
    "on a GPU server, then show the results on a laptop without the data set."
)


def _act(action: str, run_id: str, reason: str = "") -> None:
    try:
        if action == "aside":
            st.session_state["runs_note"] = f"Run {run_id} was moved to {store.move_aside(run_id, reason=reason)}."
        else:
            store.delete(run_id)
            st.session_state["runs_note"] = f"Run {run_id} was deleted."
    except MitovizError as exc:
        st.session_state["runs_error"] = exc


if err := st.session_state.pop("runs_error", None):
    show_error(err)
if note := st.session_state.pop("runs_note", None):
    st.success(note, icon=":material/check:")

runs = store.listing()
if runs:
    frame = pd.DataFrame(runs)
    frame["fits"] = [f"{r['fits']:,} / {r['planned']:,}" if r["planned"] else f"{r['fits']:,}" for r in runs]
    frame["tags"] = [", ".join(tag for tag in ("synthetic", "imported") if r[tag]) for r in runs]
    st.dataframe(frame[["run_id", "name", "status", "fits", "datasets", "encoders", "tags"]], hide_index=True,
                 width="stretch", column_config={"run_id": st.column_config.TextColumn("run id"),
                                                 "fits": st.column_config.TextColumn(help="landed / planned")})
else:
    st.caption("No stored runs.")

for row in runs:
    if row["status"] == "damaged":
        with st.container(border=True):
            st.error(f"**{row['problem']}**", icon=":material/broken_image:")
            st.button(f"Move {row['run_id']} aside", key=f"aside-{row['run_id']}", icon=":material/move_item:",
                      on_click=_act, args=("aside", row["run_id"], row["problem"]),
                      help="Moves the run folder into <home>/quarantine/<timestamp>/; nothing is deleted.")
    elif row["status"] == "interrupted":
        st.warning(f"Run **{row['name']}** ({row['run_id']}) was interrupted: {row['problem']}.",
                   icon=":material/warning:")

healthy = [r for r in runs if r["status"] != "damaged"]
left, right = st.columns(2, gap="large")
with left, st.container(border=True):
    st.markdown("#### Export")
    if healthy:
        run_id = st.selectbox("Run", [r["run_id"] for r in healthy], key="export_run")
        if st.button("Build bundle", icon=":material/archive:"):
            with st.spinner("Collecting results and cell images…"), user_errors():
                st.session_state["bundle"] = (run_id, export_for_download(run_id, cfg))
        built = st.session_state.get("bundle")
        if built and built[0] == run_id and built[1].exists():
            st.download_button(f"Download {built[1].name} ({built[1].stat().st_size / 1e6:.1f} MB)",
                               built[1].read_bytes, built[1].name, "application/zip", icon=":material/download:",
                               on_click="ignore")
    else:
        st.caption("Nothing to export yet.")
    if runs:
        st.divider()
        doomed = st.selectbox("Delete a run", [r["run_id"] for r in runs if r["status"] != "running"], index=None,
                              placeholder="choose a run", help="A running run is deleted after its job is cancelled.")
        if doomed:
            st.button(f"Delete {doomed}", type="secondary", icon=":material/delete:", on_click=_act,
                      args=("delete", doomed))

with right, st.container(border=True):
    st.markdown("#### Import")
    upload = st.file_uploader("Results bundle (.mitoviz.zip)", type=["zip"])
    if upload is not None and st.button("Import", icon=":material/unarchive:"):
        with user_errors():
            run = store.import_bundle(upload.getvalue())
            st.success(f"Imported as run {run.run_id}.")
            pages.link(pages.CURVES, "Open its results", query_params={"run": run.run_id})
