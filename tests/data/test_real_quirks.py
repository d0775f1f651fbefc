"""The quirks of the real published files, written small: every loader keeps what it can and says what it changed.

- MIDOG++.json: two of 26,286 cell centres sit a few pixels past their image's edge;
- MIDOGpp.csv (FoundationModelComparison): the same two cells with negative coordinates, labels 1/2;
- datasets_xvalidation.csv: one scanner spelt 'Hamamatsu XR' and 'Hammamatsu XR';
- TUPAC16 alternative labels: stitched images 01_stitched1.tif … and plain 24.tif …, classes 1 'Mitose' / 2 'Hard negative'.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from mitoviz.cli import main
from mitoviz.config import Settings
from mitoviz.data.ingest import OUTSIDE_NEAR
from mitoviz.data.sources import inspect_path

from .formats import (
    SRAnnotation,
    bbox,
    write_cell_csv,
    write_midog_json,
    write_sliderunner,
    write_split_csv,
    write_tiff,
)

WIDTH, HEIGHT = 7215, 5412


def _midogpp(folder: Path) -> Path:
    images = [{"license": 1, "file_name": f"{i:03d}.tiff", "id": i, "width": WIDTH, "height": HEIGHT,
               "tumor_type": t} for i, t in ((1, "human breast cancer"), (2, "human breast cancer"),
                                               (350, "human neuroendocrine tumor"), (351, "human neuroendocrine tumor"))]
    cells = [(i, img, 500 + 40 * i, 600, 1 + i % 2) for i, img in enumerate([1] * 6 + [2] * 6 + [350] * 6 + [351] * 6)]
    cells[3] = (3, 1, WIDTH + 3, 600, 1)  # 3 px past the right edge
    cells[20] = (20, 351, 900, HEIGHT + 2, 2)  # 2 px past the bottom edge
    annotations = [{"bbox": bbox(x, y), "category_id": c, "image_id": img, "labels": [c, c], "id": aid}
                   for aid, img, x, y, c in cells]
    write_split_csv(folder / "datasets_xvalidation.csv", [
        (1, "train", "human breast cancer", "Hamamatsu XR", "UMC Utrecht", "human"),
        (2, "test", "human breast cancer", "Hamamatsu XR", "UMC Utrecht", "human"),
        (350, "train", "human neuroendocrine tumor", "Hammamatsu XR", "UMC Utrecht", "human"),  # sic
        (351, "test", "human neuroendocrine tumor", "Hammamatsu XR", "UMC Utrecht", "human"),
    ])
    for i in (1, 2, 350, 351):
        write_tiff(folder / "images" / f"{i:03d}.tiff")
    return write_midog_json(folder / "MIDOG++.json", images, annotations, licence="CC0")


def test_midogpp_json_keeps_the_cells_past_the_edge_and_merges_the_scanner(tmp_path: Path, settings: Settings) -> None:
    report = inspect_path(_midogpp(tmp_path / "MIDOGpp"), settings)
    assert report["cells"] == 24 and report["n_skipped"] == 0
    assert report["adjusted"] == {OUTSIDE_NEAR: {"rows": 2, "ids": ["3", "20"]}}
    assert report["scanner"] == {"Hamamatsu XR": 24}  # one scanner, not two
    assert {"raw": "Hammamatsu XR", "normalised": "Hamamatsu XR", "rows": 2} in report["normalised"]["scanner"]
    assert report["label"] == {"imposter": 12, "mitotic figure": 12}


def test_fmc_midogpp_csv_keeps_negative_coordinates(tmp_path: Path, settings: Settings) -> None:
    rows = [(500 + 40 * i, 600, 1 + i % 2, "001.tiff", 1, "train", "human breast cancer") for i in range(10)]
    rows[4] = (-3, 600, 1, "001.tiff", 1, "train", "human breast cancer")
    rows[7] = (900, -2, 2, "001.tiff", 1, "val", "human breast cancer")
    report = inspect_path(write_cell_csv(tmp_path / "MIDOGpp.csv", rows), settings)
    assert report["preset"] == "midogpp" and report["cells"] == 10
    assert report["adjusted"] == {OUTSIDE_NEAR: {"rows": 2, "ids": ["line 6", "line 9"]}}
    assert report["label"] == {"imposter": 5, "mitotic figure": 5}
    assert {m["raw"]: m["normalised"] for m in report["normalised"]["label"]} == {"1": "mitotic figure", "2": "imposter"}


def test_tupac16_naming_counts_and_centres(tmp_path: Path, settings: Settings) -> None:
    slides = [(1, "01_stitched1.tif", 5000, 5000, ""), (2, "23_stitched1.tif", 5000, 5000, ""),
              (3, "24.tif", 2000, 2000, ""), (4, "73.tif", 2000, 2000, "")]
    annotations = [SRAnnotation(i, 1 + i % 4, 1 if i % 3 == 0 else 2, [(100 + i, 200)]) for i in range(1, 25)]
    annotations.append(SRAnnotation(25, 3, 2, [(2070, 200)]))  # 70 px outside a 2000 px image: skipped
    path = write_sliderunner(tmp_path / "TUPAC_alternativeLabels_augmented_training.sqlite", slides,
                             [(1, "Mitose"), (2, "Hard negative")], [], annotations)
    for _, name, *_ in slides:
        write_tiff(tmp_path / name)
    report = inspect_path(path, settings)
    assert report["preset"] == "tupac16" and report["cells"] == 24
    assert report["label"] == {"imposter": 16, "mitotic figure": 8}
    assert report["centre"] == {"TUPAC16 cases 01-23": 12, "TUPAC16 cases 24-73": 12}
    assert report["skipped"]["centre more than 50 px outside the image"] == {"rows": 1, "ids": ["25"]}
    assert report["slides"] == 4 and report["n_missing_images"] == 0


def test_inspect_in_the_terminal_shows_merges_and_fits_100_columns(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    path = _midogpp(tmp_path / "MIDOGpp")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["inspect", str(path)]) == 0
    text = out.getvalue()
    assert "normalised scanner: 'Hammamatsu XR' → 'Hamamatsu XR' (2 rows)" in text
    assert "adjusted: 2 row(s):" in text and "ids 3, 20" in text
    assert max(len(line) for line in text.splitlines()) <= 100
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err := io.StringIO()):
        assert main(["inspect", "--strict", str(path)]) == 2
    assert "strict mode refuses" in err.getvalue()
