"""Results bundles: a run plus the cell images its galleries need, in one file.

Export where the data set is (e.g. a GPU server); import anywhere (a laptop without the data).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from mitoviz.config import Settings
from mitoviz.data.patches import PatchReader, PatchSettings
from mitoviz.errors import PatchError
from mitoviz.evaluate.decision import predicted_positive
from mitoviz.files import write_atomic
from mitoviz.results import BUNDLE_SUFFIX, CONTEXT_EXTENT, CONTEXT_PX, PATCH_PX, ResultsStore, Run
from mitoviz.results.faults import storage_error

MAX_PATCHES = 20_000
MAX_CONTEXTS = 2_000


def _jpeg(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="JPEG", quality=88)
    return buf.getvalue()


def wrong_counts(run: Run) -> pd.Series:
    """How many fits got each test cell wrong (threshold 0.5), by cell index."""
    cells = run.cells()
    positive = run.manifest().get("positive_label")
    preds = run.predictions(["cell", "prob"])
    if preds.empty:
        return pd.Series(dtype=int)
    truth = (cells["label"].to_numpy() == positive)[preds["cell"].to_numpy()]
    wrong = predicted_positive(preds["prob"].to_numpy()) != truth
    return pd.Series(wrong.astype(int), index=preds["cell"].to_numpy()).groupby(level=0).sum()


def render_patches(run: Run, max_patches: int = MAX_PATCHES, max_contexts: int = MAX_CONTEXTS) -> dict[str, int]:
    """Write cell patches (most often misclassified first) and context crops into the run folder."""
    cells = run.cells()
    spec = run.manifest().get("spec", {})
    settings = PatchSettings(int(spec.get("patch_size", 224)), spec.get("mpp"))
    wrong = wrong_counts(run).reindex(cells["cell"], fill_value=0)
    order = np.argsort(-wrong.to_numpy(), kind="stable")[:max_patches]
    written = {"patches": 0, "contexts": 0, "unreadable": 0}
    with PatchReader() as reader:
        for rank, i in enumerate(order):
            row = cells.iloc[i]
            try:
                pixels = reader.read(row["image"], row["x"], row["y"], settings, PATCH_PX)
                write_atomic(run.patch_path(int(row["cell"])), _jpeg(pixels))
                written["patches"] += 1
                if rank < max_contexts and wrong.iloc[i] > 0:
                    crop, _ = reader.context(row["image"], row["x"], row["y"], CONTEXT_EXTENT, CONTEXT_PX)
                    write_atomic(run.patch_path(int(row["cell"]), context=True), _jpeg(crop))
                    written["contexts"] += 1
            except PatchError:
                written["unreadable"] += 1
    return written


def export_bundle(run_id: str, target: Path, settings: Settings) -> Path:
    """Render the gallery images (when the data is here) and zip the run into ``target``."""
    store = ResultsStore(settings.results_dir)
    run = store.get(run_id)
    if not run.manifest().get("imported_from"):
        run.update_manifest(bundle_images=render_patches(run))
    return store.export_bundle(run_id, target)


def export_for_download(run_id: str, settings: Settings) -> Path:
    """:func:`export_bundle` into the home's exports folder, replacing the bundle built there before."""
    try:
        settings.exports_dir.mkdir(parents=True, exist_ok=True)
        for old in settings.exports_dir.glob(f"*{BUNDLE_SUFFIX}"):
            old.unlink(missing_ok=True)
    except OSError as exc:
        raise storage_error(exc, settings.exports_dir, "prepare") from exc
    return export_bundle(run_id, settings.exports_dir, settings)
