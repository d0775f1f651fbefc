"""MIDOG 2021 / MIDOG++ COCO-like JSON, and the MIDOG++ slide table beside it.

``bbox`` is ``[x1, y1, x2, y2]`` (centre ± 25 px), not COCO ``[x, y, w, h]``. Scanner, origin, species
and the predefined split of MIDOG++ live in ``datasets_xvalidation.csv``; without it the published
image-id ranges give scanner and tumour type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mitoviz.data import vocab
from mitoviz.data.cells import Dataset
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
from mitoviz.data.ingest import Ingest, rater_columns
from mitoviz.data.vocab import clean
from mitoviz.errors import DataError

if TYPE_CHECKING:
    from mitoviz.data.presets import DatasetPreset

SPLIT_CSV = "datasets_xvalidation.csv"
_REQUIRED_KEYS = ("images", "annotations", "categories")


# ------------------------------------------------------------------------------- the slide table


@dataclass(frozen=True)
class SlideInfo:
    """One row of ``datasets_xvalidation.csv``, names already canonical."""

    split: str
    tumor_type: str
    scanner: str
    origin: str
    species: str


def read_split_csv(path: PathLike, ingest: Ingest | None = None) -> dict[int, SlideInfo]:
    """The MIDOG++ ``Slide;Dataset;Tumor;Scanner;Origin;Species`` table, keyed by image id.

    Spellings are normalised (``Hammamatsu XR`` → ``Hamamatsu XR``) and recorded in ``ingest``.
    """
    file = require_file(path, "the MIDOG++ slide table", "Point at datasets_xvalidation.csv or leave it out.")
    table = read_csv(file, "the MIDOG++ slide table")
    columns = {c.strip().lower(): c for c in table.columns}
    absent = [c for c in ("slide", "dataset") if c not in columns]
    if absent:
        raise DataError(
            f"{file} lacks the column(s) {absent}; found {list(table.columns)}.",
            "The MIDOG++ slide table has the columns Slide;Dataset;Tumor;Scanner;Origin;Species.",
        )
    ingest = ingest or Ingest(file)

    def column(key: str, canon=clean) -> pd.Series:
        raw = table[columns[key]] if key in columns else pd.Series([""] * len(table))
        return ingest.normalise(key if key != "tumor" else "tumor_type", raw, canon)

    tumours, scanners = column("tumor", vocab.canonical_tumor), column("scanner", vocab.canonical_scanner)
    species, origins = column("species", vocab.canonical_species), column("origin")
    splits = ingest.splits(table[columns["dataset"]], pd.Series(line_ids(table), index=table.index))
    out: dict[int, SlideInfo] = {}
    for row, slide in enumerate(table[columns["slide"]]):
        key = vocab.midog_id(slide)
        if key is None:
            raise DataError(f"{file} row {row + 2}: slide {slide!r} is not an image id.", "Use ids such as 1 or 001.tiff.")
        out[key] = SlideInfo(splits.iloc[row], tumours.iloc[row], scanners.iloc[row], origins.iloc[row], species.iloc[row])
    return out


# ------------------------------------------------------------------------------------ the loader


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{file} is not valid JSON ({exc.msg} at line {exc.lineno}).", "Download the file again; it may be truncated."
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{file} is not a text (JSON) file.", "Point at the MIDOG annotation JSON.") from exc
    if not isinstance(data, dict):
        raise DataError(f"{file} holds a JSON {type(data).__name__}, not an object.", "Point at the MIDOG annotation JSON.")
    absent = [k for k in _REQUIRED_KEYS if not isinstance(data.get(k), list)]
    if absent:
        raise DataError(
            f"{file} lacks the key(s) {absent} (or they are not lists).",
            "A MIDOG/COCO-style file has 'images', 'annotations' and 'categories'; point at MIDOG.json or MIDOG++.json.",
        )
    if not data["annotations"]:
        raise DataError(f"{file} has no annotations: the data set is empty.", "Point at a file with annotated cells.")
    return data


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def _categories(file: Path, data: dict[str, Any], class_map: Mapping[int, str | None] | None, ingest: Ingest
                ) -> tuple[dict[int, str], dict[int, str | None]]:
    names: dict[int, str] = {}
    for category in data["categories"]:
        if not isinstance(category, dict) or _number(category.get("id")) is None:
            raise DataError(f"{file}: a category lacks a numeric 'id': {category!r}.", "Each category needs id and name.")
        names[int(category["id"])] = clean(category.get("name"))
    if class_map is None:
        labels = {cid: vocab.label_from_class_name(name) for cid, name in names.items()}
        ingest.note(f"Classes mapped by their names: {({f'{c} {names[c]!r}': lab for c, lab in labels.items()})}.")
    else:
        labels = {int(k): v for k, v in class_map.items()}
    return names, labels


def _images(file: Path, data: dict[str, Any]) -> dict[int, dict[str, Any]]:
    images: dict[int, dict[str, Any]] = {}
    for image in data["images"]:
        if not isinstance(image, dict) or _number(image.get("id")) is None or not image.get("file_name"):
            raise DataError(f"{file}: an image entry lacks 'id' or 'file_name': {image!r}.", "Each image needs both.")
        images[int(image["id"])] = image
    return images


def _rows(data: dict[str, Any], names: dict[int, str], labels: dict[int, str | None],
          images: dict[int, dict[str, Any]], name: str, ingest: Ingest) -> pd.DataFrame:
    """One row per usable annotation; every unusable one is skipped with its id and reason."""
    known = set(names) | set(labels)
    rows, odd_size = [], 0
    for ann in data["annotations"]:
        ann_id = ann.get("id", "?") if isinstance(ann, dict) else "?"
        cid = _number(ann.get("category_id")) if isinstance(ann, dict) else None
        image_id = _number(ann.get("image_id")) if isinstance(ann, dict) else None
        box = ann.get("bbox") if isinstance(ann, dict) else None
        coords = [_number(v) for v in box] if isinstance(box, list) and len(box) == 4 else [None]
        if cid is None or int(cid) not in known:
            ingest.skip(f"category id {ann.get('category_id') if isinstance(ann, dict) else '?'} not in 'categories'",
                        [ann_id])
        elif image_id is None or int(image_id) not in images:
            ingest.skip("image id not listed in 'images'", [ann_id])
        elif any(c is None for c in coords):
            ingest.skip("no 4-number bbox [x1, y1, x2, y2]", [ann_id])
        elif coords[2] < coords[0] or coords[3] < coords[1]:  # type: ignore[operator]
            ingest.skip("bbox has x2 < x1 or y2 < y1 (COCO [x, y, w, h]? MIDOG boxes are [x1, y1, x2, y2])", [ann_id])
        elif labels.get(int(cid)) is None:
            ingest.skip(f"class {int(cid)} {names.get(int(cid), '')!r} not mapped", [ann_id])
        else:
            x1, y1, x2, y2 = coords  # type: ignore[misc]
            odd_size += (x2 - x1, y2 - y1) != (50, 50)
            image = images[int(image_id)]
            votes = ann.get("labels")
            vote_ids = [int(v) for v in votes if _number(v) is not None] if isinstance(votes, list) else []
            rows.append({
                "row_id": ann_id, "cell_id": f"{name}:{ann_id}", "image_id": int(image_id), "x": (x1 + x2) / 2,
                "y": (y1 + y2) / 2, "label": labels[int(cid)], "image_width": image.get("width"),
                "image_height": image.get("height"), "_votes": vote_ids,
            })
    if odd_size:
        ingest.note(f"{odd_size} box(es) are not 50×50 px; their centre was used as the cell position.")
    return pd.DataFrame(rows)


def _votes(frame: pd.DataFrame, names: dict[int, str], labels: dict[int, str | None], ingest: Ingest) -> pd.DataFrame:
    unknown = sorted({v for vs in frame["_votes"] for v in vs} - set(names) - set(labels))
    if unknown:
        ingest.note(f"Rater votes name category id(s) {unknown} that 'categories' does not list; kept as 'class N'.")

    def vote_name(cid: int) -> str:
        return labels.get(cid) or names.get(cid, "").lower() or f"class {cid}"

    votes = frame["_votes"].map(lambda vs: [vote_name(v) for v in vs])
    return frame.drop(columns="_votes").assign(**rater_columns(votes, frame["label"]))


def load_midog(
    json_path: PathLike,
    images_dir: PathLike | None = None,
    split_csv: PathLike | None = None,
    name: str | None = None,
    class_map: Mapping[int, str | None] | None = None,
    preset: DatasetPreset | None = None,
) -> Dataset:
    """Load a MIDOG 2021 / MIDOG++ JSON (and the MIDOG++ slide table when present) into a Dataset.

    ``class_map`` maps category ids to labels (None skips the class); by default category names are
    mapped (``mitotic figure`` → MF, ``not mitotic figure`` / ``hard negative`` → imposter).
    ``split_csv`` defaults to ``datasets_xvalidation.csv`` beside the JSON.
    """
    file = require_file(json_path, "the MIDOG annotation file",
                        "Point at MIDOG.json (MIDOG 2021) or MIDOG++.json / MIDOGpp.json (MIDOG++).")
    data = _read_json(file)
    ingest = Ingest(file)
    name = name or (preset.name if preset else dataset_name(file))
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    synthetic = str(info.get("synthetic", "")).strip().lower() in {"true", "1", "yes"}
    if synthetic:
        ingest.note("Synthetic demo data rendered by mitoviz, not real tissue.")
    names, labels = _categories(file, data, class_map if class_map is not None else
                                (preset.class_map if preset else None), ingest)
    images = _images(file, data)
    split_file = Path(split_csv) if split_csv is not None else file.parent / SPLIT_CSV
    table = read_split_csv(split_file, ingest) if split_csv is not None or split_file.is_file() else None
    if table is not None:
        ingest.note(f"Scanner, centre, species and train/test split from {split_file.name}.")

    frame = _rows(data, names, labels, images, name, ingest)
    if not frame.empty:
        frame = ingest.positions(_votes(frame, names, labels, ingest))
    annotated = sorted(set(frame["image_id"])) if not frame.empty else []
    folder = Path(images_dir) if images_dir is not None else (
        first_folder_with([file.parent / "images", file.parent, file.parent.parent / "images"],
                          [str(images[i]["file_name"]) for i in annotated]) or file.parent / "images")
    if not frame.empty:
        domains = pd.DataFrame.from_dict(_image_domains(images, annotated, table, ingest), orient="index")
        frame = frame.join(domains, on="image_id")
        frame["dataset"] = name
        frame["image"] = [str(folder / str(images[i]["file_name"])) for i in frame["image_id"]]
        if not synthetic:
            frame = fill_domains(ingest, frame, preset, frame["image"].map(lambda p: Path(p).name))
        frame = frame.drop(columns="image_id")
    used = {int(i) for i in annotated}
    unannotated = sorted(str(img["file_name"]) for i, img in images.items() if i not in used)
    if unannotated:
        ingest.note(f"{len(unannotated)} image(s) have no annotations and hold no cells (e.g. unlabelled GT450 ids).")
    missing = missing_files(folder / str(images[i]["file_name"]) for i in annotated)
    if missing:
        ingest.note(f"{len(missing)} annotated image file(s) are missing from {folder}.")
    return ingest.finish(name, frame, synthetic=synthetic, missing_images=missing, unannotated_images=unannotated)


def _image_domains(images: dict[int, dict[str, Any]], annotated: list[int], table: dict[int, SlideInfo] | None,
                   ingest: Ingest) -> dict[int, dict[str, str]]:
    """slide, scanner, tumour type, species, centre and split per annotated image."""
    out: dict[int, dict[str, str]] = {}
    not_in_table = disagree = 0
    json_tumours = ingest.normalise(
        "tumor_type", pd.Series([images[i].get("tumor_type") for i in annotated], index=annotated, dtype=object),
        vocab.canonical_tumor)
    for image_id in annotated:
        row = table.get(image_id) if table is not None else None
        not_in_table += table is not None and row is None
        json_tumor = json_tumours[image_id]
        disagree += bool(row and json_tumor and row.tumor_type and row.tumor_type != json_tumor)
        out[image_id] = {
            "slide": Path(str(images[image_id]["file_name"])).stem,
            "scanner": row.scanner if row else "",
            "tumor_type": json_tumor or (row.tumor_type if row else ""),
            "species": row.species if row else "",
            "centre": row.origin if row else "",
            "split": row.split if row else "",
        }
    if not_in_table:
        ingest.note(f"{not_in_table} annotated image(s) are not in the slide table: no split, domains from id ranges.")
    if disagree:
        ingest.note(f"{disagree} image(s) have a different tumour type in the JSON and the slide table; the JSON wins.")
    return out


def _sniff(path: Path) -> bool:
    if path.is_dir():
        return False
    if path.suffix.lower() == ".json":
        return True
    with open(path, "rb") as handle:
        return re.match(rb"\s*\{", handle.read(64)) is not None


FORMAT = Format(
    name="midog",
    title="MIDOG / COCO-style JSON (MIDOG.json, MIDOG++.json)",
    sniff=_sniff,
    load=lambda path, images_dir, preset: load_midog(path, images_dir, preset=preset),
    priority=80,  # it takes any JSON file, so formats that recognise their own JSON are tried first
)
