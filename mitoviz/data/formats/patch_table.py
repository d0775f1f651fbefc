"""Ready patches listed in a CSV: the AMi-Br layout, and any table with image and label columns.

AMi-Br: ``AMI-BR.csv`` (``,slide,dataset,uid,x,y,expert1_label,…,majority_atypical``) and
``patches/{atypical,normal}/<DATASET>_<uid>.png``; the CSV names no file, the path follows from the
row. ``slide`` is the original image (``002.tiff`` from MIDOG 2021, whose id fixes the scanner;
``01_stitched1.tif`` / ``24.tif`` from TUPAC16, whose case fixes the centre) and ``dataset`` the
source data set. ``amibr_train_split.csv`` of the AMi-Br benchmark, when beside the CSV, gives the
benchmark's slide-level train/test split. Ready patches have no position: ``x``/``y`` stay empty.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mitoviz.data import vocab
from mitoviz.data.cells import COLUMNS, Dataset
from mitoviz.data.formats.base import (
    IMAGE_SUFFIXES,
    Format,
    PathLike,
    dataset_name,
    fill_domains,
    line_ids,
    missing_files,
    read_csv,
    require_file,
)
from mitoviz.data.ingest import Ingest, rater_columns
from mitoviz.data.vocab import ATYPICAL, NORMAL, clean
from mitoviz.errors import DataError

if TYPE_CHECKING:
    from mitoviz.data.presets import DatasetPreset

IMAGE_COLUMNS = ("image", "image_path", "path", "patch", "patch_path", "file", "file_name", "filename", "img")
LABEL_COLUMNS = ("label", "class", "class_name", "category", "target", "majority_atypical")
COLUMN_ALIASES = {
    "slide": ("slide", "slide_id", "case", "wsi"),
    "scanner": ("scanner",),
    "tumor_type": ("tumor_type", "tumour_type", "tumortype", "tumor", "tumour"),
    "species": ("species",),
    "centre": ("centre", "center", "origin"),
    "source": ("source", "source_dataset"),
    "split": ("split",),
}
AMIBR_COLUMNS = ("dataset", "uid", "majority_atypical")
AMIBR_RATERS = ("expert1_atypical", "expert2_atypical", "expert3_atypical")
MIDOG21_CENTRE = "UMC Utrecht"
_TRUE = {"true", "1", "yes", "1.0", "atypical"}
_FALSE = {"false", "0", "no", "0.0", "normal"}
_SOURCES = {"midog21": "MIDOG21", "midog2021": "MIDOG21", "midog": "MIDOG21", "tupac16": "TUPAC16", "tupac": "TUPAC16"}


def as_bool(value: object) -> bool | None:
    """``True``/``False`` from the spellings real tables use; None when it is neither."""
    text = clean(value).lower()
    return True if text in _TRUE else False if text in _FALSE else None


def canonical_source(value: object) -> str:
    text = clean(value)
    return _SOURCES.get(re.sub(r"[^a-z0-9]", "", text.lower()), text)


def index_images(folder: Path) -> dict[str, list[Path]]:
    """Image files under ``folder`` by stem (one walk instead of one probe per row)."""
    index: dict[str, list[Path]] = {}
    for root, _dirs, files in os.walk(folder) if folder.is_dir() else ():
        for name in files:
            if name.lower().endswith(IMAGE_SUFFIXES):
                index.setdefault(Path(name).stem, []).append(Path(root) / name)
    return index


def _pick(table: pd.DataFrame, given: str | None, candidates: tuple[str, ...], what: str, file: Path) -> str | None:
    if given is not None:
        if given not in table.columns:
            raise DataError(f"{file} has no column '{given}' for the {what}; its columns are {list(table.columns)}.",
                            f"Name an existing column for the {what}.")
        return given
    lower = {c.lower(): c for c in table.columns}
    return next((lower[c] for c in candidates if c in lower), None)


def load_patch_table(
    csv_path: PathLike,
    patches_dir: PathLike | None = None,
    name: str | None = None,
    image_column: str | None = None,
    label_column: str | None = None,
    label_map: Mapping[str, str | None] | None = None,
    preset: DatasetPreset | None = None,
) -> Dataset:
    """Load ready patches listed in a CSV: the AMi-Br layout, or any CSV with image and label columns.

    Columns not named are detected (``image``/``path``/``file``…, ``label``/``class``…, ``slide``,
    ``scanner``, ``tumor_type``, ``species``, ``centre``, ``split``); other text columns are kept as
    possible domain axes. ``label_map`` maps raw label values to labels (None or absent: skipped and
    counted). Paths are relative to ``patches_dir`` (default: ``patches/`` beside the CSV, else its folder).
    """
    file = require_file(csv_path, "the patch table", "Point at the CSV that lists the patches (e.g. AMI-BR.csv).")
    table = read_csv(file, "a patch table")
    name = name or (preset.name if preset else dataset_name(file))
    folder = Path(patches_dir).expanduser().resolve() if patches_dir is not None else (
        file.parent / "patches" if (file.parent / "patches").is_dir() else file.parent)
    ingest = Ingest(file)
    table = table.assign(row_id=line_ids(table))
    lower = {c.lower() for c in table.columns}
    if image_column is None and all(c in lower for c in AMIBR_COLUMNS):
        _pick(table, label_column, LABEL_COLUMNS, "label", file)
        frame = _amibr(file, table, folder, name, label_map, label_column, ingest)
    else:
        frame = _generic(file, table, folder, name, label_map, image_column, label_column, ingest)
    frame = fill_domains(ingest, frame, preset, frame["image"].map(lambda p: Path(p).name))
    missing = missing_files(Path(p) for p in frame["image"])
    if missing:
        ingest.note(f"{len(missing)} patch file(s) are missing under {folder}.")
    return ingest.finish(name, frame, missing_images=missing)


def _map_labels(raw: pd.Series, label_map: Mapping[str, str | None] | None, column: str, ingest: Ingest) -> pd.Series:
    """Raw label values → labels; unmapped values become None (the caller skips them)."""
    values = raw.map(clean)
    distinct = sorted(set(values) - {""})
    if label_map is not None:
        given = {clean(k).lower(): v for k, v in label_map.items()}
        mapping = {v: given.get(v.lower()) for v in distinct}
    elif "atypical" in column.lower() and all(as_bool(v) is not None for v in distinct):
        ingest.note(f"Column '{column}' is true/false: true → atypical, false → normal.")
        mapping = {v: ATYPICAL if as_bool(v) else NORMAL for v in distinct}
    elif distinct and all(re.fullmatch(r"-?\d+(\.0*)?", v) for v in distinct):
        ingest.note(f"Labels are numeric codes {distinct}, kept as names; pass a label map to name them.")
        mapping = {v: str(int(float(v))) for v in distinct}
    else:
        mapping = {v: vocab.label_from_class_name(v) or " ".join(v.lower().split()) for v in distinct}
    ingest.normalise("label", values, lambda v: mapping.get(v) or v)
    return values.map(lambda v: mapping.get(v) if v else None)


def _keep_labelled(table: pd.DataFrame, labels: pd.Series, raw: pd.Series, ingest: Ingest) -> pd.DataFrame:
    for value, rows in table[labels.isna()].groupby(raw[labels.isna()].map(clean)):
        ingest.skip(f"label {value!r} not mapped" if value else "no label", rows["row_id"])
    return table[labels.notna()].assign(label=labels[labels.notna()])


def _generic(file: Path, table: pd.DataFrame, folder: Path, name: str, label_map: Mapping[str, str | None] | None,
             image_column: str | None, label_column: str | None, ingest: Ingest) -> pd.DataFrame:
    image_col = _pick(table, image_column, IMAGE_COLUMNS, "image path", file)
    label_col = _pick(table, label_column, LABEL_COLUMNS, "label", file)
    if image_col is None:
        raise DataError(f"{file} has no image path column (looked for {list(IMAGE_COLUMNS)}); columns: "
                        f"{list(table.columns)}.", "Name the column that holds each patch's file path (image_column=...).")
    if label_col is None:
        raise DataError(f"{file} has no label column (looked for {list(LABEL_COLUMNS)}); columns: {list(table.columns)}.",
                        "Add a 'label' column or name the column that holds the class (label_column=...).")
    table = _keep_labelled(table, _map_labels(table[label_col], label_map, label_col, ingest), table[label_col], ingest)
    relative = table[image_col].map(clean)
    ingest.skip("no image path", table.loc[relative == "", "row_id"])
    table, relative = table[relative != ""], relative[relative != ""]
    paths = [Path(p) if Path(p).is_absolute() else folder / p for p in relative]
    stems = [p.with_suffix("").name for p in paths]
    keys = stems if len(set(stems)) == len(stems) else [Path(r).with_suffix("").as_posix() for r in relative]
    frame = pd.DataFrame({"cell_id": [f"{name}:{k}" for k in keys], "dataset": name,
                          "image": [str(p) for p in paths], "x": np.nan, "y": np.nan,
                          "label": table["label"].to_numpy(), "row_id": table["row_id"].to_numpy()})
    used = {image_col, label_col, "row_id"}
    for column, aliases in COLUMN_ALIASES.items():
        source = _pick(table, None, aliases, column, file)
        if source is not None:
            frame[column] = ingest.normalise(column, table[source], vocab.CANONICAL.get(column, clean)).to_numpy()
            used.add(source)
    for column in (c for c in table.columns if c not in used and c not in COLUMNS):
        frame[column] = table[column].map(clean).to_numpy()
    if "slide" not in frame:
        frame["slide"] = keys
        ingest.note("No slide column: each patch is its own slide, so slide-level splits cannot group patches.")
    frame["slide"] = frame["slide"].where(frame["slide"] != "", pd.Series(keys))
    if "split" in frame:
        frame["split"] = ingest.splits(frame["split"], frame["row_id"])
    return frame


def _amibr(file: Path, table: pd.DataFrame, folder: Path, name: str, label_map: Mapping[str, str | None] | None,
           label_column: str | None, ingest: Ingest) -> pd.DataFrame:
    """AMi-Br: label from ``majority_atypical`` (or ``label_column``), votes from the experts, file from uid."""
    col = {c.lower(): c for c in table.columns}
    ingest.note("AMi-Br layout: atypical vs normal mitotic figures; patch = patches/<class>/<DATASET>_<uid>.png.")
    majority = table[col["majority_atypical"]].map(as_bool)
    ingest.skip("majority_atypical is not true/false", table.loc[majority.isna(), "row_id"])
    table = table[majority.notna()].assign(_class=majority[majority.notna()].map(lambda b: ATYPICAL if b else NORMAL))
    with_votes = label_map is None and (label_column is None or label_column.lower() == "majority_atypical")
    if with_votes:
        table = table.assign(label=table["_class"])
    else:
        column = label_column or col["majority_atypical"]
        table = _keep_labelled(table, _map_labels(table[column], label_map, column, ingest), table[column], ingest)
        ingest.note(f"Labels from column '{column}'; rater votes are kept for the default atypical task only.")
    source = ingest.normalise("source", table[col["dataset"]], canonical_source)
    uid = table[col["uid"]].map(lambda v: clean(v).removesuffix(".0"))
    stems = (source + "_" + uid).tolist()
    originals = {clean(v): canonical_source(v) for v in table[col["dataset"]]}
    index = index_images(folder)
    paths = []
    for stem, cls, raw_source, u in zip(stems, table["_class"], table[col["dataset"]], uid, strict=True):
        found = index.get(stem) or index.get(f"{clean(raw_source)}_{u}")
        paths.append(str(sorted(found)[0]) if found else str(folder / cls / f"{stem}.png"))
    slide = table[col["slide"]].map(clean) if "slide" in col else uid
    frame = pd.DataFrame({
        "cell_id": [f"{name}:{s}" for s in stems], "dataset": name, "image": paths, "x": np.nan, "y": np.nan,
        "label": table["label"].to_numpy(), "slide": _slide_names(slide, source, ingest).to_numpy(),
        "source": source.to_numpy(), "row_id": table["row_id"].to_numpy(),
        **_amibr_domains(table["row_id"], slide, source, ingest),
        **_amibr_votes(table, [col[r] for r in AMIBR_RATERS if r in col] if with_votes else []),
    })
    if len(originals) > len(set(originals.values())):
        ingest.note(f"Source names merged: {originals}.")
    split = _amibr_split(file, source, uid, ingest)
    return frame.assign(split=split) if split is not None else frame


def _slide_names(slide: pd.Series, source: pd.Series, ingest: Ingest) -> pd.Series:
    """The original image names; a name used by two sources is prefixed with its source."""
    owners = pd.DataFrame({"slide": slide, "source": source}).drop_duplicates().groupby("slide")["source"].nunique()
    shared = set(owners[owners > 1].index)
    if shared:
        ingest.note(f"{len(shared)} slide name(s) occur in two sources; they are prefixed with the source.")
    return slide.where(~slide.isin(shared), source + "/" + slide)


def _amibr_domains(row_id: pd.Series, slide: pd.Series, source: pd.Series, ingest: Ingest) -> dict[str, list[str]]:
    """Scanner from the MIDOG 2021 image id, centre from the source (and the TUPAC16 case)."""
    scanners, centres = [], []
    for row, name, src in zip(row_id, slide, source, strict=True):
        midog = src == "MIDOG21"
        domain = vocab.midog_domain(vocab.midog_id(name)) if midog else None
        if midog and domain is None:
            ingest.adjust("MIDOG21 slide name carries no image id (001-150): scanner unknown", [row])
        scanners.append(domain[0] if domain else "")
        centres.append(MIDOG21_CENTRE if midog else vocab.tupac_centre(name) if src == "TUPAC16" else "")
    return {"scanner": scanners, "centre": centres}


def _amibr_votes(table: pd.DataFrame, raters: list[str]) -> dict[str, list[object]]:
    votes = [[ATYPICAL if b else NORMAL for b in (as_bool(v) for v in row) if b is not None]
             for row in table[raters].itertuples(index=False)]
    return rater_columns(votes, table["label"])


def _amibr_split(file: Path, source: pd.Series, uid: pd.Series, ingest: Ingest
                 ) -> np.ndarray | None:
    """train/test from the AMi-Br benchmark's ``amibr_train_split.csv`` (its rows are the training set)."""
    split_file = next((p for p in (file.parent / "amibr_train_split.csv", file.parent.parent / "amibr_train_split.csv")
                       if p.is_file()), None)
    if split_file is None:
        return None
    train = read_csv(split_file, "the AMi-Br benchmark split")
    cols = {c.lower(): c for c in train.columns}
    if not {"dataset", "uid"} <= set(cols):
        raise DataError(f"{split_file} lacks the columns dataset and uid; found {list(train.columns)}.",
                        "Use amibr_train_split.csv from the AMi-Br_Benchmark repository.")
    keys = set(zip(train[cols["dataset"]].map(canonical_source), train[cols["uid"]].map(
        lambda v: clean(v).removesuffix(".0")), strict=True))
    split = np.array(["train" if k in keys else "test" for k in zip(source, uid, strict=True)], dtype=object)
    ingest.note(f"Benchmark split from {split_file.name}: {int((split == 'train').sum())} train, "
                f"{int((split == 'test').sum())} test patches (slide-level).")
    return split


def _sniff(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in (".csv", ".tsv", ".txt")


FORMAT = Format(
    name="patch_table",
    title="Patch table CSV (AMi-Br, or image + label columns)",
    sniff=_sniff,
    load=lambda path, images_dir, preset: load_patch_table(path, images_dir, preset=preset),
    priority=40,
)
