import streamlit as st

from mitoviz.report import (
    RATER_FILTERS,
    axis_name,
    best_method,
    budget_order,
    cell_predictions,
    disagreement_patterns,
    disagreements,
    has_votes,
    misclassified,
    n_tested,
    pattern_cells,
    present_axes,
    protocol_order,
    rater_mask,
    result_axes,
    select_fits,
    train_domains,
)
from mitoviz.report.cells import decision_note, degenerate_methods, negative_name
from mitoviz.report.maps import n_pages, page_of
from mitoviz.ui.agreement import agreement_section
from mitoviz.ui.data import predictions
from mitoviz.ui.gallery import Cards, context_reason, show_cards
from mitoviz.ui.widgets import open_results

PAGE_SIZE = 12

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
point = select_fits(in_protocol, train_domain=train_domain, budget=budget)
same = select_fits(point, seed=seed)
preds = cell_predictions(predictions(cfg, run, same["fit_id"].tolist()), same, data.cells, data.positive)
if preds.empty:
    st.info("No predictions for this choice.")
    st.stop()
methods = sorted(preds["label"].unique())
best = best_method(data.table, protocol=protocol, train_domain=train_domain, budget=budget)
axes = present_axes(preds, result_axes(data.table))
negative = negative_name(data.cells["label"], data.positive)
cards = Cards(run, preds, axes, data.positive, negative, list(data.cells.columns))
votes = has_votes(data.cells)
no_context = context_reason(data.cells)
if constant := degenerate_methods(preds):
    st.warning(f"**{', '.join(constant)}** predicted one class for every test cell at {budget}, seed {seed} (a constant, "
               "not a classifier): its errors are simply every cell of the other class.", icon=":material/warning:")


def context_toggle(key: str) -> bool:
    """"Show tissue context", off with its reason where the data set has no slide around its cells."""
    shown = st.toggle("Show tissue context", key=f"ctx-{key}", disabled=bool(no_context),
                      help=no_context or "A wider crop of the slide around each cell; green: the patch the models saw.")
    if no_context:
        st.caption(f"Tissue context is off: {no_context}")
    return shown


errors_tab, agreement_tab, compare_tab = st.tabs(
    ["Misclassified cells", "Errors by rater agreement", "Frozen vs trained methods"])
with errors_tab:
    f1, f2, f3, *filter_columns = st.columns([2.2, 1.6, 2.0, *[1.4] * len(axes)])
    method = f1.selectbox("Method", methods, index=methods.index(best) if best in methods else 0,
                          help=f"Opens on {best}, the best method at {budget} by balanced accuracy (mean over seeds)."
                          if best else None)
    errors = {"both": "both", f"missed {data.positive}": "missed", f"called {data.positive} wrongly": "false positive"}
    kind = f2.selectbox("Error", list(errors))
    raters = f3.selectbox("Raters", RATER_FILTERS, disabled=not votes,
                          help="Raters split: the consensus got two thirds of the votes or fewer. All raters agree, "
                               "every method wrong: a clear cell that every method shown called wrongly."
                          if votes else "This data set has no per-rater votes.")
    filters = {a: col.multiselect(axis_name(a).capitalize(), sorted(preds[a].dropna().unique()))
               for a, col in zip(axes, filter_columns, strict=True)}
    confidence = st.slider("Confidence of the wrong answer", 0.5, 1.0, (0.5, 1.0), 0.05,
                           help=f"How sure the method was of its wrong call: P({data.positive}) for a wrong "
                                f"{data.positive} call, 1 − P for a missed one.")
    keep = rater_mask(preds, raters) if votes else None
    wrong = misclassified(preds, method, errors[kind], filters, confidence, keep)
    st.caption(f"{len(wrong):,} wrong of {n_tested(preds, method):,} test cells for {method}"
               + (f" ({raters})" if votes and raters != RATER_FILTERS[0] else "") + ", most confidently wrong first.")
    context = context_toggle("errors")
    if wrong.empty:
        st.success("No misclassified cells match these filters.")
    else:
        n = n_pages(len(wrong), PAGE_SIZE)
        page = st.pagination(n, key=f"page-{method}-{kind}-{raters}-{len(wrong)}") if n > 1 else 1
        show_cards(cards, page_of(wrong, page, PAGE_SIZE), "errors", context)
        st.caption(decision_note(data.positive, negative))

with agreement_tab:
    if not votes:
        st.info("This data set has no per-rater votes, so error rates cannot be split by rater agreement. Data sets "
                "with votes: MIDOG (rater votes per cell), AMi-Br (three experts), AtNorM-MD (five experts).",
                icon=":material/how_to_vote:")
    else:
        every_seed = cell_predictions(predictions(cfg, run, point["fit_id"].tolist()), point, data.cells,
                                      data.positive)
        agreement_section(run, every_seed, point["fit_id"].tolist(), budget, data.labels())

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
            show_cards(cards, rows.head(PAGE_SIZE), "compare", context_toggle("compare"))
            st.caption(decision_note(data.positive, negative))
