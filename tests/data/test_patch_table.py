"""Ready patches + CSV: the AMi-Br layout and a generic patch table."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from mitoviz.data.cells import IMPOSTER, MITOTIC
from mitoviz.data.formats.patch_table import load_patch_table
from mitoviz.data.presets import get_preset

from .formats import AMIBR_ROWS, write_amibr, write_png


def test_amibr_layout(tmp_path: Path) -> None:
    dataset = load_patch_table(write_amibr(tmp_path), preset=get_preset("amibr"))
    cells = dataset.cells.set_index("cell_id")
    assert len(cells) == 6
    assert cells["label"].value_counts().to_dict() == {"normal": 3, "atypical": 3}
    assert cells["x"].isna().all() and cells["y"].isna().all()
    assert cells.loc["amibr:MIDOG21_2", "image"] == str(tmp_path / "patches" / "normal" / "MIDOG21_2.png")
    assert cells.loc["amibr:MIDOG21_3", "image"] == str(tmp_path / "patches" / "atypical" / "MIDOG21_3.png")
    assert dataset.missing_images == [str(tmp_path / "patches" / "atypical" / "TUPAC16_2.png")]
    assert cells["slide"].value_counts().to_dict() == {
        "001.tiff": 2,
        "051.tiff": 1,
        "101.tiff": 1,
        "12_stitched1.tif": 1,
        "24.tif": 1,
    }
    assert cells["scanner"].to_dict() == {
        "amibr:MIDOG21_2": "Hamamatsu XR",
        "amibr:MIDOG21_3": "Hamamatsu XR",
        "amibr:MIDOG21_6": "Hamamatsu S360",
        "amibr:MIDOG21_11": "Aperio ScanScope CS2",
        "amibr:TUPAC16_1": "unknown",
        "amibr:TUPAC16_2": "unknown",
    }
    assert cells["source"].value_counts().to_dict() == {"MIDOG21": 4, "TUPAC16": 2}
    assert cells["centre"].to_dict() == {
        "amibr:MIDOG21_2": "UMC Utrecht",
        "amibr:MIDOG21_3": "UMC Utrecht",
        "amibr:MIDOG21_6": "UMC Utrecht",
        "amibr:MIDOG21_11": "UMC Utrecht",
        "amibr:TUPAC16_1": "TUPAC16 cases 01-23",
        "amibr:TUPAC16_2": "TUPAC16 cases 24-73",
    }
    assert set(cells["tumor_type"]) == {"human breast cancer"} and set(cells["species"]) == {"human"}
    assert cells.loc["amibr:MIDOG21_6", "rater_votes"] == "atypical;normal;atypical"
    assert math.isclose(cells.loc["amibr:MIDOG21_6", "agreement"], 2 / 3)
    assert cells.loc["amibr:MIDOG21_2", "rater_votes"] == "normal;normal"
    assert cells.loc["amibr:TUPAC16_1", "label"] == "normal"
    assert math.isclose(cells.loc["amibr:TUPAC16_1", "agreement"], 2 / 3)
    assert set(cells["split"]) == {""}  # no benchmark split file beside the CSV


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_generic_patch_table_with_detected_columns(tmp_path: Path) -> None:
    rows = [
        ["mf/a.png", "Mitosis", "s1", "Hammamatsu XR", "canine lymphoma", "train"],
        ["mf/b.png", "Mitosis", "s1", "Hammamatsu XR", "canine lymphoma", "train"],
        ["neg/c.png", "Hard negative", "s2", "Aperio CS2", "breast", "val"],
        ["neg/d.png", "Hard negative", "s3", "Aperio CS2", "breast", "test"],
    ]
    for rel, *_ in rows[:3]:
        write_png(tmp_path / "patches" / rel, size=32)
    path = _write(
        tmp_path / "patches.csv", ["image", "label", "slide", "scanner", "tumor_type", "split"], rows
    )
    dataset = load_patch_table(path)
    cells = dataset.cells.set_index("cell_id")
    assert cells["label"].value_counts().to_dict() == {MITOTIC: 2, IMPOSTER: 2}
    assert cells.loc["patches:a", "image"] == str(tmp_path / "patches" / "mf" / "a.png")
    assert cells["scanner"].value_counts().to_dict() == {"Hamamatsu XR": 2, "Aperio ScanScope CS2": 2}
    assert cells["tumor_type"].value_counts().to_dict() == {
        "canine lymphosarcoma": 2,
        "human breast cancer": 2,
    }
    assert cells["split"].value_counts().to_dict() == {"train": 2, "test": 2}
    assert cells["slide"].value_counts().to_dict() == {"s1": 2, "s2": 1, "s3": 1}
    assert dataset.missing_images == [str(tmp_path / "patches" / "neg" / "d.png")]
    assert any("'val'" in note for note in dataset.notes)


def test_a_source_column_is_kept_as_the_source_axis(tmp_path: Path) -> None:
    rows = [["a.png", "Mitosis", "MIDOG21"], ["b.png", "Hard negative", "TUPAC16"]]
    path = _write(tmp_path / "patches.csv", ["image", "label", "source"], rows)
    assert load_patch_table(path).cells["source"].tolist() == ["MIDOG21", "TUPAC16"]


def test_generic_patch_table_with_named_columns_and_label_map(tmp_path: Path) -> None:
    rows = [["x/1.png", "1"], ["x/2.png", "0"], ["y/1.png", "0"], ["y/3.png", "9"]]
    path = _write(tmp_path / "list.csv", ["file_path", "cls"], rows)
    dataset = load_patch_table(
        path,
        patches_dir=tmp_path,
        name="mine",
        image_column="file_path",
        label_column="cls",
        label_map={"1": MITOTIC, "0": IMPOSTER, "9": None},
    )
    cells = dataset.cells
    assert cells["label"].value_counts().to_dict() == {IMPOSTER: 2, MITOTIC: 1}
    assert dataset.skipped == {"label '9' not mapped": ["line 5"]}
    # patch stems repeat (x/1.png, y/1.png): ids fall back to the relative path
    assert sorted(cells["cell_id"]) == ["mine:x/1", "mine:x/2", "mine:y/1"]
    assert any("own slide" in note for note in dataset.notes)
    assert len(dataset.missing_images) == 3


def test_amibr_subtype_labels_from_a_named_column(tmp_path: Path) -> None:
    dataset = load_patch_table(write_amibr(tmp_path), name="amibr", label_column="expert1_label")
    cells = dataset.cells.set_index("cell_id")
    assert cells.loc["amibr:MIDOG21_3", "label"] == "amf multipolar"
    assert cells.loc["amibr:TUPAC16_1", "label"] == "amf other"
    # the patch folder still follows the majority class
    assert cells.loc["amibr:TUPAC16_1", "image"] == str(tmp_path / "patches" / "normal" / "TUPAC16_1.png")
    assert (cells["rater_votes"] == "").all()
    assert cells["label"].nunique() == 6


def test_amibr_benchmark_split_and_quirky_rows(tmp_path: Path) -> None:
    rows = [
        *AMIBR_ROWS,
        ("slide_x.tiff", "MIDOG21", 40, "NMF metaphase", "NMF metaphase", False, False, "", False),  # no image id
        (7, "midog 2021", 41, "NMF metaphase", "NMF metaphase", False, False, "", False),  # int slide, odd source
    ]
    path = write_amibr(tmp_path, rows, skip_patch=None)
    _write(tmp_path / "amibr_train_split.csv", ["", "slide", "dataset", "uid", "final_label", "dataset_uid"],
           [[0, "001.tiff", "MIDOG21", 2, "Normal", "MIDOG21_2"], [1, "001.tiff", "MIDOG21", 3, "Atypical", "MIDOG21_3"],
            [2, "24.tif", "TUPAC16", 2, "Atypical", "TUPAC16_2"]])
    dataset = load_patch_table(path, preset=get_preset("amibr"))
    cells = dataset.cells.set_index("cell_id")
    assert cells["split"].value_counts().to_dict() == {"test": 5, "train": 3}
    assert cells.loc["amibr:MIDOG21_40", "scanner"] == "unknown"
    assert dataset.adjusted == {"MIDOG21 slide name carries no image id (001-150): scanner unknown": ["line 8"]}
    assert cells.loc["amibr:MIDOG21_41", "scanner"] == "Hamamatsu XR"  # slide 7, source spelt 'midog 2021'
    assert {m["raw"] for m in dataset.normalised["source"]} == {"midog 2021"}
    assert any("amibr_train_split.csv" in note for note in dataset.notes)
