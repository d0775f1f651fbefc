"""The synthetic demo set: real MIDOG++ formats, OpenSlide-readable pyramids, honest difficulty."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import openslide
import pytest
import tifffile
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_curve
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from mitoviz.data.cells import IMPOSTER, MITOTIC
from mitoviz.data.formats.midog import load_midog
from mitoviz.demo import (
    DEMO_JSON,
    DEMO_README,
    DEMO_SCANNERS_CSV,
    MIN_CELL_DISTANCE,
    SCANNERS,
    TUMOURS,
    generate_demo,
)
from mitoviz.errors import MitovizError

SIZE = 640
PER_DOMAIN = 2
N_IMAGES = PER_DOMAIN * len(SCANNERS) * len(TUMOURS)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A moderate set (12 images of 640 px) shared by the format and difficulty checks."""
    out = tmp_path_factory.mktemp("demo")
    calls: list[tuple[int, int]] = []
    path = generate_demo(
        out, seed=5, images_per_domain=PER_DOMAIN, image_size=SIZE, progress=lambda d, t: calls.append((d, t))
    )
    assert path == out / DEMO_JSON
    (out / "progress.json").write_text(json.dumps(calls))
    return out


@pytest.fixture(scope="module")
def document(demo: Path) -> dict:
    return json.loads((demo / DEMO_JSON).read_text())


@pytest.fixture(scope="module")
def table(demo: Path) -> list[dict[str, str]]:
    with (demo / DEMO_SCANNERS_CSV).open(newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def _centre(annotation: dict) -> tuple[float, float]:
    x1, y1, x2, y2 = annotation["bbox"]
    return (x1 + x2) / 2, (y1 + y2) / 2


def test_json_has_the_midogpp_structure(document: dict) -> None:
    assert list(document) == ["info", "licenses", "images", "categories", "annotations"]
    info = document["info"]
    assert info["synthetic"] is True
    assert "synthetic" in info["description"].lower() and "not real tissue" in info["description"].lower()
    assert document["licenses"][0]["name"] == "CC0" and document["licenses"][0]["id"] == 1
    assert document["categories"] == [
        {"id": 1, "name": "mitotic figure"},
        {"id": 2, "name": "not mitotic figure"},
    ]
    tumour_names = {t.name for t in TUMOURS}
    assert len(document["images"]) == N_IMAGES
    for image in document["images"]:
        assert set(image) == {"license", "file_name", "id", "width", "height", "tumor_type"}
        assert image["file_name"] == f"{image['id']:03d}.tiff"
        assert (image["width"], image["height"]) == (SIZE, SIZE)
        assert image["tumor_type"] in tumour_names
    assert [i["id"] for i in document["images"]] == list(range(1, N_IMAGES + 1))


def test_annotations_use_x1y1x2y2_boxes_and_majority_votes(document: dict) -> None:
    annotations = document["annotations"]
    assert [a["id"] for a in annotations] == list(range(1, len(annotations) + 1))
    image_ids = {i["id"] for i in document["images"]}
    for a in annotations:
        assert set(a) == {"bbox", "category_id", "image_id", "labels", "id"}
        assert a["image_id"] in image_ids
        x1, y1, x2, y2 = a["bbox"]
        assert all(isinstance(v, int) for v in a["bbox"])
        assert (x2 - x1, y2 - y1) == (50, 50)
        cx, cy = _centre(a)
        assert 0 <= cx < SIZE and 0 <= cy < SIZE
        labels = a["labels"]
        assert set(labels) <= {1, 2}
        assert a["category_id"] == Counter(labels).most_common(1)[0][0]
        if len(labels) == 2:
            assert labels[0] == labels[1]
        else:
            assert len(labels) == 3 and labels[0] != labels[1] and labels[2] == a["category_id"]
    votes = Counter(len(a["labels"]) for a in annotations)
    assert 0.03 < votes[3] / len(annotations) < 0.35


def test_class_balance_density_and_spacing(document: dict) -> None:
    annotations = document["annotations"]
    share = sum(a["category_id"] == 1 for a in annotations) / len(annotations)
    assert 0.3 < share < 0.5
    per_image: dict[int, list[tuple[float, float]]] = {}
    for a in annotations:
        per_image.setdefault(a["image_id"], []).append(_centre(a))
    area = (SIZE / 1024) ** 2
    near_border = 0
    for centres in per_image.values():
        assert 40 * area - 2 <= len(centres) <= 60 * area + 2
        for (xa, ya), (xb, yb) in combinations(centres, 2):
            assert (xa - xb) ** 2 + (ya - yb) ** 2 >= MIN_CELL_DISTANCE**2
        near_border += sum(min(x, y, SIZE - 1 - x, SIZE - 1 - y) < 20 for x, y in centres)
    assert len(per_image) == N_IMAGES
    assert near_border >= 1


def test_scanner_table_gives_domains_and_a_fixed_split(document: dict, table: list[dict[str, str]]) -> None:
    assert list(table[0]) == ["Slide", "Dataset", "Tumor", "Scanner", "Origin", "Species"]
    assert [int(r["Slide"]) for r in table] == [i["id"] for i in document["images"]]
    tumour_of = {i["id"]: i["tumor_type"] for i in document["images"]}
    assert all(r["Tumor"] == tumour_of[int(r["Slide"])] for r in table)
    assert {r["Dataset"] for r in table} == {"train", "test"}
    assert {r["Scanner"] for r in table} == {s.name for s in SCANNERS} and len(SCANNERS) >= 3
    assert len({r["Tumor"] for r in table}) >= 2
    for scanner in SCANNERS:
        assert any(r["Dataset"] == "test" for r in table if r["Scanner"] == scanner.name)
    assert 0.1 <= sum(r["Dataset"] == "test" for r in table) / len(table) <= 0.35


def test_readme_and_progress(demo: Path) -> None:
    readme = (demo / DEMO_README).read_text()
    assert "SYNTHETIC" in readme and "NOT REAL TISSUE" in readme and "seed 5" in readme
    calls = [tuple(c) for c in json.loads((demo / "progress.json").read_text())]
    assert calls[0] == (0, N_IMAGES) and calls[-1] == (N_IMAGES, N_IMAGES)
    assert [d for d, _ in calls] == list(range(N_IMAGES + 1))


def test_openslide_opens_every_pyramid_at_quarter_micron(demo: Path, document: dict) -> None:
    for image in document["images"]:
        slide = openslide.OpenSlide(demo / "images" / image["file_name"])
        try:
            assert slide.level_count > 1
            assert slide.dimensions == (SIZE, SIZE)
            assert slide.level_downsamples[1] == pytest.approx(2.0)
            assert float(slide.properties[openslide.PROPERTY_NAME_MPP_X]) == pytest.approx(0.25)
            assert float(slide.properties[openslide.PROPERTY_NAME_MPP_Y]) == pytest.approx(0.25)
            region = np.asarray(
                slide.read_region((SIZE // 2 - 64, SIZE // 2 - 64), 0, (128, 128)).convert("RGB")
            )
            assert region.shape == (128, 128, 3) and region.std() > 10
            low = np.asarray(slide.read_region((0, 0), 1, (64, 64)).convert("RGB"))
            assert low.mean() < 250
        finally:
            slide.close()
    page = tifffile.TiffFile(demo / "images" / "001.tiff").pages
    assert page[0].compression == tifffile.COMPRESSION.JPEG and page[0].is_tiled
    assert page[1].subfiletype == 1


def test_scanners_differ_in_colour(demo: Path, table: list[dict[str, str]]) -> None:
    means: dict[str, list[np.ndarray]] = {}
    for row in table:
        pixels = tifffile.imread(demo / "images" / f"{int(row['Slide']):03d}.tiff", key=1)
        means.setdefault(row["Scanner"], []).append(pixels.reshape(-1, 3).mean(axis=0))
    centre = {name: np.mean(v, axis=0) for name, v in means.items()}
    for a, b in combinations(centre, 2):
        assert np.abs(centre[a] - centre[b]).max() > 8, (a, b, centre)


def test_the_real_midog_loader_reads_it(demo: Path, document: dict) -> None:
    dataset = load_midog(demo / DEMO_JSON)
    cells = dataset.cells
    assert dataset.synthetic
    assert len(cells) == len(document["annotations"])
    assert set(cells["label"]) == {MITOTIC, IMPOSTER}
    assert set(cells["scanner"]) == {s.name for s in SCANNERS}
    assert set(cells["split"]) == {"train", "test"}
    first = document["annotations"][0]
    assert (cells.loc[0, "x"], cells.loc[0, "y"]) == _centre(first)


def _features(demo: Path, document: dict, table: list[dict[str, str]]) -> tuple[np.ndarray, ...]:
    scanner_of = {int(r["Slide"]): r["Scanner"] for r in table}
    images = {i["id"]: tifffile.imread(demo / "images" / i["file_name"], key=0) for i in document["images"]}
    hists, dark, y, domain = [], [], [], []
    for a in document["annotations"]:
        cx, cy = (int(v) for v in _centre(a))
        padded = np.pad(images[a["image_id"]], ((32, 32), (32, 32), (0, 0)), mode="edge")
        crop = padded[cy : cy + 64, cx : cx + 64].astype(np.float32)
        hists.append(
            np.concatenate([np.histogram(crop[..., k], bins=8, range=(0, 256))[0] for k in range(3)])
        )
        grey = crop.mean(axis=2)
        dark.append([np.percentile(grey, 2), np.percentile(grey, 10), (grey < 90).mean()])
        y.append(a["category_id"] == 1)
        domain.append(scanner_of[a["image_id"]])
    return np.array(hists) / 4096.0, np.array(dark), np.array(y), np.array(domain)


def _probe() -> object:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))


def test_colour_and_darkness_do_not_separate_the_classes(
    demo: Path, document: dict, table: list[dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    hists, dark, y, domain = _features(demo, document, table)
    features = np.hstack([hists, dark])
    fpr, tpr, _ = roc_curve(y, -dark[:, 0])
    per_threshold = (tpr + 1 - fpr) / 2
    threshold = float(max(per_threshold.max(), 1 - per_threshold.min()))
    with threadpool_limits(1):
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        colour = cross_val_score(_probe(), features, y, cv=folds, scoring="balanced_accuracy").mean()
        in_domain, cross_domain = [], []
        for train in sorted(set(domain)):
            mine = domain == train
            in_domain.append(
                cross_val_score(_probe(), features[mine], y[mine], cv=3, scoring="balanced_accuracy").mean()
            )
            fitted = _probe().fit(features[mine], y[mine])
            for test in sorted(set(domain) - {train}):
                theirs = domain == test
                cross_domain.append(balanced_accuracy_score(y[theirs], fitted.predict(features[theirs])))
    with capsys.disabled():
        print(
            f"\n[synthetic] {len(y)} cells: colour-histogram+darkness balanced accuracy {colour:.3f}, "
            f"best darkness threshold {threshold:.3f}, in-scanner {np.mean(in_domain):.3f}, "
            f"across scanners {np.mean(cross_domain):.3f}"
        )
    assert colour < 0.97, "a colour histogram alone separates mitotic figures from imposters"
    assert threshold < 0.9, "a darkness threshold alone separates mitotic figures from imposters"
    assert colour > 0.6, "mitotic figures and imposters should still differ in appearance"
    assert np.mean(cross_domain) < np.mean(in_domain) - 0.05, "the scanner shift should cost accuracy"
    assert abs(dark[y, 2].mean() - dark[~y, 2].mean()) > 0.005


def test_same_seed_same_bytes_other_seed_other_data(tmp_path: Path) -> None:
    runs = [tmp_path / "a", tmp_path / "b", tmp_path / "c"]
    for out, seed in zip(runs, (11, 11, 12), strict=True):
        generate_demo(out, seed=seed, images_per_domain=1, image_size=256)
    assert (runs[0] / DEMO_JSON).read_bytes() == (runs[1] / DEMO_JSON).read_bytes()
    assert (runs[0] / DEMO_SCANNERS_CSV).read_bytes() == (runs[1] / DEMO_SCANNERS_CSV).read_bytes()
    assert (runs[0] / DEMO_JSON).read_bytes() != (runs[2] / DEMO_JSON).read_bytes()
    names = sorted(p.name for p in (runs[0] / "images").iterdir())
    assert names == [f"{i:03d}.tiff" for i in range(1, 1 + len(SCANNERS) * len(TUMOURS))]
    for name in names:
        first, second, other = (tifffile.imread(r / "images" / name, key=0) for r in runs)
        assert np.array_equal(first, second)
        assert not np.array_equal(first, other)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"images_per_domain": 0}, "images_per_domain"), ({"image_size": 100}, "image_size")],
)
def test_bad_arguments_raise_a_clear_error(tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(MitovizError, match=re.escape(message)):
        generate_demo(tmp_path / "demo", **kwargs)
    assert not (tmp_path / "demo" / DEMO_JSON).exists()


def test_unwritable_target_raises_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(MitovizError, match="demo folder"):
        generate_demo(blocker / "demo", images_per_domain=1, image_size=256)
