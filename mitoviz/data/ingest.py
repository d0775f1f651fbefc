"""The one ingestion policy every loader follows.

Real annotation files are messy. A loader never refuses a whole data set for a handful of rows:

- a row it can use after a small change is **kept and reported as adjusted** (a cell centre a few
  pixels past the image edge keeps its position and its patch is padded; an id that repeats gets a
  suffix; a split value that is neither train nor test is cleared);
- a row it cannot use (no position, a class that is not mapped, an image the file does not list, a
  centre far outside its image, one position with two labels) is **skipped and reported** with its id;
- names are normalised through :mod:`mitoviz.data.vocab` and every raw → normalised merge is listed.

``inspect`` and a run's warnings show the counts; ``strict`` (CLI ``--strict``, spec ``strict = true``)
turns any adjusted or skipped row into an error instead (:func:`check_strict`). A file that is not the
format at all (not JSON, missing tables, no usable row) is still an error.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from mitoviz.data.cells import Dataset, validate
from mitoviz.data.vocab import VALIDATION_SPLITS, canonical_split, clean
from mitoviz.errors import DataError, SchemaError

#: How far (level-0 px) past the image edge a cell centre may lie and still be kept (its patch padded).
EDGE_TOLERANCE_PX = 50

OUTSIDE_NEAR = f"centre up to {EDGE_TOLERANCE_PX} px past the image edge: kept, patch padded"
OUTSIDE_FAR = f"centre more than {EDGE_TOLERANCE_PX} px outside the image"
NO_POSITION = "no position (x/y missing or not numbers)"


class Ingest:
    """What a loader adjusted, skipped, merged and noticed while reading one file."""

    def __init__(self, source: Path) -> None:
        self.source = Path(source)
        self.adjusted: dict[str, list[str]] = defaultdict(list)
        self.skipped: dict[str, list[str]] = defaultdict(list)
        self.normalised: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
        self.notes: list[str] = []

    def skip(self, reason: str, ids: Iterable[object]) -> None:
        self.skipped[reason].extend(str(i) for i in ids)

    def adjust(self, reason: str, ids: Iterable[object]) -> None:
        self.adjusted[reason].extend(str(i) for i in ids)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def normalise(self, column: str, raw: pd.Series, canon: Callable[[object], str]) -> pd.Series:
        """``raw`` mapped through ``canon``; spellings that changed are recorded for the report."""
        text = raw.map(clean)
        out = text.map(canon)
        changed = (text != out) & (text != "")
        for (before, after), count in Counter(zip(text[changed], out[changed], strict=True)).items():
            self.normalised[column][(before, after)] += count
        return out

    def positions(self, frame: pd.DataFrame, id_column: str = "row_id") -> pd.DataFrame:
        """Apply the edge policy to ``x``/``y``; optional ``image_width``/``image_height`` give the bounds.

        Rows without a position are skipped; centres within :data:`EDGE_TOLERANCE_PX` of the image are
        kept (adjusted), centres further out are skipped. The size columns are dropped.
        """
        x = pd.to_numeric(frame["x"], errors="coerce")
        y = pd.to_numeric(frame["y"], errors="coerce")
        width = pd.to_numeric(frame.get("image_width", pd.Series(np.nan, frame.index)), errors="coerce")
        height = pd.to_numeric(frame.get("image_height", pd.Series(np.nan, frame.index)), errors="coerce")
        missing = x.isna() | y.isna()
        below = np.maximum(-x, -y).fillna(0)
        beyond = np.maximum((x - width).fillna(-np.inf), (y - height).fillna(-np.inf))
        overshoot = np.maximum(below, beyond).where(~missing, 0)
        far = overshoot > EDGE_TOLERANCE_PX
        near = (overshoot > 0) & ~far
        self.skip(NO_POSITION, frame.loc[missing, id_column])
        self.skip(OUTSIDE_FAR, frame.loc[far, id_column])
        self.adjust(OUTSIDE_NEAR, frame.loc[near, id_column])
        keep = ~(missing | far)
        out = frame.loc[keep].assign(x=x[keep], y=y[keep])
        return out.drop(columns=[c for c in ("image_width", "image_height") if c in out])

    def unique_ids(self, frame: pd.DataFrame, id_column: str = "row_id") -> pd.DataFrame:
        """Cell ids made unique by a ``#2``, ``#3`` … suffix on repeats (reported as adjusted)."""
        ids = frame["cell_id"]
        repeat = ids.groupby(ids).cumcount()
        self.adjust("id repeats in the file: later rows get a #n suffix", frame.loc[repeat > 0, id_column])
        return frame.assign(cell_id=ids.where(repeat == 0, ids + "#" + (repeat + 1).astype(str)))

    def conflicts(self, frame: pd.DataFrame, key: list[str], id_column: str = "row_id") -> pd.DataFrame:
        """Drop exact repeats of ``key`` + label (skipped as duplicates) and both sides of one key with two
        different labels (skipped as conflicting)."""
        repeat = frame.duplicated(subset=[*key, "label"])
        self.skip("exact duplicate of another row", frame.loc[repeat, id_column])
        frame = frame.loc[~repeat]
        clash = frame.duplicated(subset=key, keep=False)
        self.skip("one position with two different labels", frame.loc[clash, id_column])
        return frame.loc[~clash]

    def splits(self, raw: pd.Series, row_ids: pd.Series) -> pd.Series:
        """A split column as train / test / ""; 'val' counts as test (noted); any other value is cleared
        (adjusted: those rows have no predefined split)."""
        text = raw.map(lambda v: clean(v).lower())
        known = text.isin(("train", "training", "test", "testing", *VALIDATION_SPLITS, ""))
        for value, rows in row_ids[~known].groupby(text[~known]):
            self.adjust(f"split value {value!r} is not train, val or test: no predefined split", rows)
        validation = int(text.isin(VALIDATION_SPLITS).sum())
        if validation:
            self.note(f"{validation} row(s) in the 'val' split are kept as the test side (split = test).")
        return text.where(known, "").map(canonical_split)

    def finish(
        self,
        name: str,
        frame: pd.DataFrame,
        *,
        synthetic: bool = False,
        missing_images: list[str] | None = None,
        unannotated_images: list[str] | None = None,
    ) -> Dataset:
        """Apply the rules every format shares (one position with two labels, repeated ids), then validate the
        kept rows into a :class:`Dataset` carrying this report. ``frame`` has a ``row_id`` column."""
        if not frame.empty:
            frame = self.unique_ids(self.conflicts(frame, ["image", "x", "y"]))
        skipped = {k: v for k, v in self.skipped.items() if v}
        if frame.empty:
            detail = "; ".join(f"{reason}: {len(ids)}" for reason, ids in skipped.items())
            raise DataError(
                f"{self.source} holds no usable annotated cells" + (f" (skipped: {detail})." if detail else "."),
                "Check that this is the right annotation file and that its class ids match the class map.",
            )
        frame = frame.drop(columns=[c for c in ("row_id",) if c in frame])
        try:
            cells = validate(frame)
        except SchemaError as exc:
            fix = exc.fix or f"Correct these rows in {self.source.name}; positions are level-0 pixels."
            raise SchemaError(f"{self.source}: {exc.what}", fix) from exc
        normalised = {
            column: [{"raw": raw, "normalised": new, "rows": n} for (raw, new), n in sorted(pairs.items())]
            for column, pairs in self.normalised.items()
            if pairs
        }
        return Dataset(
            name=name,
            cells=cells,
            source=str(self.source),
            skipped=skipped,
            adjusted={k: v for k, v in self.adjusted.items() if v},
            normalised=normalised,
            notes=list(self.notes),
            synthetic=synthetic,
            missing_images=list(missing_images or []),
            unannotated_images=list(unannotated_images or []),
        )


def rater_columns(votes: Iterable[list[str]], labels: Iterable[str]) -> dict[str, list[object]]:
    """``rater_votes`` (names joined by ';') and ``agreement`` (share of votes for the cell's label; NaN
    without votes) from each cell's list of vote names, for every format that carries rater votes."""
    votes = [list(v) for v in votes]
    agreement = [sum(v == label for v in cast) / len(cast) if cast else np.nan
                 for cast, label in zip(votes, labels, strict=True)]
    return {"rater_votes": [";".join(v) for v in votes], "agreement": agreement}


def describe_rows(issues: dict[str, list[str]], limit: int = 5) -> list[str]:
    """``reason: n row(s) (ids a, b, … and k more)`` lines for a report."""
    lines = []
    for reason, ids in issues.items():
        shown = ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
        lines.append(f"{reason}: {len(ids)} row(s) (ids {shown})")
    return lines


def check_strict(dataset: Dataset) -> Dataset:
    """Raise a DataError when a loader adjusted or skipped any row (strict mode); else return the data set."""
    problems = [
        *(f"adjusted, {line}" for line in describe_rows(dataset.adjusted)),
        *(f"skipped, {line}" for line in describe_rows(dataset.skipped)),
    ]
    if problems:
        raise DataError(
            f"{dataset.source}: strict mode refuses rows the loader had to change or leave out — "
            + "; ".join(problems) + ".",
            "Fix these rows in the file, or load without strict mode: adjusted rows are then kept and "
            "unusable rows skipped, and both are reported.",
        )
    return dataset
