import pandas as pd
import streamlit as st

from mitoviz.report import cell_predictions, maps, method_labels, result_axes
from mitoviz.ui.data import predictions, projections
from mitoviz.ui.gallery import cell_images, image_grid, notes_caption
from mitoviz.ui.maps import embedding_map
from mitoviz.ui.widgets import open_results

PAGE_SIZE = 24

cfg, run, data = open_results("Embedding maps")
projected = projections(cfg, run)
if projected.empty:
    st.info("This run has no embedding maps yet: they are computed after the last encoder finishes.")
    st.stop()

# A map's ``encoder`` is the method whose features it shows (``uni``, ``uni+lora``, ``e2e-resnet18`` …).
named = data.fits.drop_duplicates("method")
labels = dict(zip(named["method"], method_labels(named), strict=True))
encoders = maps.map_order(projected["encoder"].astype(str).unique(), dict(zip(named["method"], named["kind"],
                                                                              strict=True)))
c1, c2, c3, c4 = st.columns([3, 3, 3, 2])
first = c1.selectbox("Features of", encoders, format_func=lambda e: labels.get(e, e),
                     help="A frozen encoder's embeddings, or a trained method's own features where the run stores them.")
second = c2.selectbox("Side by side with", ["(none)", *[e for e in encoders if e != first]],
                      format_func=lambda e: labels.get(e, e))
axes = result_axes(data.table)
colours = maps.map_colours(axes)
colour = c3.selectbox("Colour by", list(colours), format_func=colours.get)
shown = [first] if second == "(none)" else [first, second]
points = maps.map_points(projected, data.cells, axes)
total = int(points["encoder"].eq(first).sum())
limit = c4.slider("Points drawn per map", 1000, max(1000, total), min(total, 20_000), step=1000,
                  help="Maps with tens of thousands of points stay responsive: points are drawn on a canvas and sent "
                       "as Arrow. Lower this on slow machines; the sample is random but fixed.") if total > 1000 else total

if colour == "correctness":
    d1, d2, d3 = st.columns(3)
    budgets = data.budgets()
    budget = d1.selectbox("Budget", budgets, index=len(budgets) - 1)
    seed = d2.selectbox("Seed", sorted(data.fits["seed"].unique()))
    probes = data.fits[data.fits["method"].isin(shown) & (data.fits["kind"] == "probe")]
    several = sorted(probes["classifier"].unique()) if probes["classifier"].nunique() > 1 else []
    classifier = d3.selectbox("Probe classifier", several) if several else None
    chosen = maps.map_fits(data.fits, shown, budget, seed, classifier)
    preds = cell_predictions(predictions(cfg, run, chosen["fit_id"].tolist()), chosen, data.cells, data.positive)
    points = maps.map_correctness(points, preds)
    st.caption("Pooled protocol: each map's own method at this budget and seed. Grey cells were not in that "
               "seed's test set (used for training or held out).")
elif colour == "agreement_level" and points["agreement"].isna().all():
    st.info("This data set has no per-rater votes, so there is no agreement to colour by.")



def draw(encoder: str, column) -> pd.DataFrame:
    frame = maps.map_sample(points, encoder, limit)
    how = str(frame["method"].iloc[0]).upper() if len(frame) else ""
    with column:
        chart = embedding_map(frame, colour, f"{labels.get(encoder, encoder)} · {how}", colours[colour], axes=axes)
        event = st.altair_chart(chart, on_select="rerun", key=f"map-{encoder}", width="stretch")
    box = ((event or {}).get("selection") or {}).get("brush") or {}
    if "u" not in box or "v" not in box:
        return frame.iloc[0:0]
    return maps.in_box(frame, box["u"], box["v"])


st.space("small")  # room for a map's toolbar, so it never covers the controls above
columns = st.columns(len(shown), border=True)
picked = pd.concat([draw(e, c) for e, c in zip(shown, columns, strict=True)]).drop_duplicates("cell")

st.subheader("Selected cells")
if picked.empty:
    st.caption("Drag a rectangle on a map to see the cells inside it.")
else:
    present = [a for a in axes if a in picked.columns and picked[a].nunique() > 0]
    s1, s2 = st.columns([1, 3], vertical_alignment="bottom")
    over = s1.selectbox("Balance the sample over", present or ["(label only)"], format_func=lambda a: colours.get(a, a),
                        help="Each page shows cells of every class and of every value of this axis in the selection, "
                             "in proportion to their counts (at least one of each).")
    by = ["truth", *([over] if over in present else [])]
    ordered = maps.stratified_order(picked, by)
    pages = maps.n_pages(len(ordered), PAGE_SIZE)
    with s2:
        page = st.pagination(pages, key=f"brush-page-{len(picked)}-{int(picked['cell'].sum())}") if pages > 1 else 1
    st.caption(maps.selection_summary(picked, present, page, PAGE_SIZE, by))
    rows = maps.cell_rows(data.cells, maps.page_of(ordered, page, PAGE_SIZE, "truth")["cell"])
    images = cell_images(run, rows)
    image_grid(images, [" · ".join(str(r[c]) for c in ["label", *by[1:]]) for _, r in rows.iterrows()])
    notes_caption(images)
