"""SlideRunner SQLite databases (CCMCT, CMC, MIDOG, TUPAC16, MITOS-ATYPIA-14 conversions).

The databases carry triggers that call functions only SlideRunner registers (``generate_uuid()``), so
they are opened read-only and only ever SELECTed from. Older files lack ``deleted``, ``guid`` and
``coordinateZ``; every optional column is checked with ``PRAGMA table_info`` first.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from mitoviz.data.cells import Dataset
from mitoviz.data.midog import (
    PathLike,
    dataset_name,
    finish,
    label_from_class_name,
    missing_files,
    require_file,
)
from mitoviz.errors import DataError

SQLITE_MAGIC = b"SQLite format 3\x00"
ANNOTATION_TYPES = {
    1: "SPOT",
    2: "AREA",
    3: "POLYGON",
    4: "SPECIAL_SPOT",
    5: "CIRCLE",
    6: "IMAGEANNOTATION",
    255: "UNKNOWN",
}
SPOT_TYPES = (1, 4)
REQUIRED_COLUMNS = {
    "Annotations": ("uid", "slide", "agreedClass"),
    "Annotations_coordinates": ("coordinateX", "coordinateY", "annoId"),
    "Slides": ("uid", "filename"),
}
# Persons whose "votes" come from a detector, not from a rater (MIDOG.sqlite lists 'RetinaNet').
DETECTOR_PERSONS = ("retinanet",)
SLIDE_FOLDERS = ("", "WSI", "slides", "images", "../WSI", "../slides", "../images")

Domain = str | Callable[[str], str | None] | None


def is_sqlite(path: PathLike) -> bool:
    """Whether the file starts with the SQLite header."""
    with open(path, "rb") as handle:
        return handle.read(16) == SQLITE_MAGIC


def _connect(file: Path) -> sqlite3.Connection:
    if not is_sqlite(file):
        raise DataError(
            f"{file} is not an SQLite database (its header is not 'SQLite format 3').",
            "Point at the SlideRunner .sqlite file itself; download it again if it is truncated.",
        )
    try:
        return sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise DataError(
            f"{file} cannot be opened read-only: {exc}.", "Check the file's permissions."
        ) from exc


def _columns(con: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in con.execute(f'PRAGMA table_info("{table}")')]


def table_columns(con: sqlite3.Connection) -> dict[str, list[str]]:
    """Each table of the database and its columns, by ``PRAGMA table_info``."""
    names = [row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {name: _columns(con, name) for name in names}


def _check_schema(file: Path, schema: dict[str, list[str]]) -> dict[str, str]:
    """Map canonical table names to the database's spelling; raise if a needed table or column is absent."""
    by_lower = {name.lower(): name for name in schema}
    absent_tables = [t for t in REQUIRED_COLUMNS if t.lower() not in by_lower]
    if absent_tables:
        found = sorted(schema) or "no tables"
        raise DataError(
            f"{file} is an SQLite file but not a SlideRunner database: it lacks the table(s) {absent_tables} "
            f"(found {found}).",
            "Point at a SlideRunner database (e.g. MITOS_WSI_CCMCT_ODAEL.sqlite, MIDOG.sqlite).",
        )
    tables = {t: by_lower[t.lower()] for t in ("Annotations", "Annotations_coordinates", "Slides")}
    for optional in ("Classes", "Annotations_label", "Persons"):
        if optional.lower() in by_lower:
            tables[optional] = by_lower[optional.lower()]
    for table, needed in REQUIRED_COLUMNS.items():
        absent = [c for c in needed if c not in schema[tables[table]]]
        if absent:
            raise DataError(
                f"{file}: table {table} lacks the column(s) {absent}.",
                "The database does not follow the SlideRunner schema; use the published file.",
            )
    return tables


def _query(con: sqlite3.Connection, file: Path, sql: str) -> pd.DataFrame:
    try:
        return pd.read_sql_query(sql, con)
    except (sqlite3.Error, pd.errors.DatabaseError) as exc:
        raise DataError(
            f"{file} cannot be read: {exc}.", "The database may be damaged; download it again."
        ) from exc


def _domain(value: Domain, filename: str) -> str:
    if value is None:
        return ""
    if callable(value):
        return value(filename) or ""
    return value


def _find_slides_dir(file: Path, filenames: list[str]) -> Path:
    probe = filenames[:20]
    for relative in SLIDE_FOLDERS:
        folder = (file.parent / relative).resolve()
        if folder.is_dir() and any((folder / name).is_file() for name in probe):
            return folder
    return file.parent


def _stem(name: str) -> str:
    """``c91a….svs`` → ``c91a…``; ``01/05.tif`` → ``01/05`` (the slide key keeps any folder)."""
    path = Path(name)
    if path.suffix.lower() in {".svs", ".tif", ".tiff", ".ndpi", ".mrxs"}:
        path = path.with_suffix("")
    return path.as_posix()


def read_classes(db_path: PathLike) -> dict[int, str]:
    """The ``Classes`` table (id → name) of a SlideRunner database; empty when it has none."""
    file = require_file(db_path, "the SlideRunner database", "Check the path.")
    con = _connect(file)
    try:
        tables = _check_schema(file, table_columns(con))
        if "Classes" not in tables:
            return {}
        frame = _query(con, file, f'SELECT uid, name FROM "{tables["Classes"]}"')
    finally:
        con.close()
    return {int(uid): str(name) for uid, name in zip(frame["uid"], frame["name"], strict=True)}


def load_sliderunner(
    db_path: PathLike,
    slides_dir: PathLike | None = None,
    class_map: Mapping[int, str | None] | None = None,
    name: str | None = None,
    test_slides: Iterable[str] | None = None,
    scanner: Domain = None,
    tumor_type: Domain = None,
    exclude_persons: Iterable[str] = DETECTOR_PERSONS,
) -> Dataset:
    """Load a SlideRunner database into a Dataset.

    ``class_map`` maps ``agreedClass`` ids to labels (None or absent: skipped and counted); by default
    it is derived from the ``Classes`` names. ``test_slides`` (file names or stems) defines the
    predefined split. ``scanner`` / ``tumor_type`` are a name or a function of the slide file name.
    """
    file = require_file(
        db_path, "the SlideRunner database", "Point at the .sqlite file (e.g. MITOS_WSI_CCMCT_ODAEL.sqlite)."
    )
    name = name or dataset_name(file)
    notes: list[str] = []
    skipped: Counter[str] = Counter()
    con = _connect(file)
    try:
        try:
            schema = table_columns(con)
        except sqlite3.DatabaseError as exc:
            raise DataError(
                f"{file} is not a readable SQLite database: {exc}.", "Download it again."
            ) from exc
        tables = _check_schema(file, schema)
        ann_cols = schema[tables["Annotations"]]
        fields = ["uid", "slide", "agreedClass"] + [c for c in ("type", "deleted") if c in ann_cols]
        annotations = _query(con, file, f'SELECT {", ".join(fields)} FROM "{tables["Annotations"]}"')
        order = ", orderIdx" if "orderIdx" in schema[tables["Annotations_coordinates"]] else ""
        coords = _query(
            con,
            file,
            f'SELECT annoId, coordinateX, coordinateY FROM "{tables["Annotations_coordinates"]}" '
            f"ORDER BY annoId{order}",
        )
        slide_fields = ["uid", "filename"] + [
            c for c in ("width", "height", "directory") if c in schema[tables["Slides"]]
        ]
        slides = _query(con, file, f'SELECT {", ".join(slide_fields)} FROM "{tables["Slides"]}"')
        classes = (
            _query(con, file, f'SELECT uid, name FROM "{tables["Classes"]}"') if "Classes" in tables else None
        )
        votes = _votes(con, file, tables, schema, exclude_persons, notes)
    finally:
        con.close()

    if annotations.empty:
        raise DataError(
            f"{file} holds no annotations: the data set is empty.", "Point at a database with cells."
        )
    class_names = (
        {int(u): str(n) for u, n in zip(classes["uid"], classes["name"], strict=True)}
        if classes is not None
        else {}
    )
    labels = _class_labels(file, class_map, class_names, notes)

    if "deleted" in annotations:
        deleted = annotations["deleted"].fillna(0).astype(int) != 0
        skipped["deleted"] += int(deleted.sum())
        annotations = annotations[~deleted]
    else:
        notes.append("The database has no 'deleted' column (older schema): every annotation counts.")

    agreed = pd.to_numeric(annotations["agreedClass"], errors="coerce")
    no_class = agreed.isna() | (agreed == 0)
    skipped["no agreed class"] += int(no_class.sum())
    annotations = annotations[~no_class].assign(agreedClass=agreed[~no_class].astype(int))
    mapped = annotations["agreedClass"].map(labels)
    for cid, count in annotations.loc[mapped.isna(), "agreedClass"].value_counts().sort_index().items():
        skipped[f"class {cid} '{class_names.get(int(cid), '?')}' not mapped"] += int(count)
    annotations = annotations[mapped.notna()].assign(label=mapped[mapped.notna()])

    centres = coords.groupby("annoId").agg(
        x=("coordinateX", "mean"), y=("coordinateY", "mean"), n=("coordinateX", "size")
    )
    annotations = annotations.join(centres, on="uid")
    no_coords = annotations["x"].isna()
    skipped["no coordinates"] += int(no_coords.sum())
    annotations = annotations[~no_coords]
    kinds = (
        annotations["type"].fillna(1).astype(int)
        if "type" in annotations
        else pd.Series(1, annotations.index)
    )
    not_spot = ~kinds.isin(SPOT_TYPES)
    if not_spot.any():
        by_type = Counter(ANNOTATION_TYPES.get(int(k), f"type {k}") for k in kinds[not_spot])
        notes.append(
            f"{int(not_spot.sum())} annotation(s) are not spots ({dict(sorted(by_type.items()))}); "
            "each cell position is the mean of its coordinates."
        )
    multi_spot = (~not_spot) & (annotations["n"] > 1)
    if multi_spot.any():
        notes.append(f"{int(multi_spot.sum())} spot(s) have several coordinate rows; their mean was used.")

    slide_names = _slide_paths(slides, notes)
    annotations = annotations.assign(slide=pd.to_numeric(annotations["slide"], errors="coerce"))
    in_slides = annotations["slide"].isin(slide_names)
    skipped["slide not in Slides table"] += int((~in_slides).sum())
    annotations = annotations[in_slides]
    if annotations.empty:
        return finish(name, pd.DataFrame(), file, skipped)
    _check_bounds(file, annotations, slides)

    used = sorted({slide_names[int(s)] for s in annotations["slide"]})
    folder = (
        Path(slides_dir).expanduser().resolve() if slides_dir is not None else _find_slides_dir(file, used)
    )
    tests = {_stem(t) for t in test_slides} if test_slides is not None else None
    if tests is not None:
        unknown = sorted(tests - {_stem(n) for n in slide_names.values()})
        if unknown:
            notes.append(f"{len(unknown)} predefined test slide(s) are not in this database: {unknown[:5]}.")
    per_slide = {
        fn: {
            "image": str(folder / fn),
            "slide": _stem(fn),
            "scanner": _domain(scanner, fn),
            "tumor_type": _domain(tumor_type, fn),
            "split": "" if tests is None else ("test" if _stem(fn) in tests else "train"),
        }
        for fn in used
    }
    frame = annotations.assign(filename=annotations["slide"].astype(int).map(slide_names)).drop(
        columns="slide"
    )
    frame = frame.join(pd.DataFrame.from_dict(per_slide, orient="index"), on="filename")
    frame["cell_id"] = [f"{name}:{uid}" for uid in frame["uid"]]
    frame["dataset"] = name
    frame = _attach_votes(frame, votes, labels, class_names)
    frame = frame[
        [
            "cell_id",
            "dataset",
            "image",
            "x",
            "y",
            "label",
            "slide",
            "scanner",
            "tumor_type",
            "split",
            "rater_votes",
            "agreement",
        ]
    ]

    unannotated = sorted(set(slide_names.values()) - set(used))
    missing = missing_files(folder / fn for fn in used)
    if missing:
        notes.append(f"{len(missing)} slide file(s) are missing from {folder}.")
    return finish(
        name, frame, file, skipped, missing_images=missing, unannotated_images=unannotated, notes=notes
    )


def _slide_paths(slides: pd.DataFrame, notes: list[str]) -> dict[int, str]:
    """Slide uid → image path relative to the slides folder.

    File names are normally unique; where they repeat (TUPAC16 tiles ``01.tif`` in folders ``01/``,
    ``02/``) the last folder of ``directory`` tells them apart.
    """
    names = slides["filename"].astype(str)
    repeated = names.duplicated(keep=False)
    if repeated.any() and "directory" in slides:
        folders = (
            slides["directory"].fillna("").astype(str).map(lambda d: re.split(r"[\\/]", d.rstrip("\\/"))[-1])
        )
        names = names.where(~repeated | (folders == ""), folders + "/" + names)
        notes.append(
            f"{int(repeated.sum())} slide file names repeat; their folder was added to tell them apart."
        )
    return dict(zip(slides["uid"].astype(int), names, strict=True))


def _class_labels(
    file: Path, class_map: Mapping[int, str | None] | None, names: dict[int, str], notes: list[str]
) -> dict[int, str]:
    if class_map is None:
        if not names:
            raise DataError(
                f"{file} has no Classes table, so class ids cannot be named.",
                "Pass a class map, e.g. {2: 'mitotic figure', 7: 'imposter'} for CCMCT.",
            )
        labels = {cid: label_from_class_name(n) for cid, n in names.items()}
        described = {cid: f"{names[cid]} → {lab}" for cid, lab in labels.items() if lab}
        notes.append(f"Class map derived from the Classes table: {described}.")
    else:
        labels = {int(k): v for k, v in class_map.items()}
        clash = {
            cid: names[cid]
            for cid, lab in labels.items()
            if lab and cid in names and label_from_class_name(names[cid]) not in (None, lab)
        }
        if clash:
            notes.append(
                f"The class map disagrees with the Classes table names {clash}; the class map was used."
            )
    return {cid: lab for cid, lab in labels.items() if lab}


def _check_bounds(file: Path, annotations: pd.DataFrame, slides: pd.DataFrame) -> None:
    """Cells must lie inside their slide where the Slides table knows its size (MIDOG leaves it NULL)."""
    if not {"width", "height"} <= set(slides.columns):
        return
    sizes = slides.set_index(slides["uid"].astype(int))[["width", "height"]].apply(
        pd.to_numeric, errors="coerce"
    )
    joined = annotations.join(sizes, on="slide")
    outside = (
        (joined["x"] < 0)
        | (joined["y"] < 0)
        | (joined["x"] > joined["width"])
        | (joined["y"] > joined["height"])
    )
    if outside.any():
        ids = joined.loc[outside, "uid"].head(5).tolist()
        raise DataError(
            f"{file}: {int(outside.sum())} cell(s) lie outside their slide (annotation uids {ids}).",
            "Check the coordinates (level-0 pixels) and the Slides width/height.",
        )


def _votes(
    con: sqlite3.Connection,
    file: Path,
    tables: dict[str, str],
    schema: dict[str, list[str]],
    exclude_persons: Iterable[str],
    notes: list[str],
) -> pd.DataFrame | None:
    if "Annotations_label" not in tables:
        return None
    if not {"annoId", "class"} <= set(schema[tables["Annotations_label"]]):
        notes.append("Annotations_label lacks annoId/class; rater votes were not read.")
        return None
    person = "person" if "person" in schema[tables["Annotations_label"]] else "NULL"
    votes = _query(
        con,
        file,
        f'SELECT annoId, {person} AS person, class FROM "{tables["Annotations_label"]}" ORDER BY annoId, uid',
    )
    if "Persons" in tables and person != "NULL" and {"uid", "name"} <= set(schema[tables["Persons"]]):
        persons = _query(con, file, f'SELECT uid, name FROM "{tables["Persons"]}"')
        excluded = {p.lower() for p in exclude_persons}
        drop_ids = {
            int(u) for u, n in zip(persons["uid"], persons["name"], strict=True) if str(n).lower() in excluded
        }
        if drop_ids:
            dropped = votes["person"].isin(drop_ids)
            if dropped.any():
                notes.append(
                    f"{int(dropped.sum())} label row(s) by a detector ({sorted(excluded)}) are not rater votes."
                )
            votes = votes[~dropped]
    return votes


def _attach_votes(
    frame: pd.DataFrame, votes: pd.DataFrame | None, labels: dict[int, str], names: dict[int, str]
) -> pd.DataFrame:
    if votes is None or votes.empty:
        return frame.assign(rater_votes="", agreement=np.nan)
    vote_names: dict[float, str] = {}

    def vote_name(cid: float) -> str:
        if cid not in vote_names:
            vote_names[cid] = (
                "no class"
                if cid != cid
                else labels.get(int(cid)) or names.get(int(cid), "").lower() or f"class {int(cid)}"
            )
        return vote_names[cid]

    by_annotation: dict[int, list[str]] = {}
    classes = pd.to_numeric(votes["class"], errors="coerce").to_numpy(dtype=float)
    for anno, cid in zip(votes["annoId"].to_numpy(), classes, strict=True):
        by_annotation.setdefault(int(anno), []).append(vote_name(cid))
    rater_votes, agreement = [], []
    for uid, label in zip(frame["uid"].to_numpy(), frame["label"].to_numpy(), strict=True):
        cast = by_annotation.get(int(uid), [])
        rater_votes.append(";".join(cast))
        agreement.append(sum(n == label for n in cast) / len(cast) if cast else np.nan)
    return frame.assign(rater_votes=rater_votes, agreement=agreement)
