"""MIDOG 2021 / MIDOG++ loader on files written in the real formats."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from mitoviz.data.cells import IMPOSTER, MITOTIC
from mitoviz.data.formats.midog import load_midog
from mitoviz.data.presets import get_preset
from mitoviz.data.vocab import (
    ATYPICAL,
    NORMAL,
    canonical_scanner,
    canonical_species,
    canonical_tumor,
    label_from_class_name,
    midog_domain,
    midog_id,
    tupac_case,
    tupac_centre,
)

from .formats import (
    ANCHOR_BBOX,
    MIDOG_CATEGORIES,
    bbox,
    midog21_set,
    midogpp_set,
    write_midog_json,
    write_split_csv,
    write_tiff,
)


def _by(cells: pd.DataFrame, column: str) -> dict[str, dict[str, int]]:
    table = pd.crosstab(cells[column], cells["label"])
    return {str(k): {str(c): int(v) for c, v in row.items() if v} for k, row in table.iterrows()}


def test_midog21_counts_by_scanner_and_class(tmp_path: Path) -> None:
    dataset = load_midog(midog21_set(tmp_path), preset=get_preset("midog21"))
    cells = dataset.cells
    assert len(cells) == 14
    assert cells["label"].value_counts().to_dict() == {IMPOSTER: 8, MITOTIC: 6}
    assert _by(cells, "scanner") == {
        "Aperio ScanScope CS2": {IMPOSTER: 3, MITOTIC: 1},
        "Hamamatsu S360": {IMPOSTER: 3, MITOTIC: 2},
        "Hamamatsu XR": {IMPOSTER: 2, MITOTIC: 3},
    }
    assert set(cells["tumor_type"]) == {"human breast cancer"}
    assert set(cells["split"]) == {""}
    assert cells["slide"].value_counts().to_dict() == {"051": 4, "101": 4, "001": 3, "002": 2, "052": 1}
    assert dataset.unannotated_images == ["151.tiff", "152.tiff"]
    assert dataset.missing_images == [str(tmp_path / "images" / "052.tiff")]
    assert not dataset.synthetic
    assert (cells["rater_votes"] == "").all() and cells["agreement"].isna().all()


def test_validation_anchor_bbox_is_x1y1x2y2(tmp_path: Path) -> None:
    cells = load_midog(midog21_set(tmp_path), preset=get_preset("midog21")).cells.set_index("cell_id")
    anchor = cells.loc["midog21:1"]
    assert ANCHOR_BBOX == [4336, 346, 4386, 396]
    assert (anchor["x"], anchor["y"]) == (4361.0, 371.0)
    assert anchor["label"] == IMPOSTER
    assert anchor["image"] == str(tmp_path / "images" / "001.tiff")
    assert anchor["scanner"] == "Hamamatsu XR"
    # a box that reaches past the image edge keeps its centre inside: allowed
    assert (cells.loc["midog21:3", "x"], cells.loc["midog21:3", "y"]) == (7190.0, 5390.0)


def test_cell_ids_are_stable_when_the_file_is_reordered(tmp_path: Path) -> None:
    path = midog21_set(tmp_path)
    first = load_midog(path).cells.set_index("cell_id")[["x", "y", "label"]]
    data = json.loads(path.read_text())
    data["annotations"].reverse()
    data["images"].reverse()
    path.write_text(json.dumps(data))
    second = load_midog(path).cells.set_index("cell_id")[["x", "y", "label"]]
    pd.testing.assert_frame_equal(first.sort_index(), second.sort_index())


def test_midogpp_names_split_and_votes(tmp_path: Path) -> None:
    dataset = load_midog(midogpp_set(tmp_path), name="midogpp")
    cells = dataset.cells
    assert len(cells) == 12
    assert cells["label"].value_counts().to_dict() == {MITOTIC: 7, IMPOSTER: 5}
    assert cells["scanner"].value_counts().to_dict() == {
        "Hamamatsu XR": 5,
        "3D Histech": 5,
        "Hamamatsu S360": 1,
        "Aperio ScanScope CS2": 1,
    }
    assert cells["tumor_type"].value_counts().to_dict() == {
        "human breast cancer": 3,
        "canine lymphosarcoma": 3,
        "canine lung cancer": 2,
        "human neuroendocrine tumor": 2,
        "canine cutaneous mast cell tumor": 1,
        "human melanoma": 1,
    }
    assert cells["split"].value_counts().to_dict() == {"train": 7, "test": 5}
    assert _by(cells, "split") == {"test": {IMPOSTER: 1, MITOTIC: 4}, "train": {IMPOSTER: 4, MITOTIC: 3}}
    # 350.tiff is 'Hammamatsu XR' in the CSV, 505.tiff 'Hamamatsu XR': one scanner after normalising
    assert set(cells.loc[cells["slide"].isin(["350", "505"]), "scanner"]) == {"Hamamatsu XR"}
    row = cells.set_index("cell_id").loc["midogpp:3"]
    assert row["rater_votes"] == "mitotic figure;imposter;mitotic figure"
    assert math.isclose(row["agreement"], 2 / 3)
    assert cells.set_index("cell_id").loc["midogpp:2", "agreement"] == 1.0
    assert dataset.unannotated_images == ["151.tiff", "152.tiff"]
    assert dataset.missing_images == []


def test_midogpp_spelling_without_slide_table_uses_id_ranges(tmp_path: Path) -> None:
    path = midogpp_set(tmp_path, json_name="MIDOGpp.json")
    (tmp_path / "datasets_xvalidation.csv").unlink()
    dataset = load_midog(path, preset=get_preset("midogpp"))
    assert dataset.name == "midogpp"
    cells = dataset.cells.set_index("slide")
    assert cells.loc["245", "scanner"].unique().tolist() == ["3D Histech"]
    assert cells.loc["300", "scanner"] == "Aperio ScanScope CS2"
    assert cells.loc["245", "species"].unique().tolist() == ["canine"]  # from the tumour type
    assert set(dataset.cells["split"]) == {""}
    assert any("from the image file names" in note for note in dataset.notes)
    # without the preset, file names never imply MIDOG scanners
    assert set(load_midog(path).cells["scanner"]) == {"unknown"}


def test_demo_set_takes_names_from_its_slide_table(tmp_path: Path) -> None:
    images = [
        {
            "license": 1,
            "file_name": "001.tiff",
            "id": 1,
            "width": 512,
            "height": 512,
            "tumor_type": "synthetic breast",
        },
        {
            "license": 1,
            "file_name": "002.tiff",
            "id": 2,
            "width": 512,
            "height": 512,
            "tumor_type": "synthetic lymphoma",
        },
    ]
    annotations = [
        {"bbox": bbox(100, 100), "category_id": 1, "image_id": 1, "labels": [1, 1], "id": 1},
        {"bbox": bbox(200, 200), "category_id": 2, "image_id": 2, "labels": [2, 1, 2], "id": 2},
        {"bbox": bbox(300, 300), "category_id": 2, "image_id": 2, "labels": [2, 2], "id": 3},
    ]
    path = write_midog_json(tmp_path / "MIDOG++-demo.json", images, annotations, info={"synthetic": True})
    write_split_csv(
        tmp_path / "datasets_xvalidation.csv",
        [
            (1, "train", "synthetic breast", "Sim Scanner A", "mitoviz", "synthetic"),
            (2, "test", "synthetic lymphoma", "Sim Scanner B", "mitoviz", "synthetic"),
        ],
    )
    for i in (1, 2):
        write_tiff(tmp_path / "images" / f"{i:03d}.tiff")
    dataset = load_midog(path, name="mitoviz-demo")
    assert dataset.synthetic
    cells = dataset.cells
    assert cells.set_index("slide")["scanner"].to_dict() == {"001": "Sim Scanner A", "002": "Sim Scanner B"}
    assert cells["split"].tolist() == ["train", "test", "test"]
    assert "Hamamatsu XR" not in set(cells["scanner"])
    assert any("Synthetic" in note for note in dataset.notes)
    # without its slide table a synthetic set still never borrows the MIDOG 2021 scanners
    (tmp_path / "datasets_xvalidation.csv").unlink()
    assert set(load_midog(path).cells["scanner"]) == {"unknown"}


def test_box_of_another_size_is_tolerated_and_noted(tmp_path: Path) -> None:
    images = [{"license": 1, "file_name": "001.tiff", "id": 1, "width": 1000, "height": 1000}]
    annotations = [
        {"bbox": [90, 90, 130, 110], "category_id": 1, "image_id": 1, "id": 1},
        {"bbox": bbox(500, 500), "category_id": 2, "image_id": 1, "id": 2},
    ]
    dataset = load_midog(write_midog_json(tmp_path / "x.json", images, annotations))
    first = dataset.cells.set_index("cell_id").loc["x:1"]
    assert (first["x"], first["y"]) == (110.0, 100.0)
    assert any("1 box(es) are not 50×50" in note for note in dataset.notes)


def test_class_map_override_and_unmapped_classes_are_counted(tmp_path: Path) -> None:
    categories = [*MIDOG_CATEGORIES, {"id": 3, "name": "granulocyte"}]
    images = [{"license": 1, "file_name": "a.tiff", "id": 1, "width": 1000, "height": 1000}]
    annotations = [
        {"bbox": bbox(100 + 50 * i, 100), "category_id": cat, "image_id": 1, "id": i}
        for i, cat in enumerate([1, 1, 2, 3, 3, 3])
    ]
    path = write_midog_json(tmp_path / "coco.json", images, annotations, categories=categories)
    dataset = load_midog(path)
    assert dataset.cells["label"].value_counts().to_dict() == {MITOTIC: 2, IMPOSTER: 1}
    assert dataset.skipped == {"class 3 'granulocyte' not mapped": ["3", "4", "5"]}
    swapped = load_midog(path, class_map={1: IMPOSTER, 2: MITOTIC, 3: None})
    assert swapped.cells["label"].value_counts().to_dict() == {IMPOSTER: 2, MITOTIC: 1}
    # a non-MIDOG file name never maps to the MIDOG scanner id ranges
    assert set(dataset.cells["scanner"]) == {"unknown"}


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("Hammamatsu XR", "Hamamatsu XR"),
        ("Hamamatsu XR", "Hamamatsu XR"),
        ("hamamatsu s360", "Hamamatsu S360"),
        ("Aperio CS2", "Aperio ScanScope CS2"),
        ("Aperio ScanScope CS2", "Aperio ScanScope CS2"),
        ("3DHistech", "3D Histech"),
        ("Leica GT450", "Leica GT450"),
        ("Sim Scanner A", "Sim Scanner A"),
    ],
)
def test_scanner_names(raw: str, canonical: str) -> None:
    assert canonical_scanner(raw) == canonical


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("canine lymphoma", "canine lymphosarcoma"),
        ("canine lymphosarcoma", "canine lymphosarcoma"),
        ("Canine Cutaneous Mast Cell Tumour", "canine cutaneous mast cell tumor"),
        ("human  neuroendocrine tumor", "human neuroendocrine tumor"),
        ("breast", "human breast cancer"),
        ("something new", "something new"),
    ],
)
def test_tumour_names(raw: str, canonical: str) -> None:
    assert canonical_tumor(raw) == canonical


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("mitotic figure", MITOTIC),
        ("Mitose", MITOTIC),
        ("Mitosis", MITOTIC),
        ("not mitotic figure", IMPOSTER),
        ("Hard negative", IMPOSTER),
        ("Nonmitosis", IMPOSTER),
        ("Mitotic figure lookalike", IMPOSTER),
        ("Mitotic figure look-alike", IMPOSTER),
        ("Atypical", ATYPICAL),
        ("AMF", ATYPICAL),
        ("Normal", NORMAL),
        ("normal mitotic figure", NORMAL),
        ("Granulocyte", None),
        ("Tumor region", None),
        ("NMF metaphase", None),
    ],
)
def test_class_names(name: str, label: str | None) -> None:
    assert label_from_class_name(name) == label


def test_id_ranges() -> None:
    assert midog_domain(1) == ("Hamamatsu XR", "human breast cancer")
    assert midog_domain(100) == ("Hamamatsu S360", "human breast cancer")
    assert midog_domain(150) == ("Aperio ScanScope CS2", "human breast cancer")
    assert midog_domain(151) == ("Leica GT450", "human breast cancer")
    assert midog_domain(245) == ("3D Histech", "canine lymphosarcoma")
    assert midog_domain(553) == ("Hamamatsu XR", "human melanoma")
    assert midog_domain(554) is None


def test_midogpp_species_and_centre_from_the_slide_table(tmp_path: Path) -> None:
    cells = load_midog(midogpp_set(tmp_path), name="midogpp").cells.set_index("slide")
    assert cells.loc["245", "species"].unique().tolist() == ["canine"]
    assert cells.loc["001", "species"].unique().tolist() == ["human"]
    assert cells.loc["245", "centre"].unique().tolist() == ["VMU Vienna"]


@pytest.mark.parametrize(("raw", "canonical"), [("Canine", "canine"), ("dog", "canine"), ("Homo sapiens", "human")])
def test_species_names(raw: str, canonical: str) -> None:
    assert canonical_species(raw) == canonical


def test_ids_inside_file_names() -> None:
    assert midog_id("002.tiff") == 2 and midog_id("151.TIF") == 151 and midog_id("2") == 2
    assert midog_id("01_stitched1.tif") is None and midog_id("A03_00Aa.tiff") is None
    assert tupac_case("01_stitched1.tif") == 1 and tupac_case("24.tif") == 24 and tupac_case("03/05.tif") == 3
    assert tupac_centre("23_stitched1.tif") == "TUPAC16 cases 01-23"
    assert tupac_centre("24.tif") == "TUPAC16 cases 24-73"
    assert tupac_centre("002.tiff") == "" and tupac_centre("x.png") == ""
