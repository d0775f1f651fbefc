"""The cell-table CSV of the published benchmark code (FoundationModelComparison ``databases/*.csv``).

Header ``x,y,label,filename,slide,split,tumortype[,scanner]``: one row per cell, ``(x, y)`` the cell
centre in level-0 pixels of ``filename`` (a ROI ``.tiff`` or a WSI ``.svs``) in an images folder.
Two label codings exist: 1 = MF / 0 = non-MF (MIDOG 2022, CCMCT tables) and 1 = MF / 2 = non-MF
(``MIDOGpp.csv``). Split values are train/val or train/test; ``val`` is kept as the test side.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from mitoviz.data.cells import IMPOSTER, MITOTIC, Dataset
from mitoviz.data.midog import (
    PathLike,
    _clean,
    canonical_scanner,
    canonical_split,
    canonical_tumor,
    dataset_name,
    finish,
    label_from_class_name,
    missing_files,
    require_file,
)
from mitoviz.errors import DataError, SpecError

REQUIRED = ("x", "y", "label", "filename")
CODINGS: dict[str, dict[str, str]] = {
    "1/0": {"1": MITOTIC, "0": IMPOSTER},
    "1/2": {"1": MITOTIC, "2": IMPOSTER},
}
Domain = str | Callable[[str], str | None] | None
CODING_TEXT = {"1/0": "1 = mitotic figure, 0 = imposter", "1/2": "1 = mitotic figure, 2 = imposter"}


def is_cell_csv(columns: list[str]) -> bool:
    """Whether a CSV header is a cell table (has x, y, label and filename)."""
    lower = {str(c).strip().lower() for c in columns}
    return all(c in lower for c in REQUIRED)


def _code(value: str) -> str:
    return str(int(float(value))) if re.fullmatch(r"-?\d+(\.0*)?", value) else value


def detect_coding(values: set[str]) -> str | None:
    """``1/0`` or ``1/2`` for numeric labels, None for text labels; DataError when ambiguous."""
    if not values or not all(re.fullmatch(r"-?\d+(\.0*)?", v) for v in values):
        return None
    codes = {_code(v) for v in values}
    if codes <= {"0", "1"}:
        return "1/0"
    if codes <= {"1", "2"}:
        return "1/2"
    raise DataError(
        f"The numeric labels {sorted(codes)} fit neither coding 1 = MF / 0 = non-MF nor 1 = MF / 2 = non-MF.",
        "Pass label_coding='1/0', '1/2' or a mapping {value: label}.",
    )


def _labels(raw: pd.Series, coding: str | Mapping[str, str | None], notes: list[str]) -> pd.Series:
    values = raw.map(_clean)
    if isinstance(coding, Mapping):
        mapping = {_code(_clean(k)): v for k, v in coding.items()}
        notes.append(f"Labels mapped by the caller's coding {mapping}.")
        return values.map(lambda v: mapping.get(_code(v)) or np.nan)
    if coding == "auto":
        detected = detect_coding(set(values) - {""})
        if detected is None:
            notes.append("Labels are names; mitotic figure / imposter synonyms normalised.")
            return values.map(lambda v: (label_from_class_name(v) or v.lower()) if v else np.nan)
        notes.append(f"Label coding detected: {CODING_TEXT[detected]}.")
        coding = detected
    elif coding not in CODINGS:
        raise SpecError(
            f"Unknown label coding {coding!r}.", "Use 'auto', '1/0', '1/2' or a mapping {value: label}."
        )
    else:
        notes.append(f"Label coding given: {CODING_TEXT[coding]}.")
    return values.map(lambda v: CODINGS[coding].get(_code(v), np.nan) if v else np.nan)


def _default_images_dir(file: Path, names: list[str]) -> Path:
    candidates = [
        file.parent / "images",
        file.parent,
        file.parent.parent / "images",
        file.parent.parent / "WSI",
    ]
    for folder in candidates:
        if folder.is_dir() and any((folder / n).is_file() for n in names[:20]):
            return folder
    return candidates[0] if candidates[0].is_dir() else file.parent


def load_cell_csv(
    csv_path: PathLike,
    images_dir: PathLike | None = None,
    name: str | None = None,
    label_coding: str | Mapping[str, str | None] = "auto",
    scanner: Domain = None,
    tumor_type: Domain = None,
    test_slides: Iterable[str] | None = None,
) -> Dataset:
    """Load a benchmark cell table (``x,y,label,filename,slide,split,tumortype[,scanner]``).

    ``label_coding``: ``auto`` (detect 1/0 or 1/2, or read names), ``1/0``, ``1/2`` or a mapping.
    ``scanner`` / ``tumor_type`` (a name, or a function of the file name) fill in missing values.
    ``test_slides`` (file names or stems) overrides the split column.
    """
    file = require_file(
        csv_path, "the cell table", "Point at the CSV (x,y,label,filename,slide,split,tumortype)."
    )
    try:
        table = pd.read_csv(file, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError(
            f"{file} is empty.", "Point at a cell table with a header and one row per cell."
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{file} is not a readable CSV file: {exc}.", "Check the file; it may be truncated."
        ) from exc
    table.columns = [str(c).strip().lower() for c in table.columns]
    absent = [c for c in REQUIRED if c not in table.columns]
    if absent:
        raise DataError(
            f"{file} lacks the column(s) {absent}; its columns are {list(table.columns)}.",
            "A cell table needs x, y, label and filename (plus optional slide, split, tumortype, scanner); "
            "a CSV of ready patches loads with the patch-folder loader instead.",
        )
    if table.empty:
        raise DataError(
            f"{file} has a header but no rows: the data set is empty.", "Point at a table with cells."
        )
    name = name or dataset_name(file)
    notes: list[str] = []
    skipped: Counter[str] = Counter()

    xy = table[["x", "y"]].apply(pd.to_numeric, errors="coerce")
    bad = xy.isna().any(axis=1)
    if bad.any():
        rows = (table.index[bad][:5] + 2).tolist()
        raise DataError(
            f"{file}: x/y are not numbers in {int(bad.sum())} row(s) (lines {rows}).",
            "x and y must be the cell centre in level-0 pixels.",
        )
    try:
        labels = _labels(table["label"], label_coding, notes)
    except DataError as exc:
        raise DataError(f"{file}: {exc.what}", exc.fix) from exc
    unlabelled = labels.isna()
    for raw, count in table.loc[unlabelled, "label"].map(_clean).value_counts().items():
        skipped[f"label {raw!r} not mapped" if raw else "no label"] += int(count)
    table = table.assign(x=xy["x"], y=xy["y"], label=labels, filename=table["filename"].map(_clean))
    table = table[~unlabelled]
    no_file = table["filename"] == ""
    skipped["no filename"] += int(no_file.sum())
    table = table[~no_file]

    table, dropped = _deduplicate(file, table)
    skipped["duplicate row"] += dropped

    folder = (
        Path(images_dir).expanduser().resolve()
        if images_dir is not None
        else _default_images_dir(file, sorted(table["filename"].unique()))
    )
    stems = table["filename"].map(lambda f: Path(f).stem)
    slides = table["slide"].map(_clean) if "slide" in table else stems
    slides = slides.where(slides != "", stems)
    frame = pd.DataFrame(
        {
            "cell_id": [
                f"{name}:{f}:{x:g}:{y:g}"
                for f, x, y in zip(table["filename"], table["x"], table["y"], strict=True)
            ],
            "dataset": name,
            "image": [str(folder / f) for f in table["filename"]],
            "x": table["x"].to_numpy(),
            "y": table["y"].to_numpy(),
            "label": table["label"].to_numpy(),
            "slide": slides.to_numpy(),
            "scanner": _domain(table, "scanner", scanner, canonical_scanner, notes),
            "tumor_type": _domain(table, "tumortype", tumor_type, canonical_tumor, notes),
            "split": _splits(file, table, stems, test_slides, notes),
        }
    )
    missing = missing_files(folder / f for f in sorted(table["filename"].unique()))
    if missing:
        notes.append(f"{len(missing)} image file(s) are missing from {folder}.")
    return finish(name, frame, file, skipped, missing_images=missing, notes=notes)


def _deduplicate(file: Path, table: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Drop exact repeats (counted); the same position with two labels is an error."""
    key = ["filename", "x", "y"]
    repeats = table.duplicated(subset=[*key, "label"])
    table = table[~repeats]
    clash = table.duplicated(subset=key, keep=False)
    if clash.any():
        where = table.loc[clash, key].head(3).to_dict("records")
        raise DataError(
            f"{file}: {int(clash.sum())} row(s) give one position two different labels, e.g. {where}.",
            "Each cell must appear once; remove the conflicting rows.",
        )
    return table, int(repeats.sum())


def _domain(
    table: pd.DataFrame, column: str, default: Domain, canon: Callable[[object], str], notes: list[str]
) -> np.ndarray:
    """A domain column, canonicalised; ``default`` (a name or a function of the file name) fills gaps."""
    if column not in table and column == "tumortype" and "tumor_type" in table:
        column = "tumor_type"
    values = table[column].map(canon) if column in table else pd.Series("", index=table.index)
    if default is not None:
        fill = table["filename"].map(lambda f: canon((default(f) if callable(default) else default) or ""))
        values = values.where(values != "", fill)
    if column not in table:
        known = int((values != "").sum())
        notes.append(
            f"No {column} column: {column} set for {known} of {len(values)} cells from the data set preset."
        )
    return values.to_numpy()


def _splits(
    file: Path, table: pd.DataFrame, stems: pd.Series, test_slides: Iterable[str] | None, notes: list[str]
) -> np.ndarray:
    if test_slides is not None:
        tests = {Path(t).stem if "." in t else t for t in test_slides}
        return np.where(stems.isin(tests), "test", "train")
    if "split" not in table:
        return np.full(len(table), "", dtype=object)
    raw = table["split"].map(lambda v: _clean(v).lower())
    bad = sorted(
        {
            v
            for v in raw
            if v not in ("train", "training", "test", "testing", "val", "valid", "validation", "")
        }
    )
    if bad:
        raise DataError(f"{file}: split value(s) {bad} are not train, val or test.", "Fix the split column.")
    validation = int(raw.isin(("val", "valid", "validation")).sum())
    if validation:
        notes.append(f"{validation} cell(s) in the 'val' split are kept as the test side (split = test).")
    return raw.map(canonical_split).to_numpy()
