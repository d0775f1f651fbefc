"""The cell-table CSV of the published benchmark code (FoundationModelComparison ``databases/*.csv``).

Header ``x,y,label,filename,slide,split,tumortype[,scanner]``: one row per cell, ``(x, y)`` the cell
centre in level-0 pixels of ``filename`` (a ROI ``.tiff`` or a WSI ``.svs``) in an images folder.
Two label codings exist: 1 = MF / 0 = non-MF (MIDOG 2022, CCMCT tables) and 1 = MF / 2 = non-MF
(``MIDOGpp.csv``). Split values are train/val or train/test; ``val`` is kept as the test side. Any
further text column (``scanner``, ``species``, a user's ``lab``) is kept and can serve as a domain axis.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mitoviz.data import vocab
from mitoviz.data.cells import COLUMNS, Dataset
from mitoviz.data.formats.base import (
    Format,
    PathLike,
    dataset_name,
    fill_domains,
    first_folder_with,
    line_ids,
    missing_files,
    read_csv,
    require_file,
)
from mitoviz.data.ingest import Ingest
from mitoviz.data.patches import image_size
from mitoviz.data.vocab import IMPOSTER, MITOTIC, clean
from mitoviz.errors import DataError, SpecError

if TYPE_CHECKING:
    from mitoviz.data.presets import DatasetPreset

REQUIRED = ("x", "y", "label", "filename")
CODINGS: dict[str, dict[str, str]] = {
    "1/0": {"1": MITOTIC, "0": IMPOSTER},
    "1/2": {"1": MITOTIC, "2": IMPOSTER},
}
CODING_TEXT = {"1/0": "1 = mitotic figure, 0 = imposter", "1/2": "1 = mitotic figure, 2 = imposter"}
_DOMAIN_ALIASES = {"tumortype": "tumor_type", "tumour_type": "tumor_type", "origin": "centre", "center": "centre"}
_NUMBER = re.compile(r"-?\d+(\.0*)?")


def is_cell_csv(columns: list[str]) -> bool:
    """Whether a CSV header is a cell table (has x, y, label and filename)."""
    lower = {str(c).strip().lower() for c in columns}
    return all(c in lower for c in REQUIRED)


def _code(value: str) -> str:
    return str(int(float(value))) if _NUMBER.fullmatch(value) else value


def detect_coding(values: set[str]) -> str | None:
    """``1/0`` or ``1/2`` for numeric labels, None for text labels; DataError when ambiguous."""
    if not values or not all(_NUMBER.fullmatch(v) for v in values):
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


def _mapping(values: pd.Series, coding: str | Mapping[str, str | None], ingest: Ingest) -> dict[str, str | None]:
    """Raw label value → label, by the caller's mapping, a numeric coding, or class-name synonyms."""
    distinct = set(values) - {""}
    if isinstance(coding, Mapping):
        ingest.note(f"Labels mapped by the caller's coding {dict(coding)}.")
        given = {_code(clean(k)): v for k, v in coding.items()}
        return {v: given.get(_code(v)) for v in distinct}
    if coding == "auto":
        detected = detect_coding(distinct)
        if detected is None:
            return {v: vocab.label_from_class_name(v) or v.lower() for v in distinct}
        ingest.note(f"Label coding detected: {CODING_TEXT[detected]}.")
        coding = detected
    elif coding not in CODINGS:
        raise SpecError(f"Unknown label coding {coding!r}.", "Use 'auto', '1/0', '1/2' or a mapping {value: label}.")
    else:
        ingest.note(f"Label coding given: {CODING_TEXT[coding]}.")
    return {v: CODINGS[coding].get(_code(v)) for v in distinct}


def _labels(file: Path, table: pd.DataFrame, coding: str | Mapping[str, str | None], ingest: Ingest) -> pd.DataFrame:
    raw = table["label"].map(clean)
    try:
        mapping = _mapping(raw, coding, ingest)
    except DataError as exc:
        raise DataError(f"{file}: {exc.what}", exc.fix) from exc
    ingest.normalise("label", raw, lambda v: mapping.get(v) or v)  # records '1' → mitotic figure
    labels = raw.map(lambda v: mapping.get(v) if v else None)
    for value, rows in table[labels.isna()].groupby(raw[labels.isna()]):
        ingest.skip(f"label {value!r} not mapped" if value else "no label", rows["row_id"])
    return table[labels.notna()].assign(label=labels[labels.notna()])


def load_cell_csv(
    csv_path: PathLike,
    images_dir: PathLike | None = None,
    name: str | None = None,
    label_coding: str | Mapping[str, str | None] = "auto",
    test_slides: Iterable[str] | None = None,
    preset: DatasetPreset | None = None,
) -> Dataset:
    """Load a benchmark cell table (``x,y,label,filename,slide,split,tumortype[,scanner]``).

    ``label_coding``: ``auto`` (detect 1/0 or 1/2, or read names), ``1/0``, ``1/2`` or a mapping.
    The preset fills domain columns the table leaves empty; ``test_slides`` (file names or stems,
    default the preset's) overrides the split column. Rows keep the file's order.
    """
    file = require_file(csv_path, "the cell table", "Point at the CSV (x,y,label,filename,slide,split,tumortype).")
    table = read_csv(file, "a cell table")
    table.columns = [_DOMAIN_ALIASES.get(c.lower(), c.lower()) for c in table.columns]
    absent = [c for c in REQUIRED if c not in table.columns]
    if absent:
        raise DataError(
            f"{file} lacks the column(s) {absent}; its columns are {list(table.columns)}.",
            "A cell table needs x, y, label and filename (plus optional slide, split, tumortype, scanner); "
            "a CSV of ready patches loads with the patch-table loader instead.",
        )
    name = name or (preset.name if preset else dataset_name(file))
    ingest = Ingest(file)
    table = table.assign(row_id=line_ids(table), filename=table["filename"].map(clean))
    table = _labels(file, table, label_coding, ingest)
    no_file = table["filename"] == ""
    ingest.skip("no filename", table.loc[no_file, "row_id"])
    table = table[~no_file]
    folder = Path(images_dir).expanduser().resolve() if images_dir is not None else (
        first_folder_with([file.parent / "images", file.parent, file.parent.parent / "images",
                           file.parent.parent / "WSI"], sorted(table["filename"].unique()))
        or file.parent)
    # the table has no image sizes: the images' headers give them, so centres past an edge are found too
    found = {f: image_size(folder / f) for f in table["filename"].unique()}
    damaged = sorted(f for f, size in found.items() if size is None and (folder / f).is_file())
    if damaged:
        ingest.note(f"{len(damaged)} image file(s) exist but cannot be read (damaged, or not images): "
                    f"{', '.join(damaged[:5])}{' …' if len(damaged) > 5 else ''}.")
    sizes = {f: size or (np.nan, np.nan) for f, size in found.items()}
    table = ingest.positions(table.assign(image_width=table["filename"].map(lambda f: sizes[f][0]),
                                          image_height=table["filename"].map(lambda f: sizes[f][1])))

    stems = table["filename"].map(lambda f: Path(f).stem)
    slides = table["slide"].map(clean) if "slide" in table else stems
    frame = table.assign(
        cell_id=[f"{name}:{f}:{x:g}:{y:g}" for f, x, y in zip(table["filename"], table["x"], table["y"], strict=True)],
        dataset=name, image=[str(folder / f) for f in table["filename"]], slide=slides.where(slides != "", stems),
        split=_splits(table, stems, test_slides if test_slides is not None else
                      (preset.test_slides or None if preset else None), ingest),
    )
    for column in {c for c in frame.columns if c not in COLUMNS and c not in ("row_id", "filename")}:
        frame[column] = ingest.normalise(column, frame[column], clean)
    for column in ("scanner", "tumor_type", "species"):
        if column in table:
            frame[column] = ingest.normalise(column, table[column], vocab.CANONICAL[column])
    frame = fill_domains(ingest, frame, preset, frame["filename"])
    missing = missing_files(folder / f for f in sorted(frame["filename"].unique()))
    if missing:
        ingest.note(f"{len(missing)} image file(s) are missing from {folder}.")
    return ingest.finish(name, frame.drop(columns=["filename"]), missing_images=missing)


def _splits(table: pd.DataFrame, stems: pd.Series, test_slides: Iterable[str] | None, ingest: Ingest) -> np.ndarray:
    if test_slides is not None:
        tests = {Path(t).stem if "." in t else t for t in test_slides}
        return np.where(stems.isin(tests), "test", "train")
    if "split" not in table:
        return np.full(len(table), "", dtype=object)
    return ingest.splits(table["split"], table["row_id"]).to_numpy()


def _sniff(path: Path) -> bool:
    if not path.is_file() or path.suffix.lower() not in (".csv", ".tsv", ".txt"):
        return False
    try:
        header = pd.read_csv(path, nrows=0, sep=None, engine="python").columns.tolist()
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError, ValueError, csv.Error):
        return False
    return is_cell_csv(header)


FORMAT = Format(
    name="cell_csv",
    title="Cell table CSV (x, y, label, filename, slide, split, tumortype)",
    sniff=_sniff,
    load=lambda path, images_dir, preset: load_cell_csv(path, images_dir, preset=preset),
    priority=30,
)
