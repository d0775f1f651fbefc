"""Writers for the real on-disk data set formats, so tests can make small files that match them exactly.

Each ``write_*`` function writes one format; the ``*_set`` functions write a small, complete data
set whose contents the tests know (see the constants next to them).
"""

from __future__ import annotations

import csv
import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import tifffile
from PIL import Image

MIDOG_CATEGORIES = [{"id": 1, "name": "mitotic figure"}, {"id": 2, "name": "not mitotic figure"}]
ANCHOR_BBOX = [4336, 346, 4386, 396]  # MIDOG.json annotation id 1 → centre (4361, 371), a non-MF


def bbox(x: float, y: float, radius: float = 25) -> list[float]:
    """The MIDOG box convention: ``[x1, y1, x2, y2]`` = centre ± radius (not COCO xywh)."""
    return [x - radius, y - radius, x + radius, y + radius]


def write_tiff(path: Path, size: int = 16, width: int | None = None, height: int | None = None) -> Path:
    """A real RGB TIFF, ``size`` square or ``width`` × ``height`` (a cell table's loader checks centres against it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.full((height or size, width or size, 3), 200, np.uint8)
    tifffile.imwrite(path, pixels, photometric="rgb", compression="zlib")
    return path


def write_png(path: Path, size: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), 180, np.uint8)).save(path)
    return path


# ------------------------------------------------------------------------------------------ MIDOG


def write_midog_json(
    path: Path,
    images: Sequence[dict],
    annotations: Sequence[dict],
    categories: Sequence[dict] = MIDOG_CATEGORIES,
    info: dict | None = None,
    licence: str = "CC BY-NC-ND 2.0",
) -> Path:
    """A MIDOG-style JSON: ``info, licenses, images, categories, annotations``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "info": info if info is not None else {"description": "test"},
        "licenses": [{"id": 1, "name": licence}],
        "images": list(images),
        "categories": list(categories),
        "annotations": list(annotations),
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_split_csv(path: Path, rows: Iterable[Sequence[object]]) -> Path:
    """MIDOG++ ``datasets_xvalidation.csv``: ``;``-separated ``Slide;Dataset;Tumor;Scanner;Origin;Species``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["Slide", "Dataset", "Tumor", "Scanner", "Origin", "Species"])
        writer.writerows(rows)
    return path


def _image(image_id: int, width: int, height: int, tumor: str | None = None) -> dict:
    entry = {
        "license": 1,
        "file_name": f"{image_id:03d}.tiff",
        "id": image_id,
        "width": width,
        "height": height,
    }
    if tumor is not None:
        entry["tumor_type"] = tumor
    return entry


# MIDOG 2021: (image id, width, height) and cells (annotation id, image id, x, y, category).
MIDOG21_IMAGES = [
    (1, 7215, 5412),
    (2, 7215, 5412),
    (51, 7136, 5341),
    (52, 7084, 5284),
    (101, 6500, 4800),
    (151, 6200, 4600),
    (152, 6171, 4595),
]
MIDOG21_CELLS = [
    (1, 1, 4361, 371, 2),  # the validation anchor
    (2, 1, 100, 200, 1),
    (3, 1, 7190, 5390, 1),  # box reaches past the image edge; the centre is inside
    (4, 2, 3000, 3000, 1),
    (5, 2, 3100, 3100, 2),
    (6, 51, 500, 500, 1),
    (7, 51, 600, 600, 1),
    (8, 51, 700, 700, 2),
    (9, 51, 800, 800, 2),
    (10, 52, 900, 900, 2),
    (11, 101, 1000, 1000, 1),
    (12, 101, 1100, 1100, 2),
    (13, 101, 1200, 1200, 2),
    (14, 101, 1300, 1300, 2),
]
MIDOG21_WRITTEN_IMAGES = (1, 2, 51, 101, 151)  # 052.tiff (annotated) is missing, 152 is unannotated


def midog21_set(folder: Path, json_name: str = "MIDOG.json") -> Path:
    """MIDOG 2021 layout: ``MIDOG.json`` + ``images/NNN.tiff``, ids spanning all four scanner ranges."""
    images = [_image(i, w, h) for i, w, h in MIDOG21_IMAGES]
    annotations = [
        {"bbox": ANCHOR_BBOX if aid == 1 else bbox(x, y), "category_id": cat, "image_id": img, "id": aid}
        for aid, img, x, y, cat in MIDOG21_CELLS
    ]
    for image_id in MIDOG21_WRITTEN_IMAGES:
        write_tiff(folder / "images" / f"{image_id:03d}.tiff")
    return write_midog_json(folder / json_name, images, annotations)


# MIDOG++: (id, tumour in JSON, split, CSV tumour, CSV scanner) and cells (ann id, image, votes).
MIDOGPP_IMAGES = [
    (1, "human breast cancer", "train", "human breast cancer", "Hamamatsu XR"),
    (51, "human breast cancer", "test", "human breast cancer", "Hamamatsu S360"),
    (201, "canine lung cancer", "train", "canine lung cancer", "3D Histech"),
    (245, "canine lymphosarcoma", "test", "canine lymphoma", "3D Histech"),
    (300, "canine cutaneous mast cell tumor", "train", "canine cutaneous mast cell tumor", "Aperio CS2"),
    (350, "human neuroendocrine tumor", "train", "human neuroendocrine tumor", "Hammamatsu XR"),
    (505, "human melanoma", "test", "human melanoma", "Hamamatsu XR"),
]
MIDOGPP_UNLABELLED = (151, 152)
MIDOGPP_CELLS = [
    (1, 1, [1, 1]),
    (2, 1, [2, 2]),
    (3, 51, [1, 2, 1]),
    (4, 201, [2, 2]),
    (5, 201, [1, 1]),
    (6, 245, [1, 1]),
    (7, 245, [2, 1, 2]),
    (8, 245, [1, 1]),
    (9, 300, [1, 1]),
    (10, 350, [2, 2]),
    (11, 350, [2, 2]),
    (12, 505, [1, 2, 1]),
]


def _majority(votes: Sequence[int]) -> int:
    return max(set(votes), key=list(votes).count)


def midogpp_set(folder: Path, json_name: str = "MIDOG++.json", info: dict | None = None) -> Path:
    """MIDOG++ layout: the JSON (with ``labels`` votes and ``tumor_type``), the slide table and images."""
    images = [_image(i, 7000, 5000, tumor) for i, tumor, *_ in MIDOGPP_IMAGES]
    images += [_image(i, 6200, 4600, "human breast cancer") for i in MIDOGPP_UNLABELLED]
    annotations = [
        {
            "bbox": bbox(1000 + 10 * aid, 2000 + 10 * aid),
            "category_id": _majority(votes),
            "image_id": img,
            "labels": votes,
            "id": aid,
        }
        for aid, img, votes in MIDOGPP_CELLS
    ]
    origin = {"human": "UMC Utrecht", "canine": "VMU Vienna"}
    write_split_csv(
        folder / "datasets_xvalidation.csv",
        [
            (i, split, csv_tumor, scanner, origin[t.split()[0]], t.split()[0])
            for i, t, split, csv_tumor, scanner in MIDOGPP_IMAGES
        ],
    )
    for image_id, *_ in MIDOGPP_IMAGES:
        write_tiff(folder / "images" / f"{image_id:03d}.tiff")
    return write_midog_json(folder / json_name, images, annotations, info=info, licence="CC0")


# ------------------------------------------------------------------------------------ SlideRunner

V2_SCHEMA = """
CREATE TABLE Slides (uid INTEGER PRIMARY KEY AUTOINCREMENT, filename TEXT, width INTEGER, height INTEGER,
                     directory TEXT, uuid TEXT, exactImageID TEXT, EXACTUSER INTEGER DEFAULT 0);
CREATE TABLE Annotations (uid INTEGER PRIMARY KEY AUTOINCREMENT, guid TEXT, lastModified REAL DEFAULT 0,
                          deleted INTEGER DEFAULT 0, slide INTEGER, type INTEGER, agreedClass INTEGER,
                          description TEXT, clickable INTEGER DEFAULT 1);
CREATE TABLE Annotations_coordinates (uid INTEGER PRIMARY KEY AUTOINCREMENT, coordinateX INTEGER,
                                      coordinateY INTEGER, coordinateZ INTEGER DEFAULT 0, slide INTEGER,
                                      annoId INTEGER, orderIdx INTEGER);
CREATE TABLE Annotations_label (uid INTEGER PRIMARY KEY AUTOINCREMENT, person INTEGER, class INTEGER,
                                exact_id INTEGER, annoId INTEGER);
CREATE TABLE Classes (uid INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, color TEXT);
CREATE TABLE Persons (uid INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, isExactUser INTEGER DEFAULT 0);
CREATE TABLE Log (uid INTEGER PRIMARY KEY AUTOINCREMENT, dateTime FLOAT, labelId INTEGER);
"""
# Triggers as SlideRunner creates them: they call functions only SlideRunner registers.
V2_TRIGGERS = """
CREATE TRIGGER annotationGUID AFTER INSERT ON Annotations
  BEGIN UPDATE Annotations SET guid = generate_uuid() WHERE uid = new.uid; END;
CREATE TRIGGER updateAnnotation AFTER UPDATE ON Annotations_label
  BEGIN UPDATE Annotations SET lastModified = pycurrent_time() WHERE uid = new.annoId; END;
CREATE TRIGGER classColor AFTER INSERT ON Classes
  BEGIN UPDATE Classes SET color = randcolor() WHERE uid = new.uid; END;
"""
OLD_SCHEMA = """
CREATE TABLE Slides (uid INTEGER PRIMARY KEY AUTOINCREMENT, filename TEXT, width INTEGER, height INTEGER,
                     directory TEXT);
CREATE TABLE Annotations (uid INTEGER PRIMARY KEY AUTOINCREMENT, slide INTEGER, type INTEGER, agreedClass INTEGER);
CREATE TABLE Annotations_coordinates (uid INTEGER PRIMARY KEY AUTOINCREMENT, coordinateX INTEGER,
                                      coordinateY INTEGER, slide INTEGER, annoId INTEGER, orderIdx INTEGER);
CREATE TABLE Annotations_label (uid INTEGER PRIMARY KEY AUTOINCREMENT, person INTEGER, class INTEGER, annoId INTEGER);
CREATE TABLE Classes (uid INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);
CREATE TABLE Persons (uid INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);
CREATE TABLE Log (uid INTEGER PRIMARY KEY AUTOINCREMENT, dateTime FLOAT, labelId INTEGER);
"""


@dataclass
class SRAnnotation:
    """One SlideRunner annotation: consensus class, coordinates and (person, class) votes."""

    uid: int
    slide: int
    agreed: int
    coords: list[tuple[float, float]]
    votes: list[tuple[int, int]] = field(default_factory=list)
    type: int = 1
    deleted: int = 0


def write_sliderunner(
    path: Path,
    slides: Sequence[tuple],
    classes: Sequence[tuple[int, str]],
    persons: Sequence[tuple[int, str]],
    annotations: Sequence[SRAnnotation],
    version: str = "v2",
) -> Path:
    """A SlideRunner database, ``v2`` (MIDOG era, with triggers) or ``old`` (CCMCT era, no deleted/guid/Z).

    ``slides`` rows are ``(uid, filename, width, height[, directory])``.

    Rows are written before the triggers exist, as SlideRunner itself registers the trigger functions.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.executescript(V2_SCHEMA if version == "v2" else OLD_SCHEMA)
    con.executemany(
        "INSERT INTO Slides (uid, filename, width, height, directory) VALUES (?, ?, ?, ?, ?)",
        [(*row[:4], row[4] if len(row) > 4 else "/data/slides") for row in slides],
    )
    con.executemany("INSERT INTO Classes (uid, name) VALUES (?, ?)", classes)
    con.executemany("INSERT INTO Persons (uid, name) VALUES (?, ?)", persons)
    coord_uid = label_uid = 0
    for ann in annotations:
        if version == "v2":
            con.execute(
                "INSERT INTO Annotations (uid, guid, deleted, slide, type, agreedClass) VALUES (?, ?, ?, ?, ?, ?)",
                (ann.uid, f"guid-{ann.uid}", ann.deleted, ann.slide, ann.type, ann.agreed),
            )
        else:
            con.execute(
                "INSERT INTO Annotations (uid, slide, type, agreedClass) VALUES (?, ?, ?, ?)",
                (ann.uid, ann.slide, ann.type, ann.agreed),
            )
        for order, (x, y) in enumerate(ann.coords):
            coord_uid += 1
            con.execute(
                "INSERT INTO Annotations_coordinates (uid, coordinateX, coordinateY, slide, annoId, orderIdx) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (coord_uid, x, y, ann.slide, ann.uid, order),
            )
        for person, cls in ann.votes:
            label_uid += 1
            con.execute(
                "INSERT INTO Annotations_label (uid, person, class, annoId) VALUES (?, ?, ?, ?)",
                (label_uid, person, cls, ann.uid),
            )
    if version == "v2":
        con.executescript(V2_TRIGGERS)
    con.commit()
    con.close()
    return path


MIDOG_PERSONS = [(1, "expert 1"), (2, "RetinaNet"), (3, "expert 2"), (4, "expert 3")]
MIDOG_SQL_CLASSES = [(1, "mitotic figure"), (2, "not mitotic figure")]


def midog_v2_db(folder: Path, name: str = "MIDOG.sqlite") -> Path:
    """A MIDOG-era (v2) database: NULL slide sizes, one deleted cell, one polygon, RetinaNet label rows."""
    annotations = [
        SRAnnotation(1, 1, 2, [(4361, 371)], votes=[(1, 2), (3, 2)]),
        SRAnnotation(2, 1, 1, [(100, 200)], votes=[(1, 1), (2, 1), (3, 2), (4, 1)]),
        SRAnnotation(3, 1, 1, [(300, 300)], votes=[(1, 1), (3, 1)], deleted=1),
        SRAnnotation(4, 2, 2, [(10, 10), (30, 10), (30, 40), (10, 40)], votes=[(1, 2), (3, 2)], type=3),
        SRAnnotation(5, 2, 1, [(500, 600)], votes=[(1, 1), (3, 1)]),
        SRAnnotation(6, 51, 2, [(700, 800)]),
    ]
    slides = [
        (1, "001.tiff", None, None),
        (2, "002.tiff", None, None),
        (51, "051.tiff", None, None),
        (3, "003.tiff", None, None),
    ]
    for fn in ("001.tiff", "051.tiff"):
        write_tiff(folder / fn)
    return write_sliderunner(folder / name, slides, MIDOG_SQL_CLASSES, MIDOG_PERSONS, annotations, "v2")


CCMCT_CLASSES = [
    (1, "Granulocyte"),
    (2, "Mitotic figure"),
    (3, "Tumor cell"),
    (4, "Ambiguous"),
    (7, "Mitotic figure lookalike"),
]
CCMCT_TEST = "be10fa37ad6e88e1f406.svs"
CCMCT_TRAIN = "0a1b2c3d4e5f60718293.svs"


def ccmct_old_db(folder: Path, name: str = "MITOS_WSI_CCMCT_ODAEL.sqlite") -> Path:
    """An old (CCMCT-era) database without deleted/guid/coordinateZ, in ``databases/``; WSIs in ``WSI/``."""
    annotations = [
        SRAnnotation(1, 1, 2, [(1000, 1000)], votes=[(1, 2), (2, 2)]),
        SRAnnotation(2, 1, 2, [(1100, 1000)], votes=[(1, 2), (2, 7)]),
        SRAnnotation(3, 1, 7, [(1200, 1000)], votes=[(1, 7), (2, 7)]),
        SRAnnotation(4, 1, 1, [(1300, 1000)]),
        SRAnnotation(5, 1, 3, [(1400, 1000)]),
        SRAnnotation(6, 2, 2, [(2000, 2000)]),
        SRAnnotation(7, 2, 7, [(2100, 2000)]),
        SRAnnotation(8, 2, 7, [(2200, 2000)]),
        SRAnnotation(9, 2, 3, [(2300, 2000)]),
        SRAnnotation(10, 2, 4, [(2400, 2000)]),
    ]
    slides = [(1, CCMCT_TEST, 60000, 40000), (2, CCMCT_TRAIN, 60000, 40000)]
    write_tiff(folder / "WSI" / CCMCT_TEST)
    return write_sliderunner(
        folder / "databases" / name,
        slides,
        CCMCT_CLASSES,
        [(1, "expert 1"), (2, "expert 2")],
        annotations,
        "old",
    )


# ------------------------------------------------------------------------------------------ AMi-Br

AMIBR_HEADER = [
    "",
    "slide",
    "dataset",
    "uid",
    "x",
    "y",
    "expert1_label",
    "expert2_label",
    "expert1_atypical",
    "expert2_atypical",
    "expert3_atypical",
    "majority_atypical",
]
# (slide, dataset, uid, e1, e2, e3, majority) as in the real AMI-BR.csv: slide = the original image
# (MIDOG 2021 ``NNN.tiff``; TUPAC16 ``NN_stitched1.tif`` for cases 1-23, ``NN.tif`` for 24-73).
AMIBR_ROWS = [
    ("001.tiff", "MIDOG21", 2, "NMF metaphase", "NMF metaphase", False, False, "", False),
    ("001.tiff", "MIDOG21", 3, "AMF multipolar", "AMF multipolar", True, True, "", True),
    ("051.tiff", "MIDOG21", 6, "AMF segregation", "NMF metaphase", True, False, True, True),
    ("101.tiff", "MIDOG21", 11, "NMF prometaphase", "NMF anaphase-telophase", False, False, "", False),
    ("12_stitched1.tif", "TUPAC16", 1, "AMF other", "NMF metaphase", True, False, False, False),
    ("24.tif", "TUPAC16", 2, "AMF bipolar assymetric", "AMF bipolar assymetric", True, True, "", True),
]


def write_amibr(folder: Path, rows: Sequence[tuple] = AMIBR_ROWS, skip_patch: int | None = 5) -> Path:
    """``AMI-BR.csv`` (leading unnamed index) and ``patches/{atypical,normal}/<DATASET>_<uid>.png``."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "AMI-BR.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(AMIBR_HEADER)
        for index, (slide, dataset, uid, l1, l2, a1, a2, a3, majority) in enumerate(rows):
            writer.writerow([index, slide, dataset, uid, 1000.0 + uid, 2000.0, l1, l2, a1, a2, a3, majority])
            if index != skip_patch:
                cls = "atypical" if majority else "normal"
                write_png(folder / "patches" / cls / f"{dataset}_{uid}.png")
    return folder / "AMI-BR.csv"


# ------------------------------------------------------------------------------- FMC cell tables

FMC_HEADER = ["x", "y", "label", "filename", "slide", "split", "tumortype"]


def write_cell_csv(path: Path, rows: Iterable[Sequence[object]], header: Sequence[str] = FMC_HEADER) -> Path:
    """A benchmark cell table (``x,y,label,filename,slide,split,tumortype``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


# MIDOG2022_training_tiff.csv style: floats, 1 = MF / 0 = non-MF, split train/val.
MIDOG22_ROWS = [
    (4361.0, 371.0, 0, "001.tiff", 1, "train", "human breast cancer"),
    (100.5, 200.5, 1, "001.tiff", 1, "train", "human breast cancer"),
    (300.5, 400.5, 1, "002.tiff", 2, "val", "human breast cancer"),
    (500.5, 600.5, 0, "245.tiff", 245, "train", "canine lymphoma"),
    (700.5, 800.5, 1, "245.tiff", 245, "train", "canine lymphoma"),
]
# MIDOGpp.csv style: integers, 1 = MF / 2 = non-MF, split train/val.
MIDOGPP_CSV_ROWS = [
    (4361, 371, 2, "001.tiff", 1, "train", "human breast cancer"),
    (100, 200, 1, "001.tiff", 1, "train", "human breast cancer"),
    (300, 400, 2, "002.tiff", 2, "val", "human breast cancer"),
    (500, 600, 2, "350.tiff", 350, "val", "human neuroendocrine tumor"),
]
