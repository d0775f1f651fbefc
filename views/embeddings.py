import pandas as pd
import streamlit as st

from mitoviz.report import (
    cell_predictions,
    cell_rows,
    in_box,
    map_colours,
    map_correctness,
    map_points,
    map_sample,
    result_axes,
    select_fits,
)
from mitoviz.ui.charts import embedding_map
from mitoviz.ui.data import predictions, projections
from mitoviz.ui.gallery import cell_images, image_grid
from mitoviz.ui.widgets import open_results

MAX_SELECTED = 24

cfg, run, data = open_results("Embedding maps")
maps = projections(cfg, run)
if maps.empty:
    st.info("This run has no embedding maps yet: they are computed after the last encoder finishes.")
    st.stop()

encoders = sorted(maps["encoder"].unique())
c1, c2, c3 = st.columns(3)
first = c1.selectbox("Encoder", encoders)
second = c2.selectbox("Side by side with", ["(none)", *[e for e in encoders if e != first]])
axes = result_axes(data.table)
colours = map_colours(axes)
colour = c3.selectbox("Colour by", list(colours), format_func=colours.get)

points = map_points(maps, data.cells, axes)

if colour == "correctness":
    probe_fits = select_fits(data.fits, kind="probe", protocol="pooled")
    d1, d2, d3 = st.columns(3)
    budget = d1.selectbox("Budget", data.budgets(), index=len(data.budgets()) - 1)
    seed = d2.selectbox("Seed", sorted(data.fits["seed"].unique()))
    classifier = d3.selectbox("Classifier", sorted(probe_fits["classifier"].unique()))
    chosen = select_fits(probe_fits, budget=budget, seed=seed, classifier=classifier, method=[first, second])
    preds = cell_predictions(predictions(cfg, run, chosen["fit_id"].tolist()), chosen, data.cells, data.positive)
    points = map_correctness(points, preds)
    st.caption("Pooled protocol. Cells outside this seed's test set were used for training or held out.")
elif colour == "agreement" and points["agreement"].isna().all():
    st.info("This data set has no per-rater votes, so there is no agreement to colour by.")

total = int(points["encoder"].eq(first).sum())
limit = st.slider("Points drawn per map", 1000, max(1000, total), min(total, 20_000), step=1000,
                  help="Maps with tens of thousands of points stay responsive: points are drawn on a canvas and sent "
                       "as Arrow. Lower this on slow machines; the sample is random but fixed.") if total > 1000 else total


def draw(encoder: str, column) -> pd.DataFrame:
    frame = map_sample(points, encoder, limit)
    method = frame["method"].iloc[0].upper() if len(frame) else ""
    with column:
        event = st.altair_chart(embedding_map(frame, colour, f"{encoder} ({method})", axes=axes), on_select="rerun",
                                key=f"map-{encoder}", width="stretch")
    box = (event.selection.get("brush") or {}) if event else {}
    if not box or "u" not in box:
        return frame.iloc[0:0]
    return in_box(frame, box["u"], box["v"])


columns = st.columns(2) if second != "(none)" else [st.container()]
selected = [draw(first, columns[0])]
if second != "(none)":
    selected.append(draw(second, columns[1]))
picked = pd.concat(selected).drop_duplicates("cell")

st.subheader("Selected cells")
if picked.empty:
    st.caption("Drag a rectangle on a map to see the cells inside it.")
else:
    st.caption(f"{len(picked)} cells selected" + (f"; showing {MAX_SELECTED}" if len(picked) > MAX_SELECTED else ""))
    shown = picked.head(MAX_SELECTED)
    rows = cell_rows(data.cells, shown["cell"])
    captions = [" · ".join(str(r[c]) for c in ["label", *axes[:1]]) for _, r in rows.iterrows()]
    image_grid(cell_images(run, rows), captions)
