"""mitoviz: which image encoder to trust for mitotic figure classification."""

import streamlit as st

from mitoviz.ui.widgets import jobs_badge, settings

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
jobs_badge(settings())
page.run()
