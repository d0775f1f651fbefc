"""The CellTable: one row per annotated cell, the table every stage keys on.

Every loader returns a DataFrame that passed :func:`validate`; every later stage trusts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mitoviz.data.vocab import DOMAIN_COLUMNS, IMPOSTER, MITOTIC, UNKNOWN
from mitoviz.errors import SchemaError

__all__ = ["ALL", "COLUMNS", "DOMAIN_COLUMNS", "EXTERNAL", "IMPOSTER", "MITOTIC", "UNKNOWN", "Dataset", "counts",
           "validate"]

# column -> (dtype kind, required). Optional columns are added (empty) by validate().
COLUMNS: dict[str, tuple[str, bool]] = {
    "cell_id": ("str", True),
    "dataset": ("str", True),
    "image": ("str", True),
    "x": ("float", False),
    "y": ("float", False),
    "label": ("str", True),
    "slide": ("str", True),
    "scanner": ("str", False),
    "tumor_type": ("str", False),
    "species": ("str", False),
    "source": ("str", False),
    "centre": ("str", False),
    "split": ("str", False),
    "rater_votes": ("str", False),
    "agreement": ("float", False),
}
SPLITS = ("train", "test", "")
ALL = "all"  # every cell: the pooled training domain and the experiment's own test cells
EXTERNAL = "test_only"  # a run's cells column: True for the cells of external test sets, never trained on
#: Columns that are never a domain axis (identity, position, label, votes).
NOT_DOMAINS = ("cell_id", "image", "x", "y", "label", "slide", "split", "rater_votes", "agreement")
MAX_DOMAIN_VALUES = 50


@dataclass
class Dataset:
    """A validated CellTable plus what the loader noticed on the way (see :mod:`mitoviz.data.ingest`).

    ``adjusted`` / ``skipped`` map a reason to the ids of the rows it concerns; ``normalised`` maps a
    column to the raw → normalised spellings that were merged.
    """

    name: str
    cells: pd.DataFrame
    synthetic: bool = False
    source: str = ""
    missing_images: list[str] = field(default_factory=list)
    unannotated_images: list[str] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    adjusted: dict[str, list[str]] = field(default_factory=dict)
    normalised: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return sum(len(v) for v in self.skipped.values())

    @property
    def n_adjusted(self) -> int:
        return sum(len(v) for v in self.adjusted.values())

    def report(self, listed: int = 20) -> dict[str, object]:
        """A JSON-able account of what the loader changed: counts, reasons and the first ids of each."""
        return {
            "adjusted": {k: {"rows": len(v), "ids": v[:listed]} for k, v in self.adjusted.items()},
            "skipped": {k: {"rows": len(v), "ids": v[:listed]} for k, v in self.skipped.items()},
            "n_adjusted": self.n_adjusted,
            "n_skipped": self.n_skipped,
            "normalised": self.normalised,
        }


def _where(df: pd.DataFrame, mask: pd.Series, limit: int = 5) -> str:
    rows = df.index[mask.to_numpy()][:limit].tolist()
    ids = df.loc[mask, "cell_id"].head(limit).tolist() if "cell_id" in df else []
    more = int(mask.sum()) - len(rows)
    text = f"rows {rows}" + (f" (cell_id {ids})" if ids else "")
    return text + (f" and {more} more" if more > 0 else "")


def validate(df: pd.DataFrame) -> pd.DataFrame:
    """Check the schema and return the table with canonical dtypes and column order.

    Raises :class:`SchemaError` naming the offending column and rows.
    """
    if not isinstance(df, pd.DataFrame):
        raise SchemaError(f"A CellTable must be a pandas DataFrame, got {type(df).__name__}.")
    missing = [c for c, (_, required) in COLUMNS.items() if required and c not in df.columns]
    if missing:
        raise SchemaError(
            f"The cell table lacks the column(s) {missing}.",
            f"Every loader must provide {[c for c, (_, r) in COLUMNS.items() if r]}.",
        )
    if df.empty:
        raise SchemaError("The data set has no annotated cells.", "Check the annotation file and its filters.")
    out = df.reset_index(drop=True).copy()
    for column, (kind, _) in COLUMNS.items():
        if column not in out.columns:
            out[column] = np.nan if kind == "float" else ""
        if kind == "float":
            values = pd.to_numeric(out[column], errors="coerce")
            bad = values.isna() & out[column].notna() & (out[column].astype(str).str.strip() != "")
            if bad.any():
                raise SchemaError(f"Column '{column}' holds non-numbers at {_where(out, bad)}.")
            out[column] = values.astype("float64")
        else:
            out[column] = out[column].fillna("").astype(str).str.strip()
    for column in ("cell_id", "image", "label", "slide", "dataset"):
        empty = out[column] == ""
        if empty.any():
            raise SchemaError(f"Column '{column}' is empty at {_where(out, empty)}.")
    dup = out["cell_id"].duplicated(keep=False)
    if dup.any():
        raise SchemaError(
            f"cell_id is not unique: {_where(out, dup)}.",
            "Each annotated cell needs its own id; remove duplicated annotations.",
        )
    has_x, has_y = out["x"].notna(), out["y"].notna()
    if (has_x != has_y).any():
        raise SchemaError(f"x and y must both be set or both be empty: {_where(out, has_x != has_y)}.")
    bad_split = ~out["split"].isin(SPLITS)
    if bad_split.any():
        raise SchemaError(f"Column 'split' must be train, test or empty: {_where(out, bad_split)}.")
    bad_agreement = out["agreement"].notna() & ~out["agreement"].between(0, 1)
    if bad_agreement.any():
        raise SchemaError(f"Column 'agreement' must lie in [0, 1]: {_where(out, bad_agreement)}.")
    for column in DOMAIN_COLUMNS:
        out[column] = out[column].replace("", UNKNOWN)
    extra = [c for c in out.columns if c not in COLUMNS]
    return out[list(COLUMNS) + extra]


def positive_label(labels: pd.Series | list[str]) -> str:
    """The class scored as positive: mitotic figure, else atypical, else the first name."""
    names = sorted(set(labels))
    for preferred in (MITOTIC, "atypical"):
        if preferred in names:
            return preferred
    return names[0]


def domain_axes(cells: pd.DataFrame) -> list[str]:
    """Columns that can serve as a domain axis: the known domain columns and any other text column with 2 to
    50 known values (a user's ``lab``, the ``dataset`` of a combined table, …). A column that only renames
    an earlier one (the demo's species, one per tumour type) adds nothing and is left out."""
    axes: list[str] = []
    ordered = [*(c for c in DOMAIN_COLUMNS if c in cells), *(c for c in cells.columns if c not in DOMAIN_COLUMNS)]
    for column in ordered:
        values = cells[column]
        if column in NOT_DOMAINS or pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        known = values.astype(str)
        n = known[(known != UNKNOWN) & (known != "")].nunique()
        renames = any(len(cells[[a, column]].drop_duplicates()) == n == cells[a].nunique() for a in axes)
        if 2 <= n <= MAX_DOMAIN_VALUES and not renames:
            axes.append(column)
    return axes


def counts(cells: pd.DataFrame) -> dict[str, object]:
    """Counts by label, every domain column, split and slide (what ``inspect`` prints)."""

    def by(column: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in cells[column].value_counts().sort_index().items()}

    axes = domain_axes(cells)
    out: dict[str, object] = {"cells": len(cells), "label": by("label"), "axes": axes}
    for column in (*DOMAIN_COLUMNS, *(a for a in axes if a not in DOMAIN_COLUMNS)):
        out[column] = by(column)
    out.update(split=by("split"), slides=int(cells["slide"].nunique()), cells_per_slide=by("slide"))
    return out
