import pandas as pd
import streamlit as st

from mitoviz.report import (
    axis_name,
    budget_order,
    cell_predictions,
    disagreement_patterns,
    disagreements,
    misclassified,
    n_tested,
    pattern_cells,
    present_axes,
    protocol_order,
    result_axes,
    select_fits,
    train_domains,
)
from mitoviz.ui.data import predictions
from mitoviz.ui.gallery import cell_images
from mitoviz.ui.widgets import open_results

PAGE_SIZE = 12
COLUMNS = 3

cfg, run, data = open_results("Failure cases")
if data.fits.empty:
    st.info("This run has no finished fits yet.")
    st.stop()

c1, c2, c3, c4 = st.columns(4)
protocol = c1.selectbox("Protocol", protocol_order(data.fits))
in_protocol = select_fits(data.fits, protocol=protocol)
train_domain = c2.selectbox("Trained on", train_domains(in_protocol, protocol))
budgets = budget_order(in_protocol)
budget = c3.selectbox("Label budget", budgets, index=len(budgets) - 1)
seed = c4.selectbox("Seed", sorted(in_protocol["seed"].unique()))
same = select_fits(in_protocol, train_domain=train_domain, budget=budget, seed=seed)
preds = cell_predictions(predictions(cfg, run, same["fit_id"].tolist()), same, data.cells, data.positive)
if preds.empty:
    st.info("No predictions for this choice.")
    st.stop()
methods = sorted(preds["label"].unique())
axes = present_axes(preds, result_axes(data.table))


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
                st.markdown(" · ".join([f"**{row['truth']}**", *(str(row[a]) for a in axes)]))
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


errors_tab, compare_tab = st.tabs(["Misclassified cells", "Frozen vs trained methods"])
with errors_tab:
    f1, f2, *filter_columns = st.columns(2 + len(axes))
    method = f1.selectbox("Method", methods)
    errors = {"both": "both", f"missed {data.positive}": "missed",
              f"called {data.positive} wrongly": "false positive"}
    kind = f2.selectbox("Error", list(errors))
    filters = {a: col.multiselect(axis_name(a).capitalize(), sorted(preds[a].dropna().unique()))
               for a, col in zip(axes, filter_columns, strict=True)}
    confidence = st.slider("Confidence of the wrong answer", 0.5, 1.0, (0.5, 1.0), 0.05)
    wrong = misclassified(preds, method, errors[kind], filters, confidence)
    n_test = n_tested(preds, method)
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
        st.info("This comparison needs both frozen encoders and a trained method (end-to-end CNN, LoRA or "
                "fine-tuning) in the run.")
    else:
        choice = st.radio("Show", disagreement_patterns(preds), horizontal=True)
        counts = pattern["pattern"].value_counts()
        st.caption(" · ".join(f"{k}: {v} cells" for k, v in counts.items()))
        rows = pattern_cells(preds, pattern, choice)
        if rows.empty:
            st.success("No cells in this group.")
        else:
            cards(rows.head(PAGE_SIZE), preds, "compare")
