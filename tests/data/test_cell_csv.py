"""The benchmark cell-table CSV in both label codings."""

from __future__ import annotations

from pathlib import Path

import pytest

from mitoviz.data.cells import IMPOSTER, MITOTIC
from mitoviz.data.formats import detect_format
from mitoviz.data.formats.cell_csv import load_cell_csv
from mitoviz.data.presets import get_preset
from mitoviz.errors import DataError

from .formats import MIDOG22_ROWS, MIDOGPP_CSV_ROWS, write_cell_csv, write_tiff


def test_one_zero_coding_with_val_split(tmp_path: Path) -> None:
    path = write_cell_csv(tmp_path / "MIDOG2022_training_tiff.csv", MIDOG22_ROWS)
    write_tiff(tmp_path / "images" / "001.tiff", width=4400, height=400)  # holds the two cells of 001.tiff
    dataset = load_cell_csv(path, name="midog22")
    cells = dataset.cells.set_index("cell_id")
    assert cells["label"].value_counts().to_dict() == {MITOTIC: 3, IMPOSTER: 2}
    assert any("1 = mitotic figure, 0 = imposter" in note for note in dataset.notes)
    anchor = cells.loc["midog22:001.tiff:4361:371"]
    assert (anchor["x"], anchor["y"], anchor["label"]) == (4361.0, 371.0, IMPOSTER)
    assert anchor["image"] == str(tmp_path / "images" / "001.tiff")
    assert cells.loc["midog22:002.tiff:300.5:400.5", "split"] == "test"
    assert cells["split"].value_counts().to_dict() == {"train": 4, "test": 1}
    assert any("'val' split are kept as the test side" in note for note in dataset.notes)
    assert cells["tumor_type"].value_counts().to_dict() == {
        "human breast cancer": 3,
        "canine lymphosarcoma": 2,
    }
    assert cells["slide"].value_counts().to_dict() == {"1": 2, "245": 2, "2": 1}
    assert dataset.missing_images == [str(tmp_path / "images" / f) for f in ("002.tiff", "245.tiff")]
    assert set(cells["scanner"]) == {"unknown"}


def test_one_two_coding(tmp_path: Path) -> None:
    path = write_cell_csv(tmp_path / "MIDOGpp.csv", MIDOGPP_CSV_ROWS)
    dataset = load_cell_csv(path)
    assert dataset.name == "midogpp"
    assert dataset.cells["label"].value_counts().to_dict() == {IMPOSTER: 3, MITOTIC: 1}
    assert any("1 = mitotic figure, 2 = imposter" in note for note in dataset.notes)
    assert dataset.cells["split"].value_counts().to_dict() == {"train": 2, "test": 2}
    assert dataset.skipped == {}
    tabs = tmp_path / "tabs" / "MIDOGpp.tsv"
    tabs.parent.mkdir()
    tabs.write_text(path.read_text().replace(",", "\t"))  # the same table, tab-separated
    assert detect_format(tabs).name == "cell_csv"
    assert load_cell_csv(tabs).cells["label"].tolist() == dataset.cells["label"].tolist()


def test_coding_override_skips_and_counts_other_values(tmp_path: Path) -> None:
    path = write_cell_csv(tmp_path / "t.csv", MIDOGPP_CSV_ROWS)
    dataset = load_cell_csv(path, label_coding="1/0")
    assert dataset.cells["label"].tolist() == [MITOTIC]
    assert dataset.skipped == {"label '2' not mapped": ["line 2", "line 4", "line 5"]}
    mapped = load_cell_csv(path, label_coding={1: IMPOSTER, 2: MITOTIC})
    assert mapped.cells["label"].value_counts().to_dict() == {MITOTIC: 3, IMPOSTER: 1}


def test_ccmct_table_without_tumour_column(tmp_path: Path) -> None:
    rows = [
        (1000, 1000, 1, "be10fa37ad6e88e1f406.svs", 1, "test"),
        (1100, 1000, 0, "be10fa37ad6e88e1f406.svs", 1, "test"),
        (2000, 2000, 1, "0a1b2c3d4e5f60718293.svs", 2, "train"),
        (2000, 2000, 1, "0a1b2c3d4e5f60718293.svs", 2, "train"),  # exact repeat: dropped, counted
    ]
    path = write_cell_csv(
        tmp_path / "ccmct.csv", rows, header=["x", "y", "label", "filename", "slide", "split"]
    )
    dataset = load_cell_csv(path, preset=get_preset("ccmct"))
    cells = dataset.cells
    assert len(cells) == 3
    assert dataset.skipped == {"exact duplicate of another row": ["line 5"]}
    assert set(cells["species"]) == {"canine"}
    assert set(cells["tumor_type"]) == {"canine cutaneous mast cell tumor"}
    assert set(cells["scanner"]) == {"Aperio ScanScope CS2"}
    assert cells.groupby("split").size().to_dict() == {"test": 2, "train": 1}


def test_scanner_column_and_text_labels(tmp_path: Path) -> None:
    rows = [
        (10, 10, "mitotic figure", "a.tiff", "a", "train", "human melanoma", "Hammamatsu XR"),
        (20, 20, "hard negative", "a.tiff", "a", "train", "human melanoma", "Hamamatsu XR"),
    ]
    header = ["x", "y", "label", "filename", "slide", "split", "tumortype", "scanner"]
    dataset = load_cell_csv(write_cell_csv(tmp_path / "t.csv", rows, header=header))
    assert dataset.cells["label"].tolist() == [MITOTIC, IMPOSTER]
    assert set(dataset.cells["scanner"]) == {"Hamamatsu XR"}


def test_ambiguous_numeric_coding_is_an_error(tmp_path: Path) -> None:
    rows = [
        (10, 10, 0, "a.tiff", "a", "train", "t"),
        (20, 20, 1, "a.tiff", "a", "train", "t"),
        (30, 30, 2, "a.tiff", "a", "train", "t"),
    ]
    with pytest.raises(DataError, match="fit neither coding") as info:
        load_cell_csv(write_cell_csv(tmp_path / "t.csv", rows))
    assert "label_coding" in info.value.fix


def test_extra_text_columns_are_kept_as_domain_candidates(tmp_path: Path) -> None:
    rows = [(10, 10, 1, "a.tiff", "a", "train", "t", "lab one"), (20, 20, 0, "b.tiff", "b", "test", "t", "lab two")]
    header = ["x", "y", "label", "filename", "slide", "split", "tumortype", "lab"]
    cells = load_cell_csv(write_cell_csv(tmp_path / "t.csv", rows, header=header)).cells
    assert cells["lab"].tolist() == ["lab one", "lab two"]


def test_label_codes_are_listed_as_normalised(tmp_path: Path) -> None:
    dataset = load_cell_csv(write_cell_csv(tmp_path / "MIDOGpp.csv", MIDOGPP_CSV_ROWS))
    merges = {(m["raw"], m["normalised"]): m["rows"] for m in dataset.normalised["label"]}
    assert merges == {("1", MITOTIC): 1, ("2", IMPOSTER): 3}
