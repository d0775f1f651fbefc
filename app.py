"""mitoviz: which image encoder to trust for mitotic figure classification."""

import streamlit as st

from mitoviz.errors import MitovizError
from mitoviz.jobs import job_store
from mitoviz.ui.widgets import JOBS_PAGE, settings

st.set_page_config(page_title="mitoviz", page_icon=":material/biotech:", layout="wide")

pages = {
    "Start": [
        st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("views/new_benchmark.py", title="New benchmark", icon=":material/add_circle:"),
        st.Page("views/jobs.py", title="Jobs", icon=":material/pending_actions:"),
    ],
    "Results": [
        st.Page("views/curves.py", title="Accuracy vs labels", icon=":material/show_chart:"),
        st.Page("views/domains.py", title="Domain shift", icon=":material/grid_on:"),
        st.Page("views/embeddings.py", title="Embedding maps", icon=":material/scatter_plot:"),
        st.Page("views/failures.py", title="Failure cases", icon=":material/image_search:"),
    ],
    "Manage": [
        st.Page("views/runs.py", title="Runs & bundles", icon=":material/inventory_2:"),
    ],
}
page = st.navigation(pages)
cfg = settings()


@st.fragment(run_every=3)
def jobs_badge() -> None:
    """Running and queued jobs, refreshed every few seconds on every page. Whatever is wrong with the job store
    (damaged, unreadable, a full disk, records that are not JSON), the badge says so and the page still renders."""
    try:
        store = job_store(cfg)
        try:
            counts = store.summary()
        finally:
            store.close()
    except Exception as exc:  # nothing the job store does may take a page down
        what = exc.what if isinstance(exc, MitovizError) else f"{type(exc).__name__}: {exc}"
        st.page_link(JOBS_PAGE, label="Job store needs attention", icon=":material/warning:", help=what)
        return
    running, queued = counts.get("running", 0), counts.get("queued", 0) + counts.get("interrupted", 0)
    if running or queued:
        st.page_link(JOBS_PAGE, label=f"{running} running · {queued} queued", icon=":material/progress_activity:")
    else:
        st.caption("No jobs running")


with st.sidebar:
    jobs_badge()
page.run()
