"""A folder of ready patches described by a CSV (the AMi-Br layout, generalised).

AMi-Br: ``AMI-BR.csv`` (``,slide,dataset,uid,x,y,expert1_label,...,majority_atypical``) and
``patches/{atypical,normal}/<DATASET>_<uid>.png``; the CSV names no file, the path follows from the
row. Any other CSV needs an image-path column and a label column (named by the caller or detected).
Ready patches have no position: ``x``/``y`` stay empty and ``image`` is the patch file.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from mitoviz.data.cells import Dataset
from mitoviz.data.midog import (
    BREAST,
    PathLike,
    _clean,
    canonical_scanner,
    canonical_split,
    canonical_tumor,
    dataset_name,
    finish,
    label_from_class_name,
    midog_domain,
    missing_files,
    require_file,
)
from mitoviz.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
IMAGE_COLUMNS = ("image", "image_path", "path", "patch", "patch_path", "file", "file_name", "filename", "img")
LABEL_COLUMNS = ("label", "class", "class_name", "category", "target", "majority_atypical")
SLIDE_COLUMNS = ("slide", "slide_id", "case", "wsi")
SCANNER_COLUMNS = ("scanner",)
TUMOR_COLUMNS = ("tumor_type", "tumour_type", "tumortype", "tumor", "tumour")
SPLIT_COLUMNS = ("split",)
AMIBR_COLUMNS = ("dataset", "uid", "majority_atypical")
AMIBR_RATERS = ("expert1_atypical", "expert2_atypical", "expert3_atypical")
ATYPICAL, NORMAL = "atypical", "normal"
_TRUE = {"true", "1", "yes", "1.0", "atypical"}
_FALSE = {"false", "0", "no", "0.0", "normal"}


def _read_csv(file: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(file, dtype=str, keep_default_na=False)
        if len(table.columns) == 1 and ";" in table.columns[0]:
            table = pd.read_csv(file, sep=";", dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError as exc:
        raise DataError(
            f"{file} is empty.", "Point at a CSV with a header row and one row per patch."
        ) from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{file} is not a readable CSV file: {exc}.", "Check the file; it may be truncated."
        ) from exc
    table.columns = [str(c).strip() for c in table.columns]
    return table.drop(columns=[c for c in table.columns if c == "" or c.startswith("Unnamed:")])


def _pick(
    table: pd.DataFrame, given: str | None, candidates: tuple[str, ...], what: str, file: Path
) -> str | None:
    if given is not None:
        if given not in table.columns:
            raise DataError(
                f"{file} has no column '{given}' for the {what}; its columns are {list(table.columns)}.",
                f"Name an existing column for the {what}.",
            )
        return given
    lower = {c.lower(): c for c in table.columns}
    return next((lower[c] for c in candidates if c in lower), None)


def _as_bool(value: object) -> bool | None:
    text = _clean(value).lower()
    return True if text in _TRUE else False if text in _FALSE else None


def _index_images(folder: Path) -> dict[str, list[Path]]:
    """Patch files under ``folder`` by stem (one walk instead of one probe per row)."""
    index: dict[str, list[Path]] = {}
    if not folder.is_dir():
        return index
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if name.lower().endswith(IMAGE_SUFFIXES):
                index.setdefault(Path(name).stem, []).append(Path(root) / name)
    return index


def _default_patches_dir(file: Path) -> Path:
    return file.parent / "patches" if (file.parent / "patches").is_dir() else file.parent


def load_patch_folder(
    csv_path: PathLike,
    patches_dir: PathLike | None = None,
    name: str | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
    label_map: Mapping[str, str | None] | None = None,
    slide_column: str | None = None,
    scanner_column: str | None = None,
    tumor_type_column: str | None = None,
    scanner: str | None = None,
    tumor_type: str | None = None,
) -> Dataset:
    """Load ready patches listed in a CSV: the AMi-Br layout, or any CSV with image and label columns.

    Columns not named are detected (``image``/``path``/``file``…, ``label``/``class``…, ``slide``,
    ``scanner``, ``tumor_type``, ``split``). ``label_map`` maps raw label values to labels (None or
    absent: skipped and counted). Paths in the CSV are relative to ``patches_dir`` (default: the
    ``patches`` folder beside the CSV, else the CSV's folder).
    """
    file = require_file(
        csv_path, "the patch table", "Point at the CSV that lists the patches (e.g. AMI-BR.csv)."
    )
    table = _read_csv(file)
    if table.empty:
        raise DataError(
            f"{file} has a header but no rows: the data set is empty.", "Point at a CSV with patches."
        )
    name = name or dataset_name(file)
    folder = (
        Path(patches_dir).expanduser().resolve() if patches_dir is not None else _default_patches_dir(file)
    )
    lower = {c.lower() for c in table.columns}
    if image_column is None and all(c in lower for c in AMIBR_COLUMNS):
        _pick(table, label_column, LABEL_COLUMNS, "label", file)
        return _load_amibr(file, table, folder, name, label_map, label_column)
    return _load_generic(
        file,
        table,
        folder,
        name,
        label_map,
        {
            "image": _pick(table, image_column, IMAGE_COLUMNS, "image path", file),
            "label": _pick(table, label_column, LABEL_COLUMNS, "label", file),
            "slide": _pick(table, slide_column, SLIDE_COLUMNS, "slide", file),
            "scanner": _pick(table, scanner_column, SCANNER_COLUMNS, "scanner", file),
            "tumor_type": _pick(table, tumor_type_column, TUMOR_COLUMNS, "tumour type", file),
            "split": _pick(table, None, SPLIT_COLUMNS, "split", file),
        },
        scanner,
        tumor_type,
    )


def _map_labels(
    raw: pd.Series, label_map: Mapping[str, str | None] | None, column: str, notes: list[str]
) -> pd.Series:
    """Raw label values → labels; unmapped values become NaN (skipped by the caller)."""
    values = raw.map(_clean)
    if label_map is not None:
        mapping = {_clean(k): v for k, v in label_map.items()}
        return values.map(lambda v: mapping.get(v) or np.nan)
    distinct = sorted(set(values) - {""})
    if "atypical" in column.lower() and all(_as_bool(v) is not None for v in distinct):
        notes.append(f"Column '{column}' is true/false: true → atypical, false → normal.")
        return values.map(lambda v: (ATYPICAL if _as_bool(v) else NORMAL) if v else np.nan)
    if distinct and all(re.fullmatch(r"-?\d+(\.0*)?", v) for v in distinct):
        notes.append(f"Labels are numeric codes {distinct}, kept as names; pass a label map to name them.")
        return values.map(lambda v: str(int(float(v))) if v else np.nan)

    def name(value: str) -> str | float:
        if not value:
            return np.nan
        text = value.lower()
        return label_from_class_name(text) or (text if text in (ATYPICAL, NORMAL) else " ".join(text.split()))

    return values.map(name)


def _load_generic(
    file: Path,
    table: pd.DataFrame,
    folder: Path,
    name: str,
    label_map: Mapping[str, str | None] | None,
    columns: dict[str, str | None],
    scanner: str | None,
    tumor_type: str | None,
) -> Dataset:
    notes: list[str] = []
    skipped: Counter[str] = Counter()
    if columns["image"] is None:
        raise DataError(
            f"{file} has no image path column (looked for {list(IMAGE_COLUMNS)}); columns: {list(table.columns)}.",
            "Name the column that holds each patch's file path (image_column=...).",
        )
    if columns["label"] is None:
        raise DataError(
            f"{file} has no label column (looked for {list(LABEL_COLUMNS)}); columns: {list(table.columns)}.",
            "Add a 'label' column or name the column that holds the class (label_column=...).",
        )
    labels = _map_labels(table[columns["label"]], label_map, columns["label"], notes)
    unlabelled = labels.isna()
    if unlabelled.any():
        for raw, count in table.loc[unlabelled, columns["label"]].map(_clean).value_counts().items():
            skipped[f"label {raw!r} not mapped" if raw else "no label"] += int(count)
    table = table[~unlabelled].assign(label=labels[~unlabelled])
    relative = table[columns["image"]].map(_clean)
    no_path = relative == ""
    skipped["no image path"] += int(no_path.sum())
    table, relative = table[~no_path], relative[~no_path]
    paths = [Path(p) if Path(p).is_absolute() else folder / p for p in relative]
    stems = [p.with_suffix("").name for p in paths]
    unique_stems = len(set(stems)) == len(stems)
    keys = stems if unique_stems else [Path(r).with_suffix("").as_posix() for r in relative]
    frame = pd.DataFrame(
        {
            "cell_id": [f"{name}:{k}" for k in keys],
            "dataset": name,
            "image": [str(p) for p in paths],
            "x": np.nan,
            "y": np.nan,
            "label": table["label"].to_numpy(),
        }
    )
    if columns["slide"] is not None:
        frame["slide"] = table[columns["slide"]].map(_clean).to_numpy()
        no_slide = frame["slide"] == ""
        frame.loc[no_slide, "slide"] = [s for s, missing in zip(keys, no_slide, strict=True) if missing]
    else:
        frame["slide"] = keys
        notes.append(
            "No slide column: each patch is its own slide, so slide-level splits cannot group patches."
        )
    frame["scanner"] = _domain_column(table, columns["scanner"], scanner, canonical_scanner)
    frame["tumor_type"] = _domain_column(table, columns["tumor_type"], tumor_type, canonical_tumor)
    frame["split"] = _split_column(file, table, columns["split"], notes)
    missing = missing_files(paths)
    if missing:
        notes.append(f"{len(missing)} patch file(s) are missing.")
    return finish(name, frame, file, skipped, missing_images=missing, notes=notes)


def _domain_column(
    table: pd.DataFrame, column: str | None, default: str | None, canon: Callable[[object], str]
) -> np.ndarray:
    if column is not None:
        return table[column].map(canon).to_numpy()
    return np.full(len(table), canon(default or ""), dtype=object)


def _split_column(file: Path, table: pd.DataFrame, column: str | None, notes: list[str]) -> np.ndarray:
    if column is None:
        return np.full(len(table), "", dtype=object)
    raw = table[column].map(lambda v: _clean(v).lower())
    out = []
    for value in raw:
        try:
            out.append(canonical_split(value))
        except ValueError:
            raise DataError(
                f"{file}: split value {value!r} is not train, test or val.",
                "Fix the split column or remove it.",
            ) from None
    validation = int(raw.isin(("val", "valid", "validation")).sum())
    if validation:
        notes.append(f"{validation} patch(es) marked 'val' are treated as test.")
    return np.array(out, dtype=object)


def _load_amibr(
    file: Path,
    table: pd.DataFrame,
    folder: Path,
    name: str,
    label_map: Mapping[str, str | None] | None,
    label_column: str | None,
) -> Dataset:
    """AMi-Br: label from ``majority_atypical`` (or ``label_column``), votes from the experts, file from uid."""
    col = {c.lower(): c for c in table.columns}
    notes = [
        "AMi-Br layout: atypical vs normal mitotic figures; patch path = patches/<class>/<DATASET>_<uid>.png."
    ]
    skipped: Counter[str] = Counter()
    majority = table[col["majority_atypical"]].map(_as_bool)
    unsure = majority.isna()
    skipped["majority_atypical not true/false"] += int(unsure.sum())
    table, majority = table[~unsure], majority[~unsure]
    folder_class = majority.map(lambda b: ATYPICAL if b else NORMAL)
    with_votes = (label_column is None or label_column.lower() == "majority_atypical") and label_map is None
    if with_votes:
        labels = folder_class
    else:
        column = col["majority_atypical"] if label_column is None else label_column
        if label_map is not None:
            mapping = {_clean(k).lower(): v for k, v in label_map.items()}
            labels = table[column].map(lambda v: mapping.get(_clean(v).lower()) or np.nan)
        else:
            labels = table[column].map(lambda v: " ".join(_clean(v).lower().split()) or np.nan)
        notes.append(
            f"Labels from column '{column}'; rater votes are kept for the default atypical task only."
        )
        unlabelled = labels.isna()
        for raw, count in table.loc[unlabelled, column].map(_clean).value_counts().items():
            skipped[f"label {raw!r} not mapped" if raw else "no label"] += int(count)
        table, labels, folder_class = table[~unlabelled], labels[~unlabelled], folder_class[~unlabelled]
    source = table[col["dataset"]].map(_clean)
    uid = table[col["uid"]].map(lambda v: _clean(v).removesuffix(".0"))
    stems = [f"{d}_{u}" for d, u in zip(source, uid, strict=True)]
    index = _index_images(folder)
    paths, missing = [], []
    for stem, label in zip(stems, folder_class, strict=True):
        found = index.get(stem)
        if found:
            paths.append(str(sorted(found)[0]))
        else:
            expected = folder / str(label) / f"{stem}.png"
            paths.append(str(expected))
            missing.append(str(expected))
    slide_raw = table[col["slide"]].map(_clean) if "slide" in col else uid
    votes, agreement = [], []
    raters = [col[r] for r in AMIBR_RATERS if r in col]
    for row, label in zip(table[raters if with_votes else []].itertuples(index=False), labels, strict=True):
        names = [ATYPICAL if b else NORMAL for b in (_as_bool(v) for v in row) if b is not None]
        votes.append(";".join(names))
        agreement.append(sum(n == label for n in names) / len(names) if names else np.nan)
    scanners = []
    for src, slide in zip(source, slide_raw, strict=True):
        domain = midog_domain(int(slide)) if "midog" in src.lower() and slide.isdigit() else None
        scanners.append(domain[0] if domain else "")
    if any(not s for s in scanners):
        notes.append(
            f"Scanner unknown for {sum(not s for s in scanners)} patch(es) (known only for MIDOG 2021 ids)."
        )
    frame = pd.DataFrame(
        {
            "cell_id": [f"{name}:{s}" for s in stems],
            "dataset": name,
            "image": paths,
            "x": np.nan,
            "y": np.nan,
            "label": labels.to_numpy(),
            "slide": [f"{d}/{s}" for d, s in zip(source, slide_raw, strict=True)],
            "scanner": scanners,
            "tumor_type": BREAST,
            "split": "",
            "rater_votes": votes,
            "agreement": agreement,
        }
    )
    if missing:
        notes.append(f"{len(missing)} patch file(s) are missing under {folder}.")
    return finish(name, frame, file, skipped, missing_images=sorted(missing), notes=notes)
