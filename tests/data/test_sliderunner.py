"""SlideRunner loader on real SQLite files: a v2 (MIDOG-era) database with triggers, an old CCMCT one."""

from __future__ import annotations

import hashlib
import math
import sqlite3
from pathlib import Path

import pytest

from mitoviz.data.cells import IMPOSTER, MITOTIC
from mitoviz.data.formats.sliderunner import load_sliderunner, read_classes
from mitoviz.data.presets import CCMCT_TEST_SLIDES, get_preset

from .formats import (
    CCMCT_TEST,
    CCMCT_TRAIN,
    SRAnnotation,
    ccmct_old_db,
    midog_v2_db,
    write_sliderunner,
    write_tiff,
)

MIDOG_MAP = {1: MITOTIC, 2: IMPOSTER}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_v2_database_has_triggers_that_break_plain_writes(tmp_path: Path) -> None:
    path = midog_v2_db(tmp_path)
    con = sqlite3.connect(path)
    with pytest.raises(sqlite3.OperationalError, match="no such function: generate_uuid"):
        con.execute("INSERT INTO Annotations (slide, type, agreedClass) VALUES (1, 1, 1)")
    con.close()


def test_v2_counts_votes_deleted_and_polygon(tmp_path: Path) -> None:
    path = midog_v2_db(tmp_path)
    before = _digest(path)
    dataset = load_sliderunner(path, class_map=MIDOG_MAP, name="midog21")
    assert _digest(path) == before, "the loader must never write to the database"
    cells = dataset.cells.set_index("cell_id")
    assert len(cells) == 5
    assert cells["label"].value_counts().to_dict() == {IMPOSTER: 3, MITOTIC: 2}
    assert dataset.skipped == {"deleted in the database": ["3"]}
    assert "midog21:3" not in cells.index
    assert (cells.loc["midog21:1", "x"], cells.loc["midog21:1", "y"]) == (4361.0, 371.0)
    # the polygon's position is the mean of its four corners
    assert (cells.loc["midog21:4", "x"], cells.loc["midog21:4", "y"]) == (20.0, 25.0)
    assert any("POLYGON" in note for note in dataset.notes)
    # RetinaNet label rows are not rater votes
    assert cells.loc["midog21:2", "rater_votes"] == "mitotic figure;imposter;mitotic figure"
    assert math.isclose(cells.loc["midog21:2", "agreement"], 2 / 3)
    assert cells.loc["midog21:1", "agreement"] == 1.0
    assert cells.loc["midog21:6", "rater_votes"] == "" and math.isnan(cells.loc["midog21:6", "agreement"])
    assert cells["slide"].value_counts().to_dict() == {"001": 2, "002": 2, "051": 1}
    assert cells.loc["midog21:1", "image"] == str(tmp_path / "001.tiff")
    assert dataset.missing_images == [str(tmp_path / "002.tiff")]
    assert dataset.unannotated_images == ["003.tiff"]
    assert set(cells["split"]) == {""}


def test_v2_class_map_derived_from_class_names(tmp_path: Path) -> None:
    dataset = load_sliderunner(midog_v2_db(tmp_path))
    assert dataset.cells["label"].value_counts().to_dict() == {IMPOSTER: 3, MITOTIC: 2}
    assert any("derived from the Classes table" in note for note in dataset.notes)


def test_old_ccmct_schema_classes_split_and_skips(tmp_path: Path) -> None:
    path = ccmct_old_db(tmp_path)
    assert read_classes(path)[7] == "Mitotic figure lookalike"
    dataset = load_sliderunner(path, preset=get_preset("ccmct"))
    assert get_preset("ccmct").test_slides == CCMCT_TEST_SLIDES
    cells = dataset.cells.set_index("cell_id")
    assert len(cells) == 6
    assert cells["label"].value_counts().to_dict() == {MITOTIC: 3, IMPOSTER: 3}
    assert {k: len(v) for k, v in dataset.skipped.items()} == {
        "class 1 'Granulocyte' not mapped": 1,
        "class 3 'Tumor cell' not mapped": 2,
        "class 4 'Ambiguous' not mapped": 1,
    }
    assert any("no 'deleted' column" in note for note in dataset.notes)
    absent = next(note for note in dataset.notes if "predefined test slide(s) are not in this database" in note)
    assert absent.startswith("10 predefined") and absent.endswith(" and 5 more.")  # the preset's other 10 of 11
    test_stem, train_stem = CCMCT_TEST.removesuffix(".svs"), CCMCT_TRAIN.removesuffix(".svs")
    assert cells.groupby("split")["slide"].unique().map(list).to_dict() == {
        "test": [test_stem],
        "train": [train_stem],
    }
    assert cells.groupby(["split", "label"]).size().to_dict() == {
        ("test", IMPOSTER): 1,
        ("test", MITOTIC): 2,
        ("train", IMPOSTER): 2,
        ("train", MITOTIC): 1,
    }
    # the WSI folder one level up (databases/ → WSI/) is found
    assert cells.loc["ccmct:1", "image"] == str(tmp_path / "WSI" / CCMCT_TEST)
    assert dataset.missing_images == [str(tmp_path / "WSI" / CCMCT_TRAIN)]
    assert set(cells["scanner"]) == {"Aperio ScanScope CS2"}
    assert set(cells["tumor_type"]) == {"canine cutaneous mast cell tumor"}
    assert set(cells["species"]) == {"canine"}
    assert cells.loc["ccmct:2", "rater_votes"] == "mitotic figure;imposter"
    assert cells.loc["ccmct:2", "agreement"] == 0.5


def test_class_map_that_contradicts_class_names_is_noted(tmp_path: Path) -> None:
    dataset = load_sliderunner(ccmct_old_db(tmp_path), class_map={2: IMPOSTER, 7: MITOTIC})
    assert dataset.cells["label"].value_counts().to_dict() == {IMPOSTER: 3, MITOTIC: 3}
    assert any("disagrees with the Classes table" in note for note in dataset.notes)


def test_explicit_slides_dir(tmp_path: Path) -> None:
    path = ccmct_old_db(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    dataset = load_sliderunner(path, slides_dir=elsewhere, class_map={2: MITOTIC, 7: IMPOSTER})
    assert sorted(dataset.missing_images) == sorted(str(elsewhere / f) for f in (CCMCT_TEST, CCMCT_TRAIN))
    assert set(dataset.cells["split"]) == {""}


def test_repeated_file_names_are_told_apart_by_their_folder(tmp_path: Path) -> None:
    """TUPAC16-style tiles: the same ``01.tif`` in folders ``01/`` and ``02/``."""
    slides = [
        (1, "01.tif", 2000, 2000, "D:\\TUPAC\\01"),
        (2, "01.tif", 2000, 2000, "/mnt/TUPAC/02"),
        (3, "02.tif", 2000, 2000, "/mnt/TUPAC/02"),
    ]
    annotations = [
        SRAnnotation(1, 1, 1, [(10, 20)]),
        SRAnnotation(2, 2, 2, [(30, 40)]),
        SRAnnotation(3, 3, 1, [(50, 60)]),
    ]
    write_tiff(tmp_path / "01" / "01.tif")
    path = write_sliderunner(
        tmp_path / "TUPAC.sqlite", slides, [(1, "Mitose"), (2, "Hard negative")], [], annotations, "old"
    )
    dataset = load_sliderunner(path, name="tupac", preset=get_preset("tupac16"))
    cells = dataset.cells.set_index("cell_id")
    assert cells["slide"].to_dict() == {"tupac:1": "01/01", "tupac:2": "02/01", "tupac:3": "02"}
    assert cells.loc["tupac:1", "image"] == str(tmp_path / "01" / "01.tif")
    assert cells.loc["tupac:2", "image"] == str(tmp_path / "02" / "01.tif")
    assert dataset.missing_images == [str(tmp_path / f) for f in ("02.tif", "02/01.tif")]
    assert any("repeat" in note for note in dataset.notes)
    assert set(dataset.cells["tumor_type"]) == {"human breast cancer"}
    assert cells["centre"].to_dict() == {"tupac:1": "TUPAC16 cases 01-23", "tupac:2": "TUPAC16 cases 01-23",
                                         "tupac:3": "TUPAC16 cases 01-23"}
