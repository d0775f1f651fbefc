import pandas as pd
import streamlit as st

from mitoviz.evaluate.summary import cell_predictions, disagreements
from mitoviz.ui.data import predictions
from mitoviz.ui.gallery import cell_images
from mitoviz.ui.widgets import open_results

PAGE_SIZE = 12
COLUMNS = 3

cfg, run, data = open_results("Failure cases")
if data.fits.empty:
    st.info("This run has no finished fits yet.")
    st.stop()

fits = data.fits.assign(label=data.fits["method"].astype(str))
c1, c2, c3, c4 = st.columns(4)
protocols = sorted(fits["protocol"].unique(), key=lambda p: (p != "pooled", p))
protocol = c1.selectbox("Protocol", protocols)
in_protocol = fits[fits["protocol"] == protocol]
train_domain = c2.selectbox("Trained on", sorted(in_protocol["train_domain"].unique()))
budgets = [b for b in data.budgets() if b in set(in_protocol["budget"])]
budget = c3.selectbox("Label budget", budgets, index=len(budgets) - 1)
seed = c4.selectbox("Seed", sorted(in_protocol["seed"].unique()))
same = in_protocol[(in_protocol["train_domain"] == train_domain) & (in_protocol["budget"] == budget)
                   & (in_protocol["seed"] == seed)]
preds = cell_predictions(predictions(cfg, run, same["fit_id"].tolist()), same, data.cells, data.positive)
if preds.empty:
    st.info("No predictions for this choice.")
    st.stop()
methods = sorted(preds["label"].unique())


def votes(row: pd.Series) -> str:
    if isinstance(row.get("rater_votes"), str) and row["rater_votes"]:
        return row["rater_votes"].replace(";", " · ")
    return "no per-rater votes"


def cards(cells: pd.DataFrame, per_method: pd.DataFrame, key: str) -> None:
    """A grid of cards: patch, truth, votes, each method's probability; context on demand."""
    show_context = st.toggle("Show tissue context", key=f"ctx-{key}",
                             help="A wider crop from the slide, the cell outlined in green.")
    images = cell_images(run, cells, context=show_context)
    for start in range(0, len(cells), COLUMNS):
        cols = st.columns(COLUMNS)
        for col, (_, row), img in zip(cols, cells.iloc[start:start + COLUMNS].iterrows(), images[start:start + COLUMNS],
                                      strict=False):
            with col.container(border=True):
                st.image(img, width="stretch")
                st.markdown(f"**{row['truth']}** · {row['scanner']} · {row['tumor_type']}")
                st.caption(f"raters: {votes(row)}")
                probs = per_method[per_method["cell"] == row["cell"]][["label", "prob", "correct"]]
                st.dataframe(
                    probs.assign(ok=probs["correct"].map({True: "✓", False: "✗"}))
                    .drop(columns="correct").rename(columns={"label": "method", "prob": "P"}),
                    hide_index=True, width="stretch",
                    column_config={
                        "method": st.column_config.TextColumn(width=168),
                        "P": st.column_config.ProgressColumn("P", help=f"predicted probability of {data.positive}",
                                                             min_value=0.0, max_value=1.0, format="%.2f", width=78),
                        "ok": st.column_config.TextColumn("", help="✓ right, ✗ wrong", width=32),
                    },
                )
                st.caption(f"`{row['cell_id']}`")


errors_tab, compare_tab = st.tabs(["Misclassified cells", "Frozen encoders vs end-to-end CNN"])
with errors_tab:
    f1, f2, f3, f4 = st.columns(4)
    method = f1.selectbox("Method", methods)
    kind = f2.selectbox("Error", ["both", f"missed {data.positive}", f"called {data.positive} wrongly"])
    scanners = f3.multiselect("Scanner", sorted(preds["scanner"].dropna().unique()))
    tumours = f4.multiselect("Tumour type", sorted(preds["tumor_type"].dropna().unique()))
    confidence = st.slider("Confidence of the wrong answer", 0.5, 1.0, (0.5, 1.0), 0.05)
    wrong = preds[(preds["label"] == method) & ~preds["correct"]]
    if kind.startswith("missed"):
        wrong = wrong[wrong["is_positive"]]
    elif kind.startswith("called"):
        wrong = wrong[~wrong["is_positive"]]
    if scanners:
        wrong = wrong[wrong["scanner"].isin(scanners)]
    if tumours:
        wrong = wrong[wrong["tumor_type"].isin(tumours)]
    wrong = wrong[wrong["wrong_confidence"].between(*confidence)].sort_values("wrong_confidence", ascending=False)
    n_test = int((preds["label"] == method).sum())
    st.caption(f"{len(wrong)} wrong of {n_test} test cells for {method}, most confidently wrong first.")
    if wrong.empty:
        st.success("No misclassified cells match these filters.")
    else:
        pages = (len(wrong) - 1) // PAGE_SIZE + 1
        page = st.number_input("Page", 1, pages, 1) if pages > 1 else 1
        shown = wrong.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        cards(shown, preds, "errors")

with compare_tab:
    pattern = disagreements(preds)
    if pattern.empty:
        st.info("This comparison needs both frozen encoders and the end-to-end CNN in the run.")
    else:
        choice = st.radio("Show", ["frozen all wrong, CNN right", "CNN wrong, frozen all right"], horizontal=True)
        picked = pattern[pattern["pattern"] == choice]
        counts = pattern["pattern"].value_counts()
        st.caption(" · ".join(f"{k}: {v} cells" for k, v in counts.items()))
        if picked.empty:
            st.success("No cells in this group.")
        else:
            rows = preds[preds["cell"].isin(picked["cell"])].drop_duplicates("cell").head(PAGE_SIZE)
            cards(rows, preds, "compare")
