"""Errors against rater agreement: each method's error rate by agreement level, and the gallery's filters.

The levels, the masks and the intervals come from :mod:`mitoviz.evaluate.stats` (``agreement_levels``,
``raters_split``, ``all_agree_all_wrong``, ``error_by_agreement``); this module only shapes the per-cell
predictions into its arrays and its answers into tables the failure page draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mitoviz.evaluate.stats import (
    AGREEMENT_LEVELS,
    N_RESAMPLES,
    NO_VOTES,
    agreement_levels,
    all_agree_all_wrong,
    error_by_agreement,
    raters_split,
)

#: Gallery filters by rater agreement (display name → what it keeps).
ANY_AGREEMENT = "any agreement"
SPLIT = "raters split"
AGREE_ALL_WRONG = "all raters agree, every method wrong"
RATER_FILTERS = (ANY_AGREEMENT, SPLIT, AGREE_ALL_WRONG)
ERROR_COLUMNS = ["label", "level", "error", "low", "high", "n_cells", "n_seeds"]


def has_votes(cells: pd.DataFrame) -> bool:
    """Whether any cell carries rater votes (an ``agreement`` share)."""
    return "agreement" in cells.columns and bool(cells["agreement"].notna().any())


def level_counts(cells: pd.DataFrame) -> pd.Series:
    """Distinct cells per agreement level (levels without cells left out; ``no votes`` last)."""
    cells = cells.drop_duplicates("cell") if "cell" in cells.columns else cells
    levels = pd.Series(agreement_levels(cells["agreement"].to_numpy()), index=cells.index)
    return levels.value_counts().reindex([*AGREEMENT_LEVELS, NO_VOTES]).dropna().astype(int)


def _correct_by_method(per_cell: pd.DataFrame, index: list[str]) -> pd.DataFrame:
    """``correct`` pivoted to rows ``index`` × columns method ``label``; a method without the row is NaN."""
    return per_cell.pivot_table(index=index, columns="label", values="correct", aggfunc="first")


def error_table(per_cell: pd.DataFrame, *, n_resamples: int = N_RESAMPLES, confidence: float = 0.95,
                random_state: int = 0) -> tuple[pd.DataFrame, str]:
    """Each method's error rate per agreement level with its hierarchical bootstrap interval, and the statement.

    ``per_cell``: :func:`~mitoviz.report.cells.cell_predictions` rows of one point (protocol, train domain,
    budget) over all its seeds, one fit per method and seed. Rows (seed, cell) that every method predicted
    are used, so all methods share the same redrawn seeds and slides. Columns :data:`ERROR_COLUMNS`; a
    level without cells has no row.
    """
    if per_cell.empty:
        return pd.DataFrame(columns=ERROR_COLUMNS), ""
    wide = _correct_by_method(per_cell, ["seed", "cell"]).dropna()
    facts = per_cell.drop_duplicates(["seed", "cell"]).set_index(["seed", "cell"]).loc[wide.index]
    boot = error_by_agreement(
        wide.to_numpy(dtype=bool).T, facts["agreement"].to_numpy(dtype=float), facts["slide"].astype(str).to_numpy(),
        facts.index.get_level_values("seed").to_numpy(), [str(c) for c in wide.columns],
        confidence=confidence, n_resamples=n_resamples, random_state=random_state,
    )
    cells = facts.reset_index().drop_duplicates("cell")
    counts = level_counts(cells)
    rows = [{"label": method, "level": level, **dict(zip(("error", "low", "high"), boot.interval(level, method)[:3],
                                                         strict=True)),
             "n_cells": int(counts.get(level, 0)), "n_seeds": boot.interval(level, method).n_seeds}
            for method in boot.methods for level in AGREEMENT_LEVELS if counts.get(level, 0) > 0]
    return pd.DataFrame(rows, columns=ERROR_COLUMNS), boot.statement


def rater_mask(per_cell: pd.DataFrame, choice: str) -> pd.Series:
    """Cells (index ``cell``) a rater filter keeps, from one seed's predictions of every method.

    ``raters split``: the consensus got two thirds of the votes or fewer; ``all raters agree, every method
    wrong``: every rater voted the consensus and every method shown called the cell wrongly (a method that
    did not test the cell counts as right, so the filter never claims more than was seen).
    """
    if choice not in RATER_FILTERS:
        raise ValueError(f"choice must be one of {RATER_FILTERS}, got {choice!r}")
    correct = _correct_by_method(per_cell, ["cell"]).fillna(True).astype(bool)
    agreement = per_cell.drop_duplicates("cell").set_index("cell")["agreement"].reindex(correct.index)
    values = agreement.to_numpy(dtype=float)
    if choice == ANY_AGREEMENT:
        keep = np.ones(len(correct), dtype=bool)
    elif choice == SPLIT:
        keep = raters_split(values)
    else:
        keep = all_agree_all_wrong(correct.to_numpy().T, values)
    return pd.Series(keep, index=correct.index, name=choice)


def agreement_text(agreement: float, votes: object) -> str:
    """How the raters voted, for a card: ``imposter · mitotic figure · imposter (split, 2 of 3)``; with only
    the share known, ``split (67 % voted the label)``."""
    if np.isnan(agreement):
        return "no per-rater votes"
    level = agreement_levels([agreement])[0]
    if not isinstance(votes, str) or not votes:
        return f"{level} ({agreement:.0%} voted the label)"
    cast = votes.split(";")
    return f"{' · '.join(cast)} ({level}, {round(agreement * len(cast))} of {len(cast)})"
