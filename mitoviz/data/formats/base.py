"""What every annotation format shares: the :class:`Format` record and small file helpers."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mitoviz.data.ingest import Ingest
from mitoviz.data.vocab import clean
from mitoviz.errors import DataError

if TYPE_CHECKING:
    from mitoviz.data.cells import Dataset
    from mitoviz.data.presets import DatasetPreset

PathLike = str | os.PathLike[str]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


@dataclass(frozen=True)
class Format:
    """One annotation format: how to recognise a file (or folder) of it and how to load it.

    ``load(path, images_dir, preset) -> Dataset`` is the one signature every loader has; the preset
    (or None for the user's own data) supplies class maps, domain defaults and test slides.
    ``priority``: formats are tried in ascending order when recognising a file.
    """

    name: str
    title: str
    sniff: Callable[[Path], bool]
    load: Callable[[Path, Path | None, DatasetPreset | None], Dataset]
    priority: int = 50


def require_file(path: PathLike, what: str, fix: str) -> Path:
    """The path as a resolved file, or a DataError saying it is missing."""
    file = Path(path).expanduser()
    if file.is_dir():
        raise DataError(f"{file} is a folder, but {what} must be a file.", fix)
    if not file.is_file():
        raise DataError(f"{what.capitalize()} {file} does not exist.", fix)
    return file.resolve()


def missing_files(paths: Iterable[Path]) -> list[str]:
    """The paths that do not exist, listing each folder once instead of probing every file."""
    listings: dict[Path, set[str] | None] = {}
    missing: list[str] = []
    for path in dict.fromkeys(paths):
        folder = path.parent
        if folder not in listings:
            listings[folder] = set(os.listdir(folder)) if folder.is_dir() else None
        names = listings[folder]
        if names is None or path.name not in names:
            missing.append(str(path))
    return sorted(missing)


def dataset_name(path: Path) -> str:
    """A default data set name from a file or folder name: ``MIDOG++.json`` → ``midogpp``."""
    stem = path.stem if path.suffix.lower() in (".json", ".csv", ".sqlite", ".sqlite3", ".db") else path.name
    return re.sub(r"[^a-z0-9]+", "-", stem.lower().replace("++", "pp")).strip("-") or "dataset"


def read_csv(file: Path, what: str) -> pd.DataFrame:
    """A CSV as strings (``;``-separated files too), header cleaned; DataError when unreadable or empty.

    Blank lines are dropped but counted: row ``i`` of the table is line ``i + 2`` of the file (:func:`line_ids`).
    """
    try:
        table = pd.read_csv(file, dtype=str, keep_default_na=False, skip_blank_lines=False)
        for sep in (";", "\t"):  # semicolon tables (datasets_xvalidation.csv) and tab-separated ones
            if len(table.columns) == 1 and sep in str(table.columns[0]):
                table = pd.read_csv(file, sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{file} is empty.", f"Point at {what} with a header row and one row per entry.") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{file} is not a readable CSV file: {exc}.", "Check the file; it may be truncated.") from exc
    table.columns = [str(c).strip() for c in table.columns]
    table = table.drop(columns=[c for c in table.columns if c == "" or c.startswith("Unnamed:")])
    table = table[(table != "").any(axis=1)]  # blank lines go; the index keeps each row's place in the file
    if table.empty:
        raise DataError(f"{file} has a header but no rows: the data set is empty.", f"Point at {what} with rows.")
    return table


def line_ids(table: pd.DataFrame) -> list[str]:
    """``line N`` of each row of a :func:`read_csv` table, as a text editor numbers the file's lines."""
    return [f"line {i + 2}" for i in table.index]


def first_folder_with(candidates: Iterable[Path], names: list[str]) -> Path | None:
    """The first existing folder that holds one of the first 20 ``names``."""
    for folder in candidates:
        if folder.is_dir() and any((folder / n).is_file() for n in names[:20]):
            return folder
    return None


def fill_domains(
    ingest: Ingest, frame: pd.DataFrame, preset: DatasetPreset | None, file_names: pd.Series
) -> pd.DataFrame:
    """Fill empty domain columns from the preset's defaults (a value, or a function of the file name)."""
    from mitoviz.data import vocab

    canon = vocab.CANONICAL
    out = frame.copy()
    for column, default in (preset.domains.items() if preset else ()):
        current = out[column].map(clean) if column in out else pd.Series("", index=out.index)
        if callable(default):
            fill = file_names.map(lambda f, d=default: clean(d(f) or ""))
        else:
            fill = pd.Series(clean(default), index=out.index)
        fill = fill.map(canon.get(column, clean))
        out[column] = current.where(current != "", fill)
        filled = int(((current == "") & (fill != "")).sum())
        if filled and callable(default):
            ingest.note(f"{column} of {filled} cell(s) from the image file names ({preset.name} preset).")
    if "tumor_type" in out:  # "canine lymphosarcoma" says the species
        current = out["species"].map(clean) if "species" in out else pd.Series("", index=out.index)
        out["species"] = current.where(current != "", out["tumor_type"].map(vocab.species_of_tumor))
    return out
