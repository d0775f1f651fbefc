"""mitoviz: which image encoder to trust for mitotic figure classification."""

import streamlit as st

from mitoviz.errors import MitovizError
from mitoviz.jobs import job_store
from mitoviz.ui import pages
from mitoviz.ui.widgets import settings

st.set_page_config(page_title="mitoviz", page_icon=":material/biotech:", layout="wide")
page = pages.navigation()
cfg = settings()


@st.fragment(run_every=3)
def jobs_badge() -> None:
    """Running and queued jobs, refreshed every few seconds on every page. Whatever is wrong with the job store
    (damaged, unreadable, a full disk, records that are not JSON), the badge says so and the page still renders."""
    try:
        with job_store(cfg) as store:
            counts = store.summary()
    except Exception as exc:  # nothing the job store does may take a page down
        what = exc.what if isinstance(exc, MitovizError) else f"{type(exc).__name__}: {exc}"
        pages.link(pages.JOBS, "Job store needs attention", ":material/warning:", help=what)
        return
    running, queued = counts.get("running", 0), counts.get("queued", 0) + counts.get("interrupted", 0)
    if running or queued:
        pages.link(pages.JOBS, f"{running} running · {queued} queued", ":material/progress_activity:")
    else:
        st.caption("No jobs running")


@st.cache_resource(show_spinner=False)
def warm_up() -> bool:
    """Load what planning, estimates and charts import (torch, scikit-learn, scipy, altair), once per server process
    and after the first page has drawn, so the next page a user opens does not wait seconds for them. In the script
    thread: importing those libraries from a second thread while a page imports them fails on their import cycles."""
    import altair  # noqa: F401

    import mitoviz.experiment.estimate
    import mitoviz.report  # noqa: F401

    return True


with st.sidebar:
    jobs_badge()
page.run()
warm_up()  # after the page has drawn: the next page a user opens finds torch and scikit-learn loaded
