from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from mitoviz.data.splits import CELL_SPLIT_WARNING, Budget
from mitoviz.errors import MitovizError
from mitoviz.jobs import submit
from mitoviz.ui import pages
from mitoviz.ui.planning import check, cost_rows, cost_warning, notes
from mitoviz.ui.widgets import catalogue, settings, show_error

if TYPE_CHECKING:
    from mitoviz.experiment.estimate import Estimate
    from mitoviz.experiment.plan import Plan
    from mitoviz.experiment.spec import ExperimentSpec

# Torch and scikit-learn load with the classifier names, the spec and the plan (imported where first needed, and
# usually already loaded by the app after the first page): the sections above them draw at once.


@st.cache_resource(show_spinner=False)
def classifier_names() -> list[str]:
    from mitoviz.evaluate.classifiers import list_classifiers

    return list_classifiers()


def plan_and_estimate(spec: ExperimentSpec, settings: object) -> tuple[Plan, Estimate]:
    from mitoviz.experiment.estimate import estimate_seconds
    from mitoviz.experiment.plan import prepare

    plan = prepare(spec, settings)
    return plan, estimate_seconds(plan, settings)


def duration(seconds: float) -> str:
    from mitoviz.experiment.estimate import duration as said

    return said(seconds)

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

presets, encoders = catalogue(cfg)
datasets = {d.name: d for d in presets}
ready = [n for n, d in datasets.items() if d.ready]
available = [e.name for e in encoders if e.available]
titles = {e.name: f"{e.title} ({e.dim}-d)" for e in encoders}
TUNABLE = {e.name for e in encoders if e.family != "handcrafted"}

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
classifiers = c3.multiselect("Classifiers", classifier_names(), default=["logreg"],
                             help="linear-probe: the UNI/FMC probe (L-BFGS, C = D·K/100); nielsen-*: power transform "
                                  "+ PCA first.")

st.subheader("3 · Trained methods and patches")
CNN_CHOICES = {"none": "No end-to-end CNN", "cpu-cnn": "CPU-sized CNN (a second per fit)",
               "fmc-cnn": "Published recipe: ResNet-50 (GPU)"}
c1, c2, c3 = st.columns(3)
cnn = c1.selectbox("End-to-end CNN", list(CNN_CHOICES), index=1, format_func=CNN_CHOICES.get,
                   help="The CPU-sized CNN is the demo's: a small network trained from scratch on 32 px crops, "
                        "minutes for a whole benchmark on a laptop. The published recipe (Ganz et al. 2025 / FMC) "
                        "trains an ImageNet ResNet-50 per fit on 224 px patches, pseudo-epochs of 1,280 patches: "
                        "hours on a CPU, minutes on a GPU.")
tunable = [e for e in chosen_encoders if e in TUNABLE]
lora = c2.multiselect("LoRA on", tunable, format_func=titles.get,
                      help="peft adapters on the transformer blocks (qkv, proj, fc1, fc2) and a linear head, "
                           "as Ammeling et al. 2025 (r 16, alpha 16, dropout 0.1) or the AMi-Br benchmark (r 8).")
recipe = c2.radio("LoRA recipe", ["fmc-lora", "amibr-lora"], horizontal=True, disabled=not lora,
                  format_func={"fmc-lora": "FMC (r 16)", "amibr-lora": "AMi-Br (r 8)"}.get)
finetune = c3.multiselect("Fine-tune fully", tunable, format_func=titles.get, help="Every weight trainable.")
epochs = c1.number_input("Epochs for trained methods (of their pseudo-epoch)", 1, 200, 20,
                         disabled=cnn != "fmc-cnn" and not lora and not finetune,
                         help="For the published CNN recipe, LoRA and fine-tuning (the CPU-sized CNN has its own). "
                              "The published recipes run 100; fewer is an approximation, said in the run's notes.")
patch_size = c3.number_input("Patch size (px, centred on the cell)", 32, 1024, 224, step=16)
name = c3.text_input("Name", "My benchmark")


def trained() -> list[dict]:
    methods = [] if cnn == "none" else [{"preset": cnn} if cnn == "cpu-cnn" else {"preset": cnn, "epochs": int(epochs)}]
    methods += [{"preset": recipe, "encoder": e, "epochs": int(epochs)} for e in lora]
    methods += [{"preset": "fmc-finetune", "encoder": e, "epochs": int(epochs)} for e in finetune]
    return methods


def build() -> ExperimentSpec:
    sources = list(chosen_data)
    if extra_path.strip():
        sources.append(str(cfg.resolve_user_path(extra_path.strip())))
    budgets = tuple(Budget.parse(b) for b in budget_text.replace(";", ",").split(",") if b.strip())
    try:
        seeds = tuple(int(s) for s in seeds_text.replace(";", ",").split(",") if s.strip())
    except ValueError as exc:
        raise MitovizError(f"Seeds must be whole numbers, got {seeds_text!r}.", "Write e.g. 0, 1, 2.") from exc
    from mitoviz.experiment.spec import ExperimentSpec

    return ExperimentSpec.from_dict({
        "name": name, "datasets": sources, "encoders": list(chosen_encoders),
        "budgets": [b.label for b in budgets], "classifiers": list(classifiers), "seeds": list(seeds),
        "split": split, "test_fraction": test_fraction, "protocols": list(protocols), "patch_size": int(patch_size),
        "on_budget_overflow": "cap" if cap else "error", "trained": trained(),
    })


st.subheader("4 · Check and launch")
try:
    spec = build()
except MitovizError as exc:
    show_error(exc)
    st.stop()
checked = check(spec, cfg, {n: d.path for n, d in datasets.items()}, plan_and_estimate)
if checked.error is not None:
    show_error(checked.error)
    st.stop()
plan, estimate = checked.plan, checked.estimate

size = plan.size()
a, b, c, d = st.columns(4)
a.metric("Cells", f"{size['cells']:,}")
b.metric("Classifier fits", f"{size['probe_fits']:,}")
c.metric("Trained fits", f"{size['trained_fits']:,}")
d.metric("Estimated time", estimate.label, help="A rough forecast from model sizes and trainable parameters on "
         f"this machine's device ({estimate.device}); trained methods dominate on a CPU. Cached embeddings make "
         "reruns faster.")
too_long = cost_warning(estimate, duration)
if too_long:
    st.warning(too_long, icon=":material/timer:")
for warning in estimate.warnings:
    st.warning(warning, icon=":material/memory:")
with st.expander("Cost by part" + (" (GPU memory per fit)" if estimate.memory_gb else ""), expanded=bool(too_long)):
    st.dataframe(pd.DataFrame(cost_rows(estimate, duration)), hide_index=True, width="stretch",
                 column_config={"share": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent")})
for line in notes(plan)[:6]:
    st.caption(f"Note: {line}")
if st.button("Launch", type="primary", icon=":material/rocket_launch:"):
    try:
        job, created = submit(spec, cfg)
    except MitovizError as exc:
        show_error(exc)
    else:
        pages.switch(pages.JOBS, {"job": job["id"]})
