"""SlideRunner SQLite databases (CCMCT, CMC, MIDOG, TUPAC16, MITOS-ATYPIA-14 conversions).

The databases carry triggers that call functions only SlideRunner registers (``generate_uuid()``), so
they are opened read-only and only ever SELECTed from. Older files lack ``deleted``, ``guid`` and
``coordinateZ``; every optional column is checked with ``PRAGMA table_info`` first.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mitoviz.data.cells import Dataset
from mitoviz.data.formats.base import (
    Format,
    PathLike,
    dataset_name,
    fill_domains,
    missing_files,
    require_file,
)
from mitoviz.data.ingest import Ingest, rater_columns
from mitoviz.data.vocab import label_from_class_name
from mitoviz.errors import DataError

if TYPE_CHECKING:
    from mitoviz.data.presets import DatasetPreset

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
    preset: DatasetPreset | None = None,
    exclude_persons: Iterable[str] = DETECTOR_PERSONS,
) -> Dataset:
    """Load a SlideRunner database into a Dataset.

    ``class_map`` maps ``agreedClass`` ids to labels (None or absent: skipped and counted); by default
    the preset's, else derived from the ``Classes`` names. ``test_slides`` (file names or stems, default
    the preset's) defines the predefined split; the preset fills scanner, tumour type, species, centre.
    """
    file = require_file(
        db_path, "the SlideRunner database", "Point at the .sqlite file (e.g. MITOS_WSI_CCMCT_ODAEL.sqlite)."
    )
    name = name or (preset.name if preset else dataset_name(file))
    class_map = class_map if class_map is not None else (preset.class_map if preset else None)
    if test_slides is None and preset is not None and preset.test_slides:
        test_slides = preset.test_slides
    ingest = Ingest(file)
    annotations, coords, slides, classes, votes = _read_tables(file, exclude_persons, ingest)
    class_names = {int(u): str(n) for u, n in zip(classes["uid"], classes["name"], strict=True)} if classes is not None else {}
    labels = _class_labels(file, class_map, class_names, ingest)

    if "deleted" in annotations:
        deleted = annotations["deleted"].fillna(0).astype(int) != 0
        ingest.skip("deleted in the database", annotations.loc[deleted, "uid"])
        annotations = annotations[~deleted]
    else:
        ingest.note("The database has no 'deleted' column (older schema): every annotation counts.")
    agreed = pd.to_numeric(annotations["agreedClass"], errors="coerce")
    no_class = agreed.isna() | (agreed == 0)
    ingest.skip("no agreed class", annotations.loc[no_class, "uid"])
    annotations = annotations[~no_class].assign(agreedClass=agreed[~no_class].astype(int))
    mapped = annotations["agreedClass"].map(labels)
    for cid, group in annotations[mapped.isna()].groupby("agreedClass"):
        ingest.skip(f"class {cid} {class_names.get(int(cid), '?')!r} not mapped", group["uid"])
    annotations = annotations[mapped.notna()].assign(label=mapped[mapped.notna()])
    annotations = _positions(annotations, coords, ingest)

    slide_names = _slide_paths(slides, ingest)
    annotations = annotations.assign(slide=pd.to_numeric(annotations["slide"], errors="coerce"))
    in_slides = annotations["slide"].isin(slide_names)
    ingest.skip("slide not in the Slides table", annotations.loc[~in_slides, "uid"])
    annotations = annotations[in_slides].join(_slide_sizes(slides), on="slide")
    annotations = ingest.positions(annotations.rename(columns={"uid": "row_id"})).rename(columns={"row_id": "uid"})
    if annotations.empty:
        return ingest.finish(name, pd.DataFrame())

    used = sorted({slide_names[int(s)] for s in annotations["slide"]})
    folder = Path(slides_dir).expanduser().resolve() if slides_dir is not None else _find_slides_dir(file, used)
    tests = {_stem(t) for t in test_slides} if test_slides is not None else None
    if tests is not None:
        unknown = sorted(tests - {_stem(n) for n in slide_names.values()})
        if unknown:
            shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
            ingest.note(f"{len(unknown)} predefined test slide(s) are not in this database: {shown}.")
    per_slide = {
        fn: {"image": str(folder / fn), "slide": _stem(fn),
             "split": "" if tests is None else ("test" if _stem(fn) in tests else "train")}
        for fn in used
    }
    frame = annotations.assign(filename=annotations["slide"].astype(int).map(slide_names)).drop(columns="slide")
    frame = frame.join(pd.DataFrame.from_dict(per_slide, orient="index"), on="filename")
    frame["cell_id"] = [f"{name}:{uid}" for uid in frame["uid"]]
    frame["dataset"] = name
    frame = _attach_votes(frame, votes, labels, class_names)
    frame = fill_domains(ingest, frame, preset, frame["filename"])
    frame = frame.rename(columns={"uid": "row_id"}).drop(
        columns=["filename", "agreedClass", "n"] + [c for c in ("type", "deleted") if c in frame])

    unannotated = sorted(set(slide_names.values()) - set(used))
    missing = missing_files(folder / fn for fn in used)
    if missing:
        ingest.note(f"{len(missing)} slide file(s) are missing from {folder}.")
    return ingest.finish(name, frame, missing_images=missing, unannotated_images=unannotated)


def _read_tables(file: Path, exclude_persons: Iterable[str], ingest: Ingest
                 ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
    """Annotations, coordinates, slides, classes and rater votes, read with only the columns that exist."""
    con = _connect(file)
    try:
        try:
            schema = table_columns(con)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"{file} is not a readable SQLite database: {exc}.", "Download it again.") from exc
        tables = _check_schema(file, schema)
        ann_cols = schema[tables["Annotations"]]
        fields = ["uid", "slide", "agreedClass"] + [c for c in ("type", "deleted") if c in ann_cols]
        annotations = _query(con, file, f'SELECT {", ".join(fields)} FROM "{tables["Annotations"]}"')
        order = ", orderIdx" if "orderIdx" in schema[tables["Annotations_coordinates"]] else ""
        coords = _query(con, file, f'SELECT annoId, coordinateX, coordinateY FROM '
                                   f'"{tables["Annotations_coordinates"]}" ORDER BY annoId{order}')
        slide_fields = ["uid", "filename"] + [c for c in ("width", "height", "directory") if c in schema[tables["Slides"]]]
        slides = _query(con, file, f'SELECT {", ".join(slide_fields)} FROM "{tables["Slides"]}"')
        classes = _query(con, file, f'SELECT uid, name FROM "{tables["Classes"]}"') if "Classes" in tables else None
        votes = _votes(con, file, tables, schema, exclude_persons, ingest)
    finally:
        con.close()
    if annotations.empty:
        raise DataError(f"{file} holds no annotations: the data set is empty.", "Point at a database with cells.")
    return annotations, coords, slides, classes, votes


def _positions(annotations: pd.DataFrame, coords: pd.DataFrame, ingest: Ingest) -> pd.DataFrame:
    """Each annotation's centre: the mean of its coordinate rows (a spot has one)."""
    centres = coords.groupby("annoId").agg(x=("coordinateX", "mean"), y=("coordinateY", "mean"),
                                           n=("coordinateX", "size"))
    annotations = annotations.join(centres, on="uid")
    kinds = annotations["type"].fillna(1).astype(int) if "type" in annotations else pd.Series(1, annotations.index)
    not_spot = ~kinds.isin(SPOT_TYPES) & annotations["x"].notna()
    if not_spot.any():
        by_type = Counter(ANNOTATION_TYPES.get(int(k), f"type {k}") for k in kinds[not_spot])
        ingest.note(f"{int(not_spot.sum())} annotation(s) are not spots ({dict(sorted(by_type.items()))}); "
                    "each cell position is the mean of its coordinates.")
    multi_spot = (~not_spot) & (annotations["n"] > 1)
    if multi_spot.any():
        ingest.note(f"{int(multi_spot.sum())} spot(s) have several coordinate rows; their mean was used.")
    return annotations


def _slide_sizes(slides: pd.DataFrame) -> pd.DataFrame:
    """Slide uid → image_width / image_height where the Slides table knows them (MIDOG leaves them NULL)."""
    sizes = pd.DataFrame(index=slides["uid"].astype(int))
    for column, target in (("width", "image_width"), ("height", "image_height")):
        values = slides[column] if column in slides else pd.Series(np.nan, index=slides.index)
        sizes[target] = pd.to_numeric(values, errors="coerce").to_numpy()
    return sizes


def _slide_paths(slides: pd.DataFrame, ingest: Ingest) -> dict[int, str]:
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
        ingest.note(
            f"{int(repeated.sum())} slide file names repeat; their folder was added to tell them apart."
        )
    return dict(zip(slides["uid"].astype(int), names, strict=True))


def _class_labels(
    file: Path, class_map: Mapping[int, str | None] | None, names: dict[int, str], ingest: Ingest
) -> dict[int, str]:
    if class_map is None:
        if not names:
            raise DataError(
                f"{file} has no Classes table, so class ids cannot be named.",
                "Pass a class map, e.g. {2: 'mitotic figure', 7: 'imposter'} for CCMCT.",
            )
        labels = {cid: label_from_class_name(n) for cid, n in names.items()}
        described = {cid: f"{names[cid]} → {lab}" for cid, lab in labels.items() if lab}
        ingest.note(f"Class map derived from the Classes table: {described}.")
    else:
        labels = {int(k): v for k, v in class_map.items()}
        clash = {
            cid: names[cid]
            for cid, lab in labels.items()
            if lab and cid in names and label_from_class_name(names[cid]) not in (None, lab)
        }
        if clash:
            ingest.note(
                f"The class map disagrees with the Classes table names {clash}; the class map was used."
            )
    return {cid: lab for cid, lab in labels.items() if lab}


def _votes(
    con: sqlite3.Connection,
    file: Path,
    tables: dict[str, str],
    schema: dict[str, list[str]],
    exclude_persons: Iterable[str],
    ingest: Ingest,
) -> pd.DataFrame | None:
    if "Annotations_label" not in tables:
        return None
    if not {"annoId", "class"} <= set(schema[tables["Annotations_label"]]):
        ingest.note("Annotations_label lacks annoId/class; rater votes were not read.")
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
                ingest.note(
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
    votes = [by_annotation.get(int(uid), []) for uid in frame["uid"].to_numpy()]
    return frame.assign(**rater_columns(votes, frame["label"]))


def _sniff(path: Path) -> bool:
    return path.is_file() and (path.suffix.lower() in (".sqlite", ".sqlite3", ".db") or is_sqlite(path))


FORMAT = Format(
    name="sliderunner",
    title="SlideRunner SQLite database (CCMCT, CMC, MIDOG, TUPAC16, MITOS-ATYPIA-14)",
    sniff=_sniff,
    load=lambda path, images_dir, preset: load_sliderunner(path, images_dir, preset=preset),
    priority=20,
)
