"""Per-cell tables for the failure gallery and the embedding maps.

A cell is predicted positive by :func:`mitoviz.evaluate.decision.predicted_positive`, the rule the
metrics use, so a cell the gallery marks wrong is one the metrics count as wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from mitoviz.evaluate.decision import predicted_positive
from mitoviz.report.methods import method_labels
from mitoviz.report.names import axis_name

FIT_COLUMNS = ["fit_id", "label", "method", "kind", "budget", "seed", "protocol", "train_domain"]
#: Kinds of error the gallery filters by.
ERRORS = ("both", "missed", "false positive")


def cell_predictions(
    predictions: pd.DataFrame, fits: pd.DataFrame, cells: pd.DataFrame, positive: str
) -> pd.DataFrame:
    """Predictions joined to cells and fits: truth, probability, correctness, confidence of the error."""
    described = fits.assign(label=method_labels(fits))[FIT_COLUMNS]
    out = predictions.merge(described, on="fit_id")
    out = out.merge(cells.rename(columns={"label": "truth"}), on="cell", how="left")
    out["is_positive"] = out["truth"] == positive
    out["predicted_positive"] = predicted_positive(out["prob"].to_numpy())
    out["correct"] = out["is_positive"] == out["predicted_positive"]
    out["wrong_confidence"] = np.where(out["is_positive"], 1 - out["prob"], out["prob"])
    return out


def misclassified(
    per_cell: pd.DataFrame,
    label: str,
    error: str = "both",
    filters: Mapping[str, Sequence[str]] | None = None,
    confidence: tuple[float, float] = (0.5, 1.0),
) -> pd.DataFrame:
    """One method's wrong cells, most confidently wrong first.

    ``error``: ``both``, ``missed`` (positive cells called negative) or ``false positive``;
    ``filters``: column → accepted values (an empty selection keeps every value); ``confidence``:
    the range of the wrong answer's confidence.
    """
    if error not in ERRORS:
        raise ValueError(f"error must be one of {ERRORS}, got {error!r}")
    wrong = per_cell[(per_cell["label"] == label) & ~per_cell["correct"]]
    if error == "missed":
        wrong = wrong[wrong["is_positive"]]
    elif error == "false positive":
        wrong = wrong[~wrong["is_positive"]]
    for column, values in (filters or {}).items():
        if values:
            wrong = wrong[wrong[column].isin(list(values))]
    wrong = wrong[wrong["wrong_confidence"].between(*confidence)]
    return wrong.sort_values("wrong_confidence", ascending=False)


def n_tested(per_cell: pd.DataFrame, label: str) -> int:
    """How many test cells a method was scored on in ``per_cell``."""
    return int((per_cell["label"] == label).sum())


def _trained_name(kinds: Iterable[str]) -> str:
    return "CNN" if set(kinds) == {"e2e"} else "trained"


def disagreement_patterns(per_cell: pd.DataFrame) -> tuple[str, str]:
    """The two patterns :func:`disagreements` finds, named after the trained methods present."""
    name = (
        _trained_name(per_cell.loc[per_cell["kind"] != "probe", "kind"]) if not per_cell.empty else "trained"
    )
    return f"frozen all wrong, {name} right", f"{name} wrong, frozen all right"


def disagreements(per_cell: pd.DataFrame) -> pd.DataFrame:
    """Cells every frozen method got wrong but every trained method got right, and the reverse.

    Frozen: kind ``probe``; trained: every other kind (end-to-end CNN, LoRA, fine-tuning).
    ``per_cell`` holds one fit per method (same budget, seed and protocol). Returns ``cell`` and
    ``pattern`` (see :func:`disagreement_patterns`); empty unless both sides are present.
    """
    if per_cell.empty or per_cell["kind"].eq("probe").all() or per_cell["kind"].ne("probe").all():
        return pd.DataFrame(columns=["cell", "pattern"])
    side = np.where(per_cell["kind"] == "probe", "frozen", "trained")
    by_side = (
        per_cell.assign(side=side).groupby(["cell", "side"])["correct"].agg(["all", "any"]).unstack("side")
    )
    # A cell missing one side can match neither pattern.
    frozen_wrong = ~by_side[("any", "frozen")].fillna(True).astype(bool)
    frozen_right = by_side[("all", "frozen")].fillna(False).astype(bool)
    trained_right = by_side[("all", "trained")].fillna(False).astype(bool)
    trained_wrong = ~by_side[("all", "trained")].fillna(True).astype(bool)
    first, second = disagreement_patterns(per_cell)
    pattern = pd.Series("", index=by_side.index)
    pattern[frozen_wrong & trained_right] = first
    pattern[frozen_right & trained_wrong] = second
    return pattern[pattern != ""].rename("pattern").reset_index()


def pattern_cells(per_cell: pd.DataFrame, patterns: pd.DataFrame, pattern: str) -> pd.DataFrame:
    """One ``per_cell`` row per cell that shows ``pattern`` in a :func:`disagreements` table."""
    chosen = patterns.loc[patterns["pattern"] == pattern, "cell"]
    return per_cell[per_cell["cell"].isin(chosen)].drop_duplicates("cell")


def map_colours(axes: Sequence[str]) -> dict[str, str]:
    """What an embedding map can be coloured by (column → display name): each axis, then the cell's facts."""
    return {
        **{a: axis_name(a) for a in axes},
        "truth": "label",
        "correctness": "correct under a budget",
        "agreement": "rater agreement",
    }


def map_points(maps: pd.DataFrame, cells: pd.DataFrame, axes: Sequence[str]) -> pd.DataFrame:
    """Map coordinates joined to each cell's id, truth, domain axes, agreement and slide."""
    columns = ["cell", "cell_id", "label", *[a for a in axes if a in cells.columns], "agreement", "slide"]
    return maps.merge(cells[columns].rename(columns={"label": "truth"}), on="cell")


def map_correctness(points: pd.DataFrame, per_cell: pd.DataFrame) -> pd.DataFrame:
    """Points with ``correctness`` (correct / wrong / not in the test set) from each map's own method."""
    verdict = per_cell.assign(correctness=np.where(per_cell["correct"], "correct", "wrong"))
    verdict = verdict[["cell", "method", "correctness"]].rename(columns={"method": "encoder"})
    out = points.merge(verdict, on=["cell", "encoder"], how="left")
    out["correctness"] = out["correctness"].fillna("not in the test set")
    return out


def map_sample(points: pd.DataFrame, encoder: str, limit: int) -> pd.DataFrame:
    """One encoder's points, a fixed random sample of at most ``limit``."""
    frame = points[points["encoder"] == encoder]
    return frame.sample(limit, random_state=0) if len(frame) > limit else frame


def in_box(points: pd.DataFrame, u: tuple[float, float], v: tuple[float, float]) -> pd.DataFrame:
    """Points inside a rectangle selected on a map."""
    return points[points["u"].between(*u) & points["v"].between(*v)]


def cell_rows(cells: pd.DataFrame, ids: Iterable[int]) -> pd.DataFrame:
    """CellTable rows of the given cell indices, in that order."""
    return cells.set_index("cell").loc[list(ids)].reset_index()
