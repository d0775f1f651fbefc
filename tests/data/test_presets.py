"""Preset registry, finding data under the data roots, format detection and ``inspect``."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from mitoviz.config import Settings
from mitoviz.data.cells import IMPOSTER, MITOTIC
from mitoviz.data.formats import FORMATS, detect_format
from mitoviz.data.presets import DatasetPreset, get_preset, list_presets
from mitoviz.data.sources import dataset_status, find_preset, inspect_path, load_dataset, match_preset
from mitoviz.errors import SpecError

from .formats import (
    MIDOGPP_CSV_ROWS,
    ccmct_old_db,
    midog_v2_db,
    midogpp_set,
    write_amibr,
    write_cell_csv,
    write_png,
)

REQUIRED = ("midog21", "midogpp", "midog22", "ccmct", "cmc", "amibr", "atnorm-br", "atnorm-md", "midog25-atypical",
            "omg-octo", "tupac16", "mitoviz-demo")


@pytest.fixture
def roots(settings: Settings, tmp_path: Path) -> Settings:
    root = tmp_path / "data-root"
    root.mkdir()
    return dataclasses.replace(settings, data_roots=(root,))


def test_registry_lists_the_known_data_sets() -> None:
    names = list_presets()
    assert set(REQUIRED) <= set(names)
    for name in names:
        preset = get_preset(name)
        assert isinstance(preset, DatasetPreset) and preset.name == name
        assert preset.title and preset.licence and preset.point_at
        assert preset.annotation_files or preset.image_folder is not None  # a file, or a folder of class folders
        json.dumps(preset.describe())
        if not preset.synthetic:
            assert preset.citation and preset.download_url.startswith("https://")
    assert get_preset("ccmct").class_map == {2: MITOTIC, 7: IMPOSTER}
    assert get_preset("cmc").class_map == {2: MITOTIC, 1: IMPOSTER}
    assert get_preset("midogpp").class_map == {1: MITOTIC, 2: IMPOSTER}
    assert len(get_preset("ccmct").test_slides) == 11 and len(get_preset("cmc").test_slides) == 7
    assert "4eee7b944ad5e46c60ce" in get_preset("cmc").test_slides
    assert get_preset("midogpp").doi == "10.1038/s41597-023-02327-4"


def test_unknown_preset_lists_known_names() -> None:
    with pytest.raises(SpecError) as info:
        get_preset("midog2030")
    assert "midog2030" in info.value.what
    assert all(name in info.value.fix for name in REQUIRED)


def test_find_preset_when_present_and_absent(roots: Settings) -> None:
    root = roots.data_roots[0]
    midogpp_set(root / "MIDOGpp", json_name="MIDOGpp.json")
    status = find_preset("midogpp", roots)
    assert status.found and status.ready
    assert status.path == root / "MIDOGpp" / "MIDOGpp.json"
    assert status.images_dir == root / "MIDOGpp" / "images"

    absent = find_preset("cmc", roots)
    assert not absent.found and not absent.ready and absent.path is None
    assert any("MITOS_WSI_CMC_COADEL_TR.sqlite" in m for m in absent.missing)
    assert "https://github.com/DeepMicroscopy/MITOS_WSI_CMC" in absent.how_to_get
    json.dumps(absent.to_dict())

    statuses = {s.name: s for s in dataset_status(roots)}
    assert set(statuses) == set(list_presets())
    assert statuses["midogpp"].found and not statuses["amibr"].found


def test_find_preset_in_databases_subfolder_and_missing_images(roots: Settings) -> None:
    root = roots.data_roots[0]
    ccmct_old_db(root / "MITOS_WSI_CCMCT")
    status = find_preset("ccmct", roots)
    assert status.found and status.images_dir == root / "MITOS_WSI_CCMCT" / "WSI"
    shutil.rmtree(root / "MITOS_WSI_CCMCT" / "WSI")
    status = find_preset("ccmct", roots)
    assert status.found and not status.ready
    assert status.missing == ["WSI/ (image folder beside MITOS_WSI_CCMCT_ODAEL.sqlite)"]


def test_demo_preset_is_found_in_the_demo_dir(settings: Settings) -> None:
    assert not find_preset("mitoviz-demo", settings).found
    midogpp_set(settings.demo_dir, json_name="MIDOG++-demo.json", info={"synthetic": True})
    status = find_preset("mitoviz-demo", settings)
    assert status.found and status.path == settings.demo_dir / "MIDOG++-demo.json" and status.synthetic
    dataset = load_dataset("mitoviz-demo", settings)
    assert dataset.synthetic and dataset.name == "mitoviz-demo"
    assert len(dataset.cells) == 12


def test_preset_name_path_and_folder_load_the_same_cells(roots: Settings) -> None:
    root = roots.data_roots[0]
    json_path = midogpp_set(root / "MIDOG++")
    by_name = load_dataset("midogpp", roots).cells
    by_file = load_dataset(json_path, roots).cells
    by_folder = load_dataset(str(root / "MIDOG++"), roots).cells
    assert by_name["cell_id"].tolist() == by_file["cell_id"].tolist() == by_folder["cell_id"].tolist()
    assert by_name["cell_id"].iloc[0].startswith("midogpp:")
    assert by_name["scanner"].tolist() == by_folder["scanner"].tolist()


def test_format_detection(tmp_path: Path) -> None:
    assert detect_format(midogpp_set(tmp_path / "a")).name == "midog"
    assert detect_format(ccmct_old_db(tmp_path / "b")).name == "sliderunner"
    assert detect_format(write_amibr(tmp_path / "c")).name == "patch_table"
    assert detect_format(write_cell_csv(tmp_path / "d" / "cells.csv", MIDOGPP_CSV_ROWS)).name == "cell_csv"
    assert detect_format(tmp_path / "c" / "patches").name == "class_folders"
    odd = tmp_path / "annotations.bin"
    odd.write_bytes((tmp_path / "b" / "databases" / "MITOS_WSI_CCMCT_ODAEL.sqlite").read_bytes())
    assert detect_format(odd).name == "sliderunner"
    # the MIDOG reader takes any JSON, so it comes after the formats that recognise their own files
    assert list(FORMATS).index("midog") > max(list(FORMATS).index(f) for f in ("sliderunner", "cell_csv", "patch_table"))
    assert match_preset("MITOS_WSI_CCMCT_ODAEL_binary_labels.csv").name == "ccmct"
    assert match_preset("MIDOG++-demo.json").name == "mitoviz-demo"
    assert match_preset("MIDOGpp.csv").name == "midogpp"
    assert match_preset("MIDOG.sqlite").name == "midog21"
    assert match_preset("MIDOG_HamamatsuXR.json") is None
    assert match_preset("mystery.csv") is None


def test_sqlite_path_gets_its_preset_defaults(tmp_path: Path, settings: Settings) -> None:
    dataset = load_dataset(midog_v2_db(tmp_path), settings)
    cells = dataset.cells.set_index("slide")
    assert dataset.name == "midog21"
    assert set(cells.loc[["001", "002"], "scanner"]) == {"Hamamatsu XR"}
    assert cells.loc["051", "scanner"] == "Hamamatsu S360"
    assert set(cells["tumor_type"]) == {"human breast cancer"}

    ccmct = load_dataset(ccmct_old_db(tmp_path / "ccmct"), settings)
    assert ccmct.name == "ccmct"
    assert ccmct.cells["split"].value_counts().to_dict() == {"test": 3, "train": 3}
    assert set(ccmct.cells["tumor_type"]) == {"canine cutaneous mast cell tumor"}


def test_fmc_table_gets_scanner_from_file_names(tmp_path: Path, settings: Settings) -> None:
    dataset = load_dataset(write_cell_csv(tmp_path / "MIDOGpp.csv", MIDOGPP_CSV_ROWS), settings)
    assert (
        dataset.cells.set_index("image")["scanner"].groupby(level=0).first().tolist() == ["Hamamatsu XR"] * 3
    )


def test_inspect_works_without_images_and_lists_them(tmp_path: Path, settings: Settings) -> None:
    json_path = midogpp_set(tmp_path / "MIDOGpp")
    shutil.rmtree(tmp_path / "MIDOGpp" / "images")
    report = inspect_path(json_path, settings)
    json.dumps(report)
    assert report["format"] == "midog" and report["preset"] == "midogpp"
    assert report["cells"] == 12
    assert report["label"] == {IMPOSTER: 5, MITOTIC: 7}
    assert report["scanner"]["Hamamatsu XR"] == 5 and report["scanner"]["3D Histech"] == 5
    assert report["tumor_type"]["canine lymphosarcoma"] == 3
    assert report["split"] == {"test": 5, "train": 7}
    assert report["slides"] == 7 and report["cells_per_slide"]["245"] == 3
    assert report["n_missing_images"] == 7
    assert sorted(Path(p).name for p in report["missing_images"]) == [
        "001.tiff",
        "051.tiff",
        "201.tiff",
        "245.tiff",
        "300.tiff",
        "350.tiff",
        "505.tiff",
    ]
    assert report["unannotated_images"] == ["151.tiff", "152.tiff"]
    assert not report["synthetic"]


def test_inspect_patch_table_and_database(tmp_path: Path, settings: Settings) -> None:
    amibr = inspect_path(write_amibr(tmp_path / "AMi-Br"), settings)
    assert amibr["preset"] == "amibr" and amibr["label"] == {"atypical": 3, "normal": 3}
    assert amibr["n_missing_images"] == 1
    database = inspect_path(str(ccmct_old_db(tmp_path / "c")), settings)
    assert database["format"] == "sliderunner" and database["cells"] == 6
    assert {k: v["rows"] for k, v in database["skipped"].items()} == {
        "class 1 'Granulocyte' not mapped": 1,
        "class 3 'Tumor cell' not mapped": 2,
        "class 4 'Ambiguous' not mapped": 1,
    }
    assert database["n_skipped"] == 4 and database["n_adjusted"] == 0
    assert any(line.startswith("class 3 'Tumor cell' not mapped: 2 row(s)") for line in database["skipped_lines"])


def test_discovery_ignores_case_and_finds_sliderunner_only_folders(roots: Settings) -> None:
    root = roots.data_roots[0]
    midogpp_set(root / "midog++", json_name="midogpp.json")  # folder and file in other cases
    status = find_preset("midogpp", roots)
    assert status.found and status.path == root / "midog++" / "midogpp.json"
    midog_v2_db(root / "Midog")  # a SlideRunner-only MIDOG 2021 folder: MIDOG.sqlite, no JSON
    status = find_preset("midog21", roots)
    assert status.found and status.path.name == "MIDOG.sqlite" and status.ready
    ccmct_old_db(root / "ccmct_data", name="MITOS_WSI_CCMCT_ODAEL_train_dcm.sqlite")  # only the pattern fits
    (root / "ccmct_data").rename(root / "CCMCT")
    status = find_preset("ccmct", roots)
    assert status.found and status.path.name == "MITOS_WSI_CCMCT_ODAEL_train_dcm.sqlite"


def test_class_folder_presets_are_found_in_their_own_folder_only(roots: Settings) -> None:
    """Two data sets side by side under a data root are not two classes of MIDOG 2025 atypical or OMG-Octo."""
    root = roots.data_roots[0]
    write_png(root / "MIDOGpp" / "images" / "001.png")
    write_png(root / "CCMCT" / "WSI" / "a.png")
    assert not find_preset("midog25-atypical", roots).found and not find_preset("omg-octo", roots).found
    for label in ("atypical", "normal"):
        write_png(root / "MIDOG2025" / label / f"{label}1.png")
    status = find_preset("midog25-atypical", roots)
    assert status.found and status.path == root / "MIDOG2025"
