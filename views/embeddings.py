import numpy as np
import pandas as pd
import streamlit as st

from mitoviz.evaluate.summary import cell_predictions
from mitoviz.ui.charts import embedding_map
from mitoviz.ui.data import predictions, projections
from mitoviz.ui.gallery import cell_images, image_grid
from mitoviz.ui.widgets import open_results

COLOURS = {"scanner": "scanner", "tumor_type": "tumour type", "truth": "label", "correctness": "correct under a budget",
           "agreement": "rater agreement"}
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
colour = c3.selectbox("Colour by", list(COLOURS), format_func=COLOURS.get)

cells = data.cells.rename(columns={"label": "truth"})
points = maps.merge(cells[["cell", "cell_id", "truth", "scanner", "tumor_type", "agreement", "slide"]], on="cell")

if colour == "correctness":
    probe_fits = data.fits[(data.fits["kind"] == "probe") & (data.fits["protocol"] == "pooled")]
    d1, d2, d3 = st.columns(3)
    budget = d1.selectbox("Budget", data.budgets(), index=len(data.budgets()) - 1)
    seed = d2.selectbox("Seed", sorted(data.fits["seed"].unique()))
    classifier = d3.selectbox("Classifier", sorted(probe_fits["classifier"].unique()))
    chosen = probe_fits[(probe_fits["budget"] == budget) & (probe_fits["seed"] == seed)
                        & (probe_fits["classifier"] == classifier) & (probe_fits["method"].isin([first, second]))]
    preds = cell_predictions(predictions(cfg, run, chosen["fit_id"].tolist()), chosen, data.cells, data.positive)
    verdict = preds.assign(correctness=np.where(preds["correct"], "correct", "wrong"))[["cell", "label", "correctness"]]
    verdict["encoder"] = verdict["label"].str.split(" · ").str[0]
    points = points.merge(verdict[["cell", "encoder", "correctness"]], on=["cell", "encoder"], how="left")
    points["correctness"] = points["correctness"].fillna("not in the test set")
    st.caption("Pooled protocol. Cells outside this seed's test set were used for training or held out.")
elif colour == "agreement" and points["agreement"].isna().all():
    st.info("This data set has no per-rater votes, so there is no agreement to colour by.")

total = int(points["encoder"].eq(first).sum())
limit = st.slider("Points drawn per map", 1000, max(1000, total), min(total, 20_000), step=1000,
                  help="Maps with tens of thousands of points stay responsive: points are drawn on a canvas and sent "
                       "as Arrow. Lower this on slow machines; the sample is random but fixed.") if total > 1000 else total


def draw(encoder: str, column) -> pd.DataFrame:
    frame = points[points["encoder"] == encoder]
    if len(frame) > limit:
        frame = frame.sample(limit, random_state=0)
    method = frame["method"].iloc[0].upper() if len(frame) else ""
    with column:
        event = st.altair_chart(embedding_map(frame, colour, f"{encoder} ({method})"), on_select="rerun",
                                key=f"map-{encoder}", width="stretch")
    box = (event.selection.get("brush") or {}) if event else {}
    if not box or "u" not in box:
        return frame.iloc[0:0]
    (u0, u1), (v0, v1) = box["u"], box["v"]
    return frame[frame["u"].between(u0, u1) & frame["v"].between(v0, v1)]


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
    rows = data.cells.set_index("cell").loc[shown["cell"]].reset_index()
    captions = [f"{r.label} · {r.scanner}" for r in rows.itertuples()]
    image_grid(cell_images(run, rows), captions)
