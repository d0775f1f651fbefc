import pandas as pd
import streamlit as st

from mitoviz.data.sources import dataset_status
from mitoviz.data.splits import CELL_SPLIT_WARNING, Budget
from mitoviz.encoders import encoder_status
from mitoviz.errors import MitovizError
from mitoviz.evaluate.classifiers import CLASSIFIERS
from mitoviz.experiment.estimate import estimate_seconds
from mitoviz.experiment.plan import prepare
from mitoviz.experiment.spec import PRESETS, E2ESpec, ExperimentSpec
from mitoviz.jobs import submit
from mitoviz.ui.widgets import JOBS_PAGE, settings, show_error

BUDGET_PRESETS = {
    "Ganz et al. 2025: 0.1 / 1 / 10 / 100 % of the training pool": "0.1%, 1%, 10%, 100%",
    "Nielsen et al. 2023: 1 … 1000 per class": "1, 5, 10, 25, 50, 100, 250, 500, 1000",
    "Quick: 2 / 8 / 24 / 64 per class": "2, 8, 24, 64",
    "Custom": "",
}
PROTOCOLS = {
    "pooled": "Pooled: train on all domains, test on each",
    "cross:scanner": "Train on one scanner, test on every scanner",
    "cross:tumor_type": "Train on one tumour type, test on every tumour type",
    "lodo:scanner": "Leave one scanner out",
    "lodo:tumor_type": "Leave one tumour type out",
}
SPLITS = {
    "slide": "Slide-level (no slide on both sides; recommended)",
    "cell": "Cell-level (reproduces the published protocol; leaks)",
    "predefined": "Predefined by the data set",
}

cfg = settings()
st.title("New benchmark")

datasets = {d.name: d for d in dataset_status(cfg)}
ready = [n for n, d in datasets.items() if d.ready]
encoders = encoder_status(cfg)
available = [e.name for e in encoders if e.available]
titles = {e.name: f"{e.title} ({e.dim}-d)" for e in encoders}

st.subheader("1 · Data and models")
c1, c2 = st.columns(2)
chosen_data = c1.multiselect("Data sets", ready, default=[n for n in ready if datasets[n].synthetic][:1] or ready[:1],
                             format_func=lambda n: datasets[n].title,
                             help="Only data sets found on disk are listed; the home page says how to get the others.")
extra_path = c1.text_input("…or the path of an annotation file or folder (under a data root)", "")
chosen_encoders = c2.multiselect("Encoders", available, default=[n for n in available if not n.startswith("dinov2")][:3],
                                 format_func=titles.get)
missing = [e for e in encoders if not e.available]
if missing:
    with c2.expander(f"{len(missing)} encoders need weights first"):
        st.dataframe(pd.DataFrame([{"encoder": e.title, "why": e.reason, "how to get it": e.how_to_get}
                                   for e in missing]), hide_index=True, width="stretch")

st.subheader("2 · Labels and splits")
c1, c2, c3 = st.columns(3)
budget_choice = c1.selectbox("Label budgets", list(BUDGET_PRESETS), index=2)
budget_text = c1.text_input("Budgets (per-class counts like 10, or fractions like 1%)",
                            BUDGET_PRESETS[budget_choice] or "5, 20, 100", disabled=budget_choice != "Custom")
cap = c1.checkbox("Cap budgets larger than a class", value=budget_choice.startswith("Nielsen"),
                  help="A budget larger than a class then takes the whole class and is marked as capped; "
                       "otherwise it is an error.")
split = c2.selectbox("Split", list(SPLITS), format_func=SPLITS.get)
if split == "cell":
    c2.warning(CELL_SPLIT_WARNING)
test_fraction = c2.slider("Test fraction", 0.1, 0.5, 0.2, 0.05, disabled=split == "predefined")
seeds_text = c2.text_input("Seeds", "0, 1, 2")
protocols = c3.multiselect("Protocols", list(PROTOCOLS), default=["pooled"], format_func=PROTOCOLS.get)
classifiers = c3.multiselect("Classifiers", list(CLASSIFIERS), default=["logreg"],
                             help="linear-probe: the UNI/FMC probe (L-BFGS, C = D·K/100); nielsen-*: power transform "
                                  "+ PCA first.")

st.subheader("3 · Baseline and patches")
c1, c2, c3 = st.columns(3)
use_e2e = c1.checkbox("End-to-end CNN baseline", value=True)
arch = c1.selectbox("CNN", ["resnet18", "resnet50"], help="ResNet-50 is the published baseline; ResNet-18 suits a CPU.",
                    disabled=not use_e2e)
epochs = c2.number_input("CNN epochs (of 1,280 patches)", 1, 200, 20, disabled=not use_e2e)
patch_size = c3.number_input("Patch size (px, centred on the cell)", 32, 1024, 224, step=16)
name = c3.text_input("Name", "My benchmark")


def build() -> ExperimentSpec:
    sources = list(chosen_data)
    if extra_path.strip():
        sources.append(str(cfg.resolve_user_path(extra_path.strip())))
    budgets = tuple(Budget.parse(b) for b in budget_text.replace(";", ",").split(",") if b.strip())
    try:
        seeds = tuple(int(s) for s in seeds_text.replace(";", ",").split(",") if s.strip())
    except ValueError as exc:
        raise MitovizError(f"Seeds must be whole numbers, got {seeds_text!r}.", "Write e.g. 0, 1, 2.") from exc
    e2e = E2ESpec(arch=arch, epochs=int(epochs), patience=max(3, int(epochs) // 5)) if use_e2e else None
    return ExperimentSpec.from_dict({
        **PRESETS["demo"].to_dict(), "name": name, "datasets": sources, "encoders": list(chosen_encoders),
        "budgets": [b.label for b in budgets], "classifiers": list(classifiers), "seeds": list(seeds),
        "split": split, "test_fraction": test_fraction, "protocols": list(protocols), "patch_size": int(patch_size),
        "on_budget_overflow": "cap" if cap else "error", "e2e": e2e.__dict__ if e2e else None,
    })


st.subheader("4 · Check and launch")
try:
    spec = build()
    plan = prepare(spec, cfg)
except MitovizError as exc:
    show_error(exc)
    st.stop()

size = plan.size()
a, b, c, d = st.columns(4)
a.metric("Cells", f"{size['cells']:,}")
b.metric("Classifier fits", f"{size['probe_fits']:,}")
c.metric("CNN trainings", f"{size['e2e_fits']:,}")
estimate = estimate_seconds(plan, cfg)
d.metric("Estimated time", estimate.label, help="A rough forecast from model sizes on this machine's device; the "
         "end-to-end CNN dominates on a CPU. Cached embeddings make reruns faster.")
for line in plan.warnings[:6]:
    st.caption(f"Note: {line}")
if st.button("Launch", type="primary", icon=":material/rocket_launch:"):
    try:
        job, created = submit(spec, cfg)
    except MitovizError as exc:
        show_error(exc)
    else:
        st.switch_page(JOBS_PAGE, query_params={"job": job["id"]})
