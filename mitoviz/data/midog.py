"""MIDOG 2021 and MIDOG++ loaders, and the vocabulary every loader normalises names to.

The JSON is COCO-like but ``bbox`` is ``[x1, y1, x2, y2]`` (centre ± 25 px), not COCO ``[x, y, w, h]``.
Scanner, origin and the predefined split of MIDOG++ live in ``datasets_xvalidation.csv`` beside it;
MIDOG 2021 encodes the scanner in the image-id range.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from mitoviz.data.cells import IMPOSTER, MITOTIC, Dataset, validate
from mitoviz.errors import DataError, SchemaError

PathLike = str | os.PathLike[str]

SPLIT_CSV = "datasets_xvalidation.csv"
BREAST = "human breast cancer"

# MIDOG 2021: the scanner is the image-id range (ids 151-200 carry no labels).
MIDOG21_SCANNERS: tuple[tuple[int, int, str], ...] = (
    (1, 50, "Hamamatsu XR"),
    (51, 100, "Hamamatsu S360"),
    (101, 150, "Aperio ScanScope CS2"),
    (151, 200, "Leica GT450"),
)
# MIDOG++ beyond id 200: (first id, last id, tumour type, scanner), from the data set paper.
MIDOGPP_RANGES: tuple[tuple[int, int, str, str], ...] = (
    (201, 244, "canine lung cancer", "3D Histech"),
    (245, 299, "canine lymphosarcoma", "3D Histech"),
    (300, 349, "canine cutaneous mast cell tumor", "Aperio ScanScope CS2"),
    (350, 404, "human neuroendocrine tumor", "Hamamatsu XR"),
    (405, 504, "canine soft tissue sarcoma", "3D Histech"),
    (505, 553, "human melanoma", "Hamamatsu XR"),
)

_SCANNER_ALIASES = {
    "hamamatsuxr": "Hamamatsu XR",
    "hamamatsunanozoomerxr": "Hamamatsu XR",
    "hamamatsus360": "Hamamatsu S360",
    "hamamatsunanozoomers360": "Hamamatsu S360",
    "aperiocs2": "Aperio ScanScope CS2",
    "aperioscanscopecs2": "Aperio ScanScope CS2",
    "scanscopecs2": "Aperio ScanScope CS2",
    "leicagt450": "Leica GT450",
    "leicaaperiogt450": "Leica GT450",
    "aperiogt450": "Leica GT450",
    "3dhistech": "3D Histech",
    "3dhistechpannoramicscanii": "3D Histech",
    "pannoramicscanii": "3D Histech",
}
_TUMOR_ALIASES = {
    "humanbreastcancer": BREAST,
    "breastcancer": BREAST,
    "humanbreastcarcinoma": BREAST,
    "breastcarcinoma": BREAST,
    "breast": BREAST,
    "caninelungcancer": "canine lung cancer",
    "caninelungcarcinoma": "canine lung cancer",
    "lungcancer": "canine lung cancer",
    "caninelymphosarcoma": "canine lymphosarcoma",
    "caninelymphoma": "canine lymphosarcoma",
    "lymphoma": "canine lymphosarcoma",
    "caninecutaneousmastcelltumor": "canine cutaneous mast cell tumor",
    "caninemastcelltumor": "canine cutaneous mast cell tumor",
    "cutaneousmastcelltumor": "canine cutaneous mast cell tumor",
    "mastcelltumor": "canine cutaneous mast cell tumor",
    "ccmct": "canine cutaneous mast cell tumor",
    "humanneuroendocrinetumor": "human neuroendocrine tumor",
    "neuroendocrinetumor": "human neuroendocrine tumor",
    "caninesofttissuesarcoma": "canine soft tissue sarcoma",
    "softtissuesarcoma": "canine soft tissue sarcoma",
    "humanmelanoma": "human melanoma",
    "melanoma": "human melanoma",
    "caninemammarycarcinoma": "canine mammary carcinoma",
    "caninebreastcancer": "canine mammary carcinoma",
}
_SPLITS = {"train": "train", "training": "train", "test": "test", "testing": "test", "": ""}
VALIDATION_SPLITS = ("val", "valid", "validation")

_IMPOSTER_WORDS = re.compile(
    r"not mitotic|non mitotic|nonmitotic|no mitosis|non mitosis|nonmitosis|hard negative|look ?alike"
    r"|imposter|impostor|mimic|non mf"
)
_MITOTIC_WORDS = re.compile(r"mitotic figure|mitosis|mitoses|mitose|^mf$")


def _squash(text: object) -> str:
    return re.sub(
        r"[^a-z0-9]", "", str(text).lower().replace("tumour", "tumor").replace("hammamatsu", "hamamatsu")
    )


def _clean(text: object) -> str:
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return ""
    return " ".join(str(text).split())


def canonical_scanner(name: object) -> str:
    """One spelling per scanner (``Hammamatsu XR`` → ``Hamamatsu XR``); unknown names pass through."""
    text = _clean(name)
    return _SCANNER_ALIASES.get(_squash(text), text)


def canonical_tumor(name: object) -> str:
    """One spelling per tumour type (``canine lymphoma`` → ``canine lymphosarcoma``); unknown names pass."""
    text = _clean(name)
    return _TUMOR_ALIASES.get(_squash(text), text)


def canonical_split(value: object) -> str:
    """``train``/``test``/``""``; validation sets count as test. Raises ValueError for anything else."""
    text = _clean(value).lower()
    if text in VALIDATION_SPLITS:
        return "test"
    if text not in _SPLITS:
        raise ValueError(text)
    return _SPLITS[text]


def label_from_class_name(name: object) -> str | None:
    """Map a class name used by a data set to ``mitotic figure`` / ``imposter``; None if it is neither."""
    text = " ".join(re.sub(r"[-_/]", " ", _clean(name).lower()).split())
    if not text:
        return None
    if _IMPOSTER_WORDS.search(text):
        return IMPOSTER
    if _MITOTIC_WORDS.search(text):
        return MITOTIC
    return None


def midog_domain(image_id: int) -> tuple[str, str] | None:
    """(scanner, tumour type) of a MIDOG 2021 / MIDOG++ image id from the published id ranges."""
    for first, last, scanner in MIDOG21_SCANNERS:
        if first <= image_id <= last:
            return scanner, BREAST
    for first, last, tumor, scanner in MIDOGPP_RANGES:
        if first <= image_id <= last:
            return scanner, tumor
    return None


def midog_domain_from_file(file_name: str) -> tuple[str, str] | None:
    """:func:`midog_domain` for a MIDOG file name such as ``001.tiff``; None for any other name."""
    match = re.fullmatch(r"(\d{3})\.tiff?", Path(file_name).name, flags=re.IGNORECASE)
    return midog_domain(int(match.group(1))) if match else None


# ------------------------------------------------------------------------- helpers shared by loaders


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


def finish(
    name: str,
    rows: list[dict[str, Any]] | pd.DataFrame,
    source: Path,
    skipped: Mapping[str, int] | None = None,
    **fields: Any,
) -> Dataset:
    """Validate the rows into a :class:`Dataset`; say where the rows came from when they are invalid."""
    skipped = {k: int(v) for k, v in (skipped or {}).items() if v}
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    if frame.empty:
        detail = f" (skipped: {skipped})" if skipped else ""
        raise DataError(
            f"{source} holds no usable annotated cells{detail}.",
            "Check that this is the right annotation file and that its class ids match the class map.",
        )
    try:
        cells = validate(frame)
    except SchemaError as exc:
        fix = exc.fix or f"Correct these rows in {source.name}; positions are level-0 pixels of their image."
        raise SchemaError(f"{source}: {exc.what}", fix) from exc
    return Dataset(name=name, cells=cells, source=str(source), skipped=skipped, **fields)


def dataset_name(path: Path) -> str:
    """A default data set name from a file name: ``MIDOG++.json`` → ``midogpp``."""
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower().replace("++", "pp")).strip("-") or "dataset"


# ------------------------------------------------------------------------------- the split table


@dataclass(frozen=True)
class SlideInfo:
    """One row of ``datasets_xvalidation.csv``, names already canonical."""

    split: str
    tumor_type: str
    scanner: str
    origin: str
    species: str


def _slide_key(value: object) -> int | None:
    text = _clean(value)
    match = re.fullmatch(r"(\d+)(\.0*)?(\.tiff?)?", text, flags=re.IGNORECASE)
    return int(match.group(1)) if match else None


def read_split_csv(path: PathLike) -> dict[int, SlideInfo]:
    """Read the MIDOG++ ``Slide;Dataset;Tumor;Scanner;Origin;Species`` table, keyed by image id."""
    file = require_file(path, "the MIDOG++ slide table", "Point at datasets_xvalidation.csv or leave it out.")
    try:
        table = pd.read_csv(file, sep=";", dtype=str, keep_default_na=False)
        if len(table.columns) == 1:
            table = pd.read_csv(file, sep=",", dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise DataError(
            f"{file} is not a readable CSV table: {exc}.", "Use the file from the MIDOG++ repository."
        ) from exc
    columns = {c.strip().lower(): c for c in table.columns}
    needed = ["slide", "dataset"]
    absent = [c for c in needed if c not in columns]
    if absent:
        raise DataError(
            f"{file} lacks the column(s) {absent}; found {list(table.columns)}.",
            "The MIDOG++ slide table has the columns Slide;Dataset;Tumor;Scanner;Origin;Species.",
        )

    def column(key: str) -> pd.Series:
        return table[columns[key]] if key in columns else pd.Series([""] * len(table))

    out: dict[int, SlideInfo] = {}
    for row, (slide, split, tumor, scanner, origin, species) in enumerate(
        zip(*(column(k) for k in ("slide", "dataset", "tumor", "scanner", "origin", "species")), strict=True)
    ):
        key = _slide_key(slide)
        if key is None:
            raise DataError(
                f"{file} row {row + 2}: slide {slide!r} is not an image id.", "Use ids such as 1 or 001.tiff."
            )
        try:
            split_name = canonical_split(split)
        except ValueError:
            raise DataError(
                f"{file} row {row + 2}: split {split!r} is not train or test.", "Fix the Dataset column."
            ) from None
        out[key] = SlideInfo(
            split_name, canonical_tumor(tumor), canonical_scanner(scanner), _clean(origin), _clean(species)
        )
    return out


# ------------------------------------------------------------------------------------ the loader

_REQUIRED_KEYS = ("images", "annotations", "categories")
_ANNOTATION_KEYS = ("id", "image_id", "category_id", "bbox")


def _read_json(file: Path) -> dict[str, Any]:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{file} is not valid JSON ({exc.msg} at line {exc.lineno}).",
            "Download the file again; it may be truncated.",
        ) from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{file} is not a text (JSON) file.", "Point at the MIDOG annotation JSON.") from exc
    if not isinstance(data, dict):
        raise DataError(
            f"{file} holds a JSON {type(data).__name__}, not an object.",
            "Point at the MIDOG annotation JSON.",
        )
    absent = [k for k in _REQUIRED_KEYS if not isinstance(data.get(k), list)]
    if absent:
        raise DataError(
            f"{file} lacks the key(s) {absent} (or they are not lists).",
            "A MIDOG/COCO-style file has 'images', 'annotations' and 'categories'; point at MIDOG.json or MIDOG++.json.",
        )
    return data


def _few(items: Iterable[object], limit: int = 5) -> str:
    items = list(items)
    text = ", ".join(str(i) for i in items[:limit])
    return text + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def _default_images_dir(file: Path, names: list[str]) -> Path:
    candidates = [file.parent / "images", file.parent, file.parent.parent / "images"]
    probe = names[:20]
    for folder in candidates:
        if folder.is_dir() and any((folder / n).is_file() for n in probe):
            return folder
    return candidates[0] if candidates[0].is_dir() else file.parent


def load_midog(
    json_path: PathLike,
    images_dir: PathLike | None = None,
    split_csv: PathLike | None = None,
    name: str | None = None,
    class_map: Mapping[int, str | None] | None = None,
) -> Dataset:
    """Load a MIDOG 2021 / MIDOG++ JSON (and the MIDOG++ slide table when present) into a Dataset.

    ``class_map`` maps category ids to labels (None skips the class); by default category names are
    mapped (``mitotic figure`` → MF, ``not mitotic figure`` / ``hard negative`` → imposter).
    ``split_csv`` defaults to ``datasets_xvalidation.csv`` beside the JSON.
    """
    file = require_file(
        json_path,
        "the MIDOG annotation file",
        "Point at MIDOG.json (MIDOG 2021) or MIDOG++.json / MIDOGpp.json (MIDOG++).",
    )
    data = _read_json(file)
    name = name or dataset_name(file)
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    synthetic = str(info.get("synthetic", "")).strip().lower() in {"true", "1", "yes"}
    notes: list[str] = []
    if synthetic:
        notes.append("Synthetic demo data rendered by mitoviz, not real tissue.")

    categories: dict[int, str] = {}
    for category in data["categories"]:
        if not isinstance(category, dict) or _number(category.get("id")) is None:
            raise DataError(
                f"{file}: a category lacks a numeric 'id': {category!r}.", "Each category needs id and name."
            )
        categories[int(category["id"])] = _clean(category.get("name"))
    if class_map is None:
        labels = {cid: label_from_class_name(cname) for cid, cname in categories.items()}
        named = {f"{cid} '{categories[cid]}'": lab for cid, lab in labels.items()}
        notes.append(f"Classes mapped by their names: {named}.")
    else:
        labels = {int(k): v for k, v in class_map.items()}
    known_ids = set(categories) | set(labels)

    def vote_name(cid: int) -> str:
        return labels.get(cid) or categories.get(cid, "").lower() or f"class {cid}"

    images: dict[int, dict[str, Any]] = {}
    for image in data["images"]:
        if not isinstance(image, dict) or _number(image.get("id")) is None or not image.get("file_name"):
            raise DataError(
                f"{file}: an image entry lacks 'id' or 'file_name': {image!r}.", "Each image needs both."
            )
        images[int(image["id"])] = image

    if not data["annotations"]:
        raise DataError(
            f"{file} has no annotations: the data set is empty.", "Point at a file with annotated cells."
        )

    split_file = Path(split_csv) if split_csv is not None else file.parent / SPLIT_CSV
    slide_table = read_split_csv(split_file) if split_csv is not None or split_file.is_file() else None
    if slide_table is not None:
        notes.append(f"Scanner, tumour fallback and train/test split from {split_file.name}.")

    unknown_categories: Counter[str] = Counter()
    unknown_images: list[object] = []
    malformed: list[object] = []
    inverted: list[object] = []
    outside: list[str] = []
    odd_size = 0
    skipped: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    annotated: set[int] = set()
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or any(k not in ann for k in _ANNOTATION_KEYS):
            malformed.append(ann.get("id", "?") if isinstance(ann, dict) else ann)
            continue
        cid = _number(ann["category_id"])
        image_id = _number(ann["image_id"])
        if cid is None or int(cid) not in known_ids:
            unknown_categories[_clean(ann["category_id"])] += 1
            continue
        if image_id is None or int(image_id) not in images:
            unknown_images.append(ann["id"])
            continue
        box = ann["bbox"]
        coords = [_number(v) for v in box] if isinstance(box, list) and len(box) == 4 else [None]
        if any(c is None for c in coords):
            malformed.append(ann["id"])
            continue
        x1, y1, x2, y2 = coords  # type: ignore[misc]
        if x2 < x1 or y2 < y1:
            inverted.append(ann["id"])
            continue
        if (x2 - x1, y2 - y1) != (50, 50):
            odd_size += 1
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        image = images[int(image_id)]
        width, height = _number(image.get("width")), _number(image.get("height"))
        if cx < 0 or cy < 0 or (width is not None and cx > width) or (height is not None and cy > height):
            outside.append(f"{ann['id']} (centre {cx:g},{cy:g} in {image['file_name']} of {width}×{height})")
            continue
        votes = ann.get("labels")
        vote_ids = [int(v) for v in votes if _number(v) is not None] if isinstance(votes, list) else []
        unknown_categories.update(str(v) for v in vote_ids if v not in known_ids)
        annotated.add(int(image_id))
        label = labels.get(int(cid))
        if label is None:
            skipped[f"class {int(cid)} '{categories.get(int(cid), '')}' not mapped"] += 1
            continue
        names = [vote_name(v) for v in vote_ids]
        rows.append(
            {
                "cell_id": f"{name}:{ann['id']}",
                "annotation_id": ann["id"],
                "image_id": int(image_id),
                "x": cx,
                "y": cy,
                "label": label,
                "rater_votes": ";".join(names),
                "agreement": sum(n == label for n in names) / len(names) if names else float("nan"),
            }
        )

    if malformed:
        raise DataError(
            f"{file}: {len(malformed)} annotation(s) lack {list(_ANNOTATION_KEYS)} or a 4-number bbox "
            f"(ids {_few(malformed)}).",
            "Each annotation needs id, image_id, category_id and bbox [x1, y1, x2, y2].",
        )
    if unknown_categories:
        listed = ", ".join(f"{k} ({v}×)" for k, v in sorted(unknown_categories.items()))
        known = ", ".join(f"{k} '{v}'" for k, v in sorted(categories.items()))
        raise DataError(
            f"{file}: category id(s) {listed} are not listed in 'categories' ({known}).",
            "Fix the file, or pass a class map that names these ids.",
        )
    if unknown_images:
        raise DataError(
            f"{file}: {len(unknown_images)} annotation(s) refer to image ids missing from 'images' "
            f"(annotation ids {_few(unknown_images)}).",
            "The file is inconsistent; download it again.",
        )
    if inverted:
        raise DataError(
            f"{file}: {len(inverted)} bbox(es) have x2 < x1 or y2 < y1 (annotation ids {_few(inverted)}).",
            "MIDOG boxes are [x1, y1, x2, y2] = centre ± 25 px, not COCO [x, y, width, height]; fix the file.",
        )
    if outside:
        raise DataError(
            f"{file}: {len(outside)} cell centre(s) lie outside their image: annotation {_few(outside, 3)}.",
            "Check that the boxes are [x1, y1, x2, y2] in level-0 pixels and that image sizes are right.",
        )
    if odd_size:
        notes.append(f"{odd_size} box(es) are not 50×50 px; their centre was used as the cell position.")

    folder = (
        Path(images_dir)
        if images_dir is not None
        else _default_images_dir(file, [str(images[i]["file_name"]) for i in sorted(annotated)])
    )
    domains = _image_domains(images, annotated, slide_table, synthetic, notes)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        per_image = pd.DataFrame.from_dict(domains, orient="index")
        frame = frame.join(per_image, on="image_id")
        frame["dataset"] = name
        frame["image"] = [str(folder / str(images[i]["file_name"])) for i in frame["image_id"]]
        frame = frame.drop(columns=["image_id", "annotation_id"])

    unannotated = sorted(str(img["file_name"]) for i, img in images.items() if i not in annotated)
    if unannotated:
        notes.append(
            f"{len(unannotated)} image(s) have no annotations and hold no cells (e.g. unlabelled GT450 ids)."
        )
    missing = missing_files(folder / str(images[i]["file_name"]) for i in sorted(annotated))
    if missing:
        notes.append(f"{len(missing)} annotated image file(s) are missing from {folder}.")
    return finish(
        name,
        frame,
        file,
        skipped,
        synthetic=synthetic,
        missing_images=missing,
        unannotated_images=unannotated,
        notes=notes,
    )


def _image_domains(
    images: dict[int, dict[str, Any]],
    annotated: set[int],
    slide_table: dict[int, SlideInfo] | None,
    synthetic: bool,
    notes: list[str],
) -> dict[int, dict[str, str]]:
    """slide, scanner, tumour type and split per annotated image."""
    out: dict[int, dict[str, str]] = {}
    not_in_table = 0
    disagree = 0
    ranged = 0
    for image_id in sorted(annotated):
        image = images[image_id]
        file_name = str(image["file_name"])
        json_tumor = canonical_tumor(image.get("tumor_type"))
        row = slide_table.get(image_id) if slide_table is not None else None
        by_range = None if synthetic or slide_table is not None else midog_domain_from_file(file_name)
        if slide_table is not None and row is None:
            not_in_table += 1
        if row is not None and json_tumor and row.tumor_type and row.tumor_type != json_tumor:
            disagree += 1
        scanner = row.scanner if row is not None else (by_range[0] if by_range else "")
        tumor = json_tumor or (row.tumor_type if row is not None else "") or (by_range[1] if by_range else "")
        if by_range:
            ranged += 1
        out[image_id] = {
            "slide": Path(file_name).stem,
            "scanner": scanner,
            "tumor_type": tumor,
            "split": row.split if row is not None else "",
        }
    if not_in_table:
        notes.append(
            f"{not_in_table} annotated image(s) are not in the slide table: scanner unknown, no split."
        )
    if disagree:
        notes.append(
            f"{disagree} image(s) have a different tumour type in the JSON and the slide table; the JSON wins."
        )
    if ranged:
        notes.append(
            f"Scanner of {ranged} image(s) taken from the published MIDOG id ranges (no slide table found)."
        )
    return out
