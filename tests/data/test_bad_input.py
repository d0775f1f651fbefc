"""Bad input matrix.

Files that are not the format at all get a MitovizError that says what and what to do. Rows a loader
can adjust are kept and reported; rows it cannot use are skipped and reported with their ids; with
``strict`` either becomes a DataError naming the reason (the ingestion policy, mitoviz.data.ingest).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from mitoviz.config import Settings
from mitoviz.data.cells import Dataset
from mitoviz.data.formats.cell_csv import load_cell_csv
from mitoviz.data.formats.midog import load_midog
from mitoviz.data.formats.patch_table import load_patch_table
from mitoviz.data.formats.sliderunner import load_sliderunner
from mitoviz.data.ingest import EDGE_TOLERANCE_PX, check_strict
from mitoviz.data.presets import get_preset
from mitoviz.data.sources import inspect_path, load_dataset
from mitoviz.errors import DataError, MitovizError, SpecError

from .formats import (
    AMIBR_ROWS,
    MIDOG22_ROWS,
    SRAnnotation,
    bbox,
    midog21_set,
    write_amibr,
    write_cell_csv,
    write_midog_json,
    write_sliderunner,
    write_tiff,
)

IMAGE = {"license": 1, "file_name": "001.tiff", "id": 1, "width": 1000, "height": 800}


def _json(tmp: Path, annotations: list[dict], images: list[dict] | None = None) -> Path:
    return write_midog_json(tmp / "mitoviz-test.json", images or [IMAGE], annotations)


def _annotation(**fields: object) -> dict:
    return {"bbox": bbox(100, 100), "category_id": 1, "image_id": 1, "id": 1, **fields}


def missing_json(tmp: Path) -> None:
    load_midog(tmp / "MIDOG++.json")


def missing_sqlite(tmp: Path) -> None:
    load_sliderunner(tmp / "MITOS_WSI_CCMCT_ODAEL.sqlite")


def missing_csv(tmp: Path) -> None:
    load_cell_csv(tmp / "cells.csv")


def missing_patch_csv(tmp: Path) -> None:
    load_patch_table(tmp / "AMI-BR.csv")


def missing_path(tmp: Path) -> None:
    load_dataset(tmp / "nowhere" / "MIDOG.json")


def folder_instead_of_file(tmp: Path) -> None:
    load_midog(tmp)


def json_missing_keys(tmp: Path) -> None:
    (tmp / "MIDOG.json").write_text(json.dumps({"images": [IMAGE]}))
    load_midog(tmp / "MIDOG.json")


def json_truncated(tmp: Path) -> None:
    midog21_set(tmp)
    text = (tmp / "MIDOG.json").read_text()
    (tmp / "MIDOG.json").write_text(text[: len(text) // 2])
    load_midog(tmp / "MIDOG.json")


def json_unknown_category(tmp: Path) -> Dataset:
    return load_midog(_json(tmp, [_annotation(), _annotation(id=2, category_id=5)]))





def json_unknown_image(tmp: Path) -> Dataset:
    return load_midog(_json(tmp, [_annotation(), _annotation(id=2, image_id=42)]))


def bbox_outside_image(tmp: Path) -> Dataset:
    return load_midog(_json(tmp, [_annotation(), _annotation(id=2, bbox=bbox(1200, 100))]))


def bbox_just_past_the_edge(tmp: Path) -> Dataset:  # the MIDOG++ quirk: a few px past the image edge
    return load_midog(_json(tmp, [_annotation(), _annotation(id=2, bbox=bbox(1003, 100))]))


def bbox_negative(tmp: Path) -> Dataset:
    return load_midog(_json(tmp, [_annotation(), _annotation(id=2, bbox=bbox(-40, 100))]))


def bbox_coco_xywh(tmp: Path) -> Dataset:
    return load_midog(_json(tmp, [_annotation(), _annotation(id=2, bbox=[300, 300, 50, 50])]))


def bbox_not_four_numbers(tmp: Path) -> Dataset:
    return load_midog(_json(tmp, [_annotation(), _annotation(id=2, bbox=[300, 300, "a", 350])]))


def annotation_without_bbox(tmp: Path) -> Dataset:
    return load_midog(_json(tmp, [_annotation(), {"category_id": 1, "image_id": 1, "id": 2}]))


def json_only_unusable_rows(tmp: Path) -> None:
    load_midog(_json(tmp, [_annotation(category_id=5)]))


def json_empty(tmp: Path) -> None:
    load_midog(_json(tmp, []))


def json_nothing_mapped(tmp: Path) -> None:
    load_midog(_json(tmp, [_annotation()]), class_map={1: None, 2: None})


def json_duplicate_ids(tmp: Path) -> Dataset:
    return load_midog(_json(tmp, [_annotation(id=7), _annotation(id=7, bbox=bbox(200, 200))]))


def sqlite_without_tables(tmp: Path) -> None:
    con = sqlite3.connect(tmp / "other.sqlite")
    con.execute("CREATE TABLE things (id INTEGER)")
    con.commit()
    con.close()
    load_sliderunner(tmp / "other.sqlite")


def sqlite_without_columns(tmp: Path) -> None:
    con = sqlite3.connect(tmp / "odd.sqlite")
    con.executescript(
        "CREATE TABLE Slides (uid INTEGER, filename TEXT);"
        "CREATE TABLE Annotations (uid INTEGER, slide INTEGER);"
        "CREATE TABLE Annotations_coordinates (uid INTEGER, coordinateX INTEGER, coordinateY INTEGER, annoId INTEGER);"
    )
    con.close()
    load_sliderunner(tmp / "odd.sqlite")


def not_sqlite(tmp: Path) -> None:
    (tmp / "MIDOG.sqlite").write_text("this is not a database\n")
    load_sliderunner(tmp / "MIDOG.sqlite")


def not_sqlite_via_load_dataset(tmp: Path) -> None:
    (tmp / "MITOS_WSI_CMC_MEL.sqlite").write_bytes(b"\x00" * 100)
    load_dataset(tmp / "MITOS_WSI_CMC_MEL.sqlite")


def sqlite_empty(tmp: Path) -> None:
    load_sliderunner(
        write_sliderunner(tmp / "empty.sqlite", [(1, "a.svs", None, None)], [(1, "Mitosis")], [], [])
    )


def sqlite_nothing_mapped(tmp: Path) -> None:
    path = write_sliderunner(
        tmp / "x.sqlite",
        [(1, "a.svs", None, None)],
        [(3, "Tumor cell")],
        [],
        [SRAnnotation(1, 1, 3, [(5, 5)])],
    )
    load_sliderunner(path, class_map={2: "mitotic figure", 7: "imposter"})


def sqlite_without_class_names(tmp: Path) -> None:
    path = write_sliderunner(
        tmp / "x.sqlite", [(1, "a.svs", None, None)], [], [], [SRAnnotation(1, 1, 1, [(5, 5)])], "old"
    )
    con = sqlite3.connect(path)
    con.execute("DROP TABLE Classes")
    con.commit()
    con.close()
    load_sliderunner(path)


def json_same_box_two_labels(tmp: Path) -> Dataset:
    return load_midog(_json(tmp, [_annotation(), _annotation(id=2, bbox=bbox(300, 300)),
                                  _annotation(id=3, bbox=bbox(300, 300), category_id=2)]))


def sqlite_same_spot_two_labels(tmp: Path) -> Dataset:
    path = write_sliderunner(
        tmp / "x.sqlite", [(1, "a.svs", 100, 100)], [(1, "Mitosis"), (2, "Nonmitosis")], [],
        [SRAnnotation(1, 1, 1, [(50, 5)]), SRAnnotation(2, 1, 1, [(20, 20)]), SRAnnotation(3, 1, 2, [(20, 20)])],
    )
    return load_sliderunner(path)


def amibr_repeated_row(tmp: Path) -> Dataset:
    return load_patch_table(write_amibr(tmp, [*AMIBR_ROWS, AMIBR_ROWS[0]], skip_patch=None))


def csv_bad_row_after_a_blank_line(tmp: Path) -> Dataset:  # line numbers are the file's, blank lines counted
    path = write_cell_csv(tmp / "cells.csv", MIDOG22_ROWS)
    path.write_text(path.read_text() + "\n" + "x,5,1,a.tiff,1,train,t\n")
    return load_cell_csv(path)


def sqlite_cell_outside_slide(tmp: Path) -> Dataset:
    path = write_sliderunner(
        tmp / "x.sqlite", [(1, "a.svs", 100, 100)], [(1, "Mitosis")], [],
        [SRAnnotation(1, 1, 1, [(50, 5)]), SRAnnotation(2, 1, 1, [(500, 5)])],
    )
    return load_sliderunner(path)


def csv_empty(tmp: Path) -> None:
    load_cell_csv(write_cell_csv(tmp / "cells.csv", []))


def csv_zero_bytes(tmp: Path) -> None:
    (tmp / "cells.csv").write_bytes(b"")
    load_cell_csv(tmp / "cells.csv")


def csv_zero_bytes_inspected(tmp: Path) -> None:
    (tmp / "cells.csv").write_bytes(b"")
    inspect_path(tmp / "cells.csv")


def csv_without_label(tmp: Path) -> None:
    load_cell_csv(write_cell_csv(tmp / "cells.csv", [(1, 2, "a.tiff")], header=["x", "y", "filename"]))


def patch_csv_without_label(tmp: Path) -> None:
    load_patch_table(write_cell_csv(tmp / "patches.csv", [("a.png", "s1")], header=["image", "slide"]))


def patch_csv_without_image(tmp: Path) -> None:
    load_patch_table(write_cell_csv(tmp / "patches.csv", [("mitosis", "s1")], header=["label", "slide"]))


def patch_csv_duplicate_ids(tmp: Path) -> Dataset:
    rows = [("b.png", "mitosis"), ("c.png", "hard negative"), ("a.png", "mitosis"), ("a.png", "hard negative")]
    return load_patch_table(write_cell_csv(tmp / "patches.csv", rows, header=["image", "label"]))


def csv_conflicting_duplicates(tmp: Path) -> Dataset:
    rows = [*MIDOG22_ROWS, (4361.0, 371.0, 1, "001.tiff", 1, "train", "human breast cancer")]
    return load_cell_csv(write_cell_csv(tmp / "cells.csv", rows))


def csv_bad_coordinates(tmp: Path) -> Dataset:
    return load_cell_csv(write_cell_csv(tmp / "cells.csv", [*MIDOG22_ROWS, ("ten", 5, 1, "a.tiff", 1, "train", "t")]))


def csv_bad_split(tmp: Path) -> Dataset:
    return load_cell_csv(write_cell_csv(tmp / "cells.csv", [*MIDOG22_ROWS, (10, 5, 1, "a.tiff", 1, "holdout", "t")]))


def csv_negative_coordinates(tmp: Path) -> Dataset:  # FMC's MIDOGpp.csv: two cells just past the edge
    return load_cell_csv(write_cell_csv(tmp / "cells.csv", [*MIDOG22_ROWS, (-10, 5, 1, "a.tiff", 1, "train", "t")]))


def csv_far_negative_coordinates(tmp: Path) -> Dataset:
    return load_cell_csv(write_cell_csv(tmp / "cells.csv", [*MIDOG22_ROWS, (-900, 5, 1, "a.tiff", 1, "train", "t")]))


def csv_past_the_right_edge(tmp: Path) -> Dataset:  # the image's header gives its size (a table has none)
    write_tiff(tmp / "a.tiff", width=64, height=32)
    rows = [(10, 5, 1, "a.tiff", 1, "train", "t"), (70, 5, 0, "a.tiff", 1, "train", "t"),
            (200, 5, 1, "a.tiff", 1, "train", "t")]
    return load_cell_csv(write_cell_csv(tmp / "cells.csv", rows))


def test_damaged_images_of_a_cell_table_are_named_and_their_cells_kept(tmp_path: Path) -> None:
    (tmp_path / "a.tiff").write_bytes(b"garbage")
    write_tiff(tmp_path / "b.tiff", width=64, height=32)
    rows = [(10, 5, 1, "a.tiff", 1, "train", "t"), (900, 5, 0, "a.tiff", 1, "train", "t"),
            (20, 5, 0, "b.tiff", 2, "train", "t")]
    dataset = load_cell_csv(write_cell_csv(tmp_path / "cells.csv", rows))
    assert len(dataset.cells) == 3  # no size to check against: kept, and the patch reader says what it cannot read
    assert "1 image file(s) exist but cannot be read (damaged, or not images): a.tiff." in dataset.notes


def slide_table_instead_of_json(tmp: Path) -> None:
    (tmp / "datasets_xvalidation.csv").write_text(
        "Slide;Dataset;Tumor;Scanner;Origin;Species\n1;train;a;b;c;d\n"
    )
    load_dataset(tmp / "datasets_xvalidation.csv")


def folder_with_several_annotation_files(tmp: Path) -> None:
    write_cell_csv(tmp / "a.csv", MIDOG22_ROWS)
    write_cell_csv(tmp / "b.csv", MIDOG22_ROWS)
    load_dataset(tmp)


def folder_without_annotation_file(tmp: Path) -> None:
    (tmp / "readme.txt").write_text("nothing here")
    inspect_path(tmp)


def unknown_format(tmp: Path) -> None:
    (tmp / "cells.parquet").write_bytes(b"PAR1")
    load_dataset(tmp / "cells.parquet")


def unknown_preset(tmp: Path) -> None:
    load_dataset("midog2030")


def unknown_preset_in_get(tmp: Path) -> None:
    get_preset("")


def preset_not_on_disk(tmp: Path) -> None:
    load_dataset("cmc")


def bad_label_coding(tmp: Path) -> None:
    load_cell_csv(write_cell_csv(tmp / "cells.csv", MIDOG22_ROWS), label_coding="0/1/2")


def amibr_unknown_column(tmp: Path) -> None:
    load_patch_table(write_amibr(tmp), label_column="subtype")


CASES: list[tuple[Callable[[Path], None], type[MitovizError], str]] = [
    (missing_json, DataError, "does not exist"),
    (missing_sqlite, DataError, "does not exist"),
    (missing_csv, DataError, "does not exist"),
    (missing_patch_csv, DataError, "does not exist"),
    (missing_path, DataError, "does not exist"),
    (folder_instead_of_file, DataError, "is a folder"),
    (json_missing_keys, DataError, "lacks the key(s) ['annotations', 'categories']"),
    (json_truncated, DataError, "not valid JSON"),
    (json_empty, DataError, "no annotations"),
    (json_nothing_mapped, DataError, "no usable annotated cells"),
    (json_only_unusable_rows, DataError, "no usable annotated cells (skipped: category id 5"),
    (sqlite_without_tables, DataError, "not a SlideRunner database"),
    (sqlite_without_columns, DataError, "lacks the column(s) ['agreedClass']"),
    (not_sqlite, DataError, "not an SQLite database"),
    (not_sqlite_via_load_dataset, DataError, "not an SQLite database"),
    (sqlite_empty, DataError, "holds no annotations"),
    (sqlite_nothing_mapped, DataError, "no usable annotated cells"),
    (sqlite_without_class_names, DataError, "no Classes table"),
    (csv_empty, DataError, "no rows"),
    (csv_zero_bytes, DataError, "is empty"),
    (csv_zero_bytes_inspected, DataError, "is empty"),  # a traceback (csv.Error) before
    (csv_without_label, DataError, "lacks the column(s) ['label']"),
    (patch_csv_without_label, DataError, "no label column"),
    (patch_csv_without_image, DataError, "no image path column"),
    (slide_table_instead_of_json, DataError, "slide table, not an annotation file"),
    (folder_with_several_annotation_files, DataError, "several annotation files"),
    (folder_without_annotation_file, DataError, "no annotation file"),
    (unknown_format, DataError, "not a known annotation format"),
    (unknown_preset, SpecError, "Unknown data set preset 'midog2030'"),
    (unknown_preset_in_get, SpecError, "Unknown data set preset"),
    (preset_not_on_disk, DataError, "was not found under the data roots"),
    (bad_label_coding, SpecError, "Unknown label coding"),
    (amibr_unknown_column, DataError, "no column 'subtype'"),
]


OUTSIDE_FAR = f"centre more than {EDGE_TOLERANCE_PX} px outside the image"
OUTSIDE_NEAR = f"centre up to {EDGE_TOLERANCE_PX} px past the image edge: kept, patch padded"
# (make, cells kept, adjusted {reason: ids}, skipped {reason: ids})
ROW_CASES: list[tuple[Callable[[Path], Dataset], int, dict[str, list[str]], dict[str, list[str]]]] = [
    (json_unknown_category, 1, {}, {"category id 5 not in 'categories'": ["2"]}),
    (json_unknown_image, 1, {}, {"image id not listed in 'images'": ["2"]}),
    (bbox_outside_image, 1, {}, {OUTSIDE_FAR: ["2"]}),
    (bbox_just_past_the_edge, 2, {OUTSIDE_NEAR: ["2"]}, {}),
    (bbox_negative, 2, {OUTSIDE_NEAR: ["2"]}, {}),
    (bbox_coco_xywh, 1, {}, {"bbox has x2 < x1 or y2 < y1 (COCO [x, y, w, h]? MIDOG boxes are [x1, y1, x2, y2])": ["2"]}),
    (bbox_not_four_numbers, 1, {}, {"no 4-number bbox [x1, y1, x2, y2]": ["2"]}),
    (annotation_without_bbox, 1, {}, {"no 4-number bbox [x1, y1, x2, y2]": ["2"]}),
    (json_duplicate_ids, 2, {"id repeats in the file: later rows get a #n suffix": ["7"]}, {}),
    (json_same_box_two_labels, 1, {}, {"one position with two different labels": ["2", "3"]}),
    (sqlite_same_spot_two_labels, 1, {}, {"one position with two different labels": ["2", "3"]}),
    (amibr_repeated_row, 6, {}, {"exact duplicate of another row": ["line 8"]}),
    (csv_bad_row_after_a_blank_line, 5, {}, {"no position (x/y missing or not numbers)": ["line 8"]}),
    (sqlite_cell_outside_slide, 1, {}, {OUTSIDE_FAR: ["2"]}),
    (csv_conflicting_duplicates, 4, {}, {"one position with two different labels": ["line 2", "line 7"]}),
    (csv_bad_coordinates, 5, {}, {"no position (x/y missing or not numbers)": ["line 7"]}),
    (csv_bad_split, 6, {"split value 'holdout' is not train, val or test: no predefined split": ["line 7"]}, {}),
    (csv_negative_coordinates, 6, {OUTSIDE_NEAR: ["line 7"]}, {}),
    (csv_far_negative_coordinates, 5, {}, {OUTSIDE_FAR: ["line 7"]}),
    (csv_past_the_right_edge, 2, {OUTSIDE_NEAR: ["line 3"]}, {OUTSIDE_FAR: ["line 4"]}),
    (patch_csv_duplicate_ids, 2, {}, {"one position with two different labels": ["line 4", "line 5"]}),
]


@pytest.mark.parametrize(("make", "kept", "adjusted", "skipped"), ROW_CASES, ids=[c[0].__name__ for c in ROW_CASES])
def test_rows_are_kept_or_skipped_and_reported(
    make: Callable[[Path], Dataset], kept: int, adjusted: dict, skipped: dict, tmp_path: Path
) -> None:
    dataset = make(tmp_path)
    assert len(dataset.cells) == kept
    assert dataset.adjusted == adjusted and dataset.skipped == skipped
    with pytest.raises(DataError) as info:
        check_strict(dataset)
    assert next(iter({**adjusted, **skipped})) in info.value.what and "strict" in info.value.what
    assert info.value.fix


def test_unknown_vote_category_is_noted_not_refused(tmp_path: Path) -> None:
    dataset = load_midog(_json(tmp_path, [_annotation(labels=[1, 9])]))
    assert dataset.cells["rater_votes"].tolist() == ["mitotic figure;class 9"]
    assert any("category id(s) [9]" in note for note in dataset.notes)
    assert check_strict(dataset) is dataset  # a note, not a changed row


def test_strict_loading_through_the_preset_and_inspect(tmp_path: Path, settings: Settings) -> None:
    path = write_cell_csv(tmp_path / "MIDOGpp.csv", [(-3, 5, 1, "001.tiff", 1, "train", "breast"), (9, 9, 2, "001.tiff",
                                                                                                     1, "train", "breast")])
    assert inspect_path(path, settings)["n_adjusted"] == 1
    with pytest.raises(DataError, match="strict mode refuses"):
        inspect_path(path, settings, strict=True)
    with pytest.raises(DataError, match="strict mode refuses"):
        load_dataset(path, settings, strict=True)


@pytest.mark.parametrize(("make", "error", "says"), CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_input(
    make: Callable[[Path], None], error: type[MitovizError], says: str, tmp_path: Path, settings: Settings
) -> None:
    with pytest.raises(MitovizError) as info:
        make(tmp_path)
    assert type(info.value) is error, f"{type(info.value).__name__}: {info.value}"
    assert says in info.value.what
    assert info.value.fix, "the message must say what to do"


def test_unknown_preset_names_the_known_ones() -> None:
    with pytest.raises(SpecError) as info:
        load_dataset("midog2030")
    assert "midogpp" in info.value.fix and "ccmct" in info.value.fix


def test_preset_not_on_disk_says_where_to_get_it(settings: Settings) -> None:
    with pytest.raises(DataError) as info:
        load_dataset("midogpp", settings)
    assert "https://github.com/DeepMicroscopy/MIDOGpp" in info.value.fix


def test_failed_load_leaves_the_database_untouched(tmp_path: Path) -> None:
    path = write_sliderunner(
        tmp_path / "x.sqlite",
        [(1, "a.svs", 100, 100)],
        [(1, "Mitosis")],
        [],
        [SRAnnotation(1, 1, 1, [(500, 5)])],
    )
    before = path.read_bytes()
    with pytest.raises(DataError):
        load_sliderunner(path)
    assert path.read_bytes() == before
    assert not (tmp_path / "x.sqlite-journal").exists() and not (tmp_path / "x.sqlite-wal").exists()
