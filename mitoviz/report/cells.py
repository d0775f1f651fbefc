"""Per-cell tables for the failure gallery: verdicts, filters, the default method and each card's table.

A cell is predicted positive by :func:`mitoviz.evaluate.decision.predicted_positive`, the rule the
metrics use, so a cell the gallery marks wrong is one the metrics count as wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from mitoviz.evaluate.decision import THRESHOLD, degenerate, predicted_positive
from mitoviz.report.methods import labelled
from mitoviz.report.names import KIND_NAMES, axis_name

FIT_COLUMNS = ["fit_id", "label", "method", "kind", "budget", "seed", "protocol", "train_domain"]
#: Kinds of error the gallery filters by.
ERRORS = ("both", "missed", "false positive")


def cell_predictions(
    predictions: pd.DataFrame, fits: pd.DataFrame, cells: pd.DataFrame, positive: str
) -> pd.DataFrame:
    """Predictions joined to cells and fits (labelled over the whole run, see :func:`labelled`): truth, probability,
    correctness, confidence of the error."""
    described = labelled(fits)[FIT_COLUMNS]
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
    keep: pd.Series | None = None,
) -> pd.DataFrame:
    """One method's wrong cells, most confidently wrong first.

    ``error``: ``both``, ``missed`` (positive cells called negative) or ``false positive``;
    ``filters``: column → accepted values (an empty selection keeps every value); ``confidence``:
    the range of the wrong answer's confidence; ``keep``: a boolean mask by cell (e.g. a rater filter
    from :func:`mitoviz.report.agreement.rater_mask`).
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
    if keep is not None:
        wrong = wrong[wrong["cell"].isin(keep.index[keep.to_numpy(dtype=bool)])]
    return wrong.sort_values("wrong_confidence", ascending=False)


def degenerate_methods(per_cell: pd.DataFrame) -> list[str]:
    """Methods (display labels) whose fit predicts one class for every test cell, by the decision rule's own
    :func:`~mitoviz.evaluate.decision.degenerate` (the flag the metrics and curves carry)."""
    calls = per_cell.groupby("label")["predicted_positive"]
    return sorted(str(label) for label, pred in calls if degenerate(pred.to_numpy()))


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


def best_method(table: pd.DataFrame, metric: str = "balanced_accuracy", **point: object) -> str | None:
    """The method (display ``label``) with the highest mean ``metric`` over seeds at one point.

    ``table``: metrics joined to fits; ``point``: columns to match (``protocol``, ``train_domain``,
    ``budget``). Scored on the experiment's own test cells (``test_axis == "all"``) when the table has
    them; ties go to the first label alphabetically. None when nothing matches.
    """
    rows = table
    for column, value in point.items():
        rows = rows[rows[column] == value]
    if "test_axis" in rows.columns and rows["test_axis"].eq("all").any():
        rows = rows[rows["test_axis"] == "all"]
    means = rows.groupby("label")[metric].mean().dropna()
    if means.empty:
        return None
    return str(sorted(means.items(), key=lambda item: (-item[1], item[0]))[0][0])


def negative_name(labels: Iterable[str], positive: str) -> str:
    """The class a negative call names: the one other label, else ``not <positive>``."""
    others = sorted({str(v) for v in labels} - {positive})
    return others[0] if len(others) == 1 else f"not {positive}"


def prob_column(positive: str) -> str:
    return f"P({positive})"


def decision_note(positive: str, negative: str) -> str:
    """The decision rule and the verdict, said once under the gallery."""
    return (f"**{prob_column(positive)}**: each method's predicted probability that the cell is a {positive}. "
            f"**call**: a method calls a cell *{positive}* when {prob_column(positive)} > {THRESHOLD:g}, else "
            f"*{negative}* (exactly {THRESHOLD:g} counts as {negative}, as in the metrics); ✓ the call matches the "
            "label, ✗ it does not. **method**: *frozen* = a probe on a frozen encoder; LoRA, fine-tuned and "
            "end-to-end methods trained their network on the same labelled cells.")


def column_help(positive: str, negative: str) -> dict[str, str]:
    """Header tooltips of a card's table, one per column."""
    return {
        "method": "The method and how it learned: a probe on a frozen encoder (frozen), or a network trained on the "
                  "same labelled cells (LoRA, fine-tuned, end-to-end).",
        prob_column(positive): f"Predicted probability that this cell is a {positive}.",
        "call": f"{positive} when P > {THRESHOLD:g}, else {negative}; ✓ right, ✗ wrong against the label.",
    }


def method_table(per_cell: pd.DataFrame, cell: int, positive: str, negative: str) -> pd.DataFrame:
    """Every method's answer for one cell, frozen methods first: method (and how it learned), P(positive), call."""
    rows = per_cell[per_cell["cell"] == cell]
    rows = rows.assign(frozen=rows["kind"] != "probe").sort_values(["frozen", "label"])
    probe = (rows["kind"] == "probe").to_numpy()
    method = np.where(probe, rows["label"] + f" ({KIND_NAMES['probe']})", rows["label"])
    call = np.where(rows["predicted_positive"], positive, negative)
    tick = np.where(rows["correct"], "✓", "✗")
    return pd.DataFrame({
        "method": method,
        prob_column(positive): rows["prob"].to_numpy(dtype=float),
        "call": [f"{t} {c}" for t, c in zip(tick, call, strict=True)],
    })


#: CellTable columns the enlarged view shows under their own names (or not at all), not as plain facts.
OWN_FACTS = ("cell", "cell_id", "label", "truth", "image", "x", "y", "slide", "rater_votes", "agreement", "test_only",
             "row_id")


def cell_facts(row: pd.Series, columns: Sequence[str]) -> pd.DataFrame:
    """What is known about a cell, as (fact, value) rows for the enlarged view.

    ``columns``: the CellTable's columns; each one with a value (data set, every domain column, split, a
    user's column) becomes a fact under its readable name, beside the id, label, slide, image and position.
    """
    known = [(axis_name(c), row.get(c)) for c in columns if c not in OWN_FACTS]
    facts = [("cell id", row.get("cell_id")), ("label (reference)", row.get("truth", row.get("label"))),
             *[(k, v) for k, v in known if isinstance(v, str) and v], ("slide", row.get("slide")),
             ("image file", row.get("image"))]
    x, y = row.get("x"), row.get("y")
    if isinstance(x, float | int) and not np.isnan(x):
        facts.append(("position (level-0 px)", f"x {x:,.0f}, y {y:,.0f}"))
    else:
        facts.append(("position", "a ready patch: the whole image is the cell"))
    return pd.DataFrame([(k, "" if v is None else str(v)) for k, v in facts], columns=["fact", "value"])
