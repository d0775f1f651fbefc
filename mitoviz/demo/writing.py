"""The demo set's files: pyramidal TIFFs, the MIDOG++ JSON, the scanner table and a README.

:func:`generate_demo` renders the images (two threads) and writes every file; each says it is synthetic.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import tifffile

from mitoviz.demo.parameters import (
    BOX_RADIUS,
    CATEGORIES,
    CATEGORY_IMPOSTER,
    CATEGORY_MITOTIC,
    MIN_IMAGE_SIZE,
    MITOTIC_MIX,
    MPP,
    PX_PER_CM,
    SCANNERS,
    TILE,
    TUMOURS,
    Cell,
    Scanner,
    Tumour,
)
from mitoviz.demo.render import render_image
from mitoviz.errors import SpecError, StorageError

DEMO_JSON = "MIDOG++-demo.json"
DEMO_SCANNERS_CSV = "datasets_xvalidation.csv"
DEMO_README = "README.txt"
IMAGES_DIR = "images"


def write_pyramid_tiff(path: Path, rgb: np.ndarray, quality: int, description: str = "") -> None:
    """Write a tiled JPEG TIFF with reduced levels as successive pages, the layout OpenSlide reads."""
    levels = [rgb]
    while len(levels) == 1 or max(levels[-1].shape[:2]) > TILE:
        prev = levels[-1]
        h, w = prev.shape[0] // 2, prev.shape[1] // 2
        q = prev[: 2 * h, : 2 * w].astype(np.uint16)
        down = q[0::2, 0::2] + q[1::2, 0::2] + q[0::2, 1::2] + q[1::2, 1::2]
        levels.append(((down + 2) // 4).astype(np.uint8))
    with tifffile.TiffWriter(path) as tif:
        for i, level in enumerate(levels):
            tif.write(
                level,
                tile=(TILE, TILE),
                photometric="rgb",
                compression="jpeg",
                compressionargs={"level": quality},
                subfiletype=1 if i else 0,
                resolution=(PX_PER_CM / 2**i, PX_PER_CM / 2**i),
                resolutionunit="CENTIMETER",
                description=description if i == 0 else None,
                metadata=None,
            )


def _votes(rng: np.random.Generator, cell: Cell) -> list[int]:
    """Rater votes: two agree on clear cells; on ambiguous ones they split and a third decides."""
    if not cell.ambiguous:
        return [cell.category, cell.category]
    other = CATEGORY_IMPOSTER if cell.category == CATEGORY_MITOTIC else CATEGORY_MITOTIC
    first_two = [cell.category, other] if rng.uniform() < 0.5 else [other, cell.category]
    return [*first_two, cell.category]


def _test_images(seed: int, plan: list[tuple[int, Scanner, Tumour]]) -> set[int]:
    """A fixed ~20 % test split with at least one image per scanner, spread over tumour types."""
    rng = np.random.default_rng([seed, 7919])
    test: set[int] = set()
    for scanner in SCANNERS:
        mine = [(i, t) for i, s, t in plan if s is scanner]
        n_test = max(1, round(0.2 * len(mine))) if len(mine) > 1 else 0
        for j in range(n_test):
            tumour = TUMOURS[j % len(TUMOURS)]
            pool = [i for i, t in mine if t is tumour and i not in test] or [
                i for i, _ in mine if i not in test
            ]
            test.add(int(rng.choice(pool)))
    return test


def _render_one(
    seed: int, image_id: int, scanner: Scanner, tumour: Tumour, size: int, path: Path
) -> list[Cell]:
    rng = np.random.default_rng([seed, image_id])
    rgb, cells = render_image(rng, scanner, tumour, size)
    text = f"mitoviz synthetic demo image {image_id:03d} ({scanner.name}, {tumour.name}): not real tissue"
    write_pyramid_tiff(path, rgb, scanner.jpeg_quality, text)
    return cells


def _readme(seed: int, images_per_domain: int, image_size: int, cells: list[Cell], n_images: int) -> str:
    scanners = "\n".join(
        f"  - {s.name}: H scale {s.h_scale}, E scale {s.e_scale}, gamma {s.gamma}, blur sigma {s.blur} px, "
        f"noise {s.noise}, JPEG quality {s.jpeg_quality}"
        for s in SCANNERS
    )
    tumours = "\n".join(
        f"  - {t.name} ({t.species}): nucleus axes {t.nucleus_axes[0]:g}-{t.nucleus_axes[1]:g} px, "
        f"spacing {t.spacing:g} px, stroma fraction {t.stroma_fraction:g}"
        for t in TUMOURS
    )
    n_mf = sum(c.category == CATEGORY_MITOTIC for c in cells)
    kinds = Counter(c.kind for c in cells)
    kind_lines = "\n".join(f"  - {kind}: {kinds[kind]}" for kind in [*MITOTIC_MIX, *TUMOURS[0].imposter_mix])
    return f"""SYNTHETIC DEMO DATA - NOT REAL TISSUE

These images were rendered by mitoviz (mitoviz.demo.generate_demo) so that the dashboard
can be tried without any real data. Nothing here comes from a patient or an animal; do not use it to
draw conclusions about real encoders, scanners or tumours.

How it was made
- seed {seed}, {images_per_domain} image(s) per scanner and tumour type, {image_size} x {image_size} px
  at {MPP} um/px; {n_images} images, {n_mf} mitotic figures and {len(cells) - n_mf} imposters
  (look-alikes); {sum(c.ambiguous for c in cells)} cells in all are deliberately ambiguous.
- Tissue (stroma with oriented fibres, tumour cytoplasm, a crowd of ordinary nuclei) and annotated
  cells (mitotic figures in all phases, atypical forms; pyknotic nuclei, apoptotic bodies,
  lymphocytes, hyperchromatic nuclei, granulocytes) are drawn as haematoxylin and eosin
  concentration maps and turned into RGB with the Beer-Lambert law (Ruifrok-Johnston stain vectors,
  perturbed per scanner).
- Each simulated scanner has a fixed stain matrix, stain intensity, white point, gamma, blur,
  sensor noise and JPEG quality:
{scanners}
- Tumour types differ in architecture:
{tumours}
- Some cells are deliberately ambiguous; on those the two simulated raters disagree and a third
  vote decides (annotation 'labels' has three entries).
- Annotated cells by kind:
{kind_lines}

Files (the MIDOG++ layout)
- {DEMO_JSON}: MIDOG++-style JSON; bbox = [x-25, y-25, x+25, y+25] around the cell centre;
  category 1 = mitotic figure, 2 = not mitotic figure (imposter).
- {DEMO_SCANNERS_CSV}: ';'-separated Slide;Dataset;Tumor;Scanner;Origin;Species with a fixed
  train/test split.
- {IMAGES_DIR}/NNN.tiff: pyramidal tiled JPEG TIFFs (OpenSlide 'generic-tiff', {MPP} um/px).

Licence: CC0 1.0 (public domain dedication).
"""


def generate_demo(
    out_dir: Path,
    seed: int = 0,
    *,
    images_per_domain: int = 3,
    image_size: int = 1024,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write the demo set into out_dir and return the path of its JSON file."""
    if images_per_domain < 1:
        raise SpecError(
            f"images_per_domain must be at least 1, got {images_per_domain}.",
            "Ask for one or more images per scanner and tumour type.",
        )
    if image_size < MIN_IMAGE_SIZE:
        raise SpecError(
            f"image_size must be at least {MIN_IMAGE_SIZE} px, got {image_size}.",
            f"Use {MIN_IMAGE_SIZE} px or more so that cells fit.",
        )
    out_dir = Path(out_dir)
    images_dir = out_dir / IMAGES_DIR
    try:
        images_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"Cannot create the demo folder {out_dir}: {exc}.", "Choose a writable folder."
        ) from exc

    plan: list[tuple[int, Scanner, Tumour]] = []
    for tumour in TUMOURS:
        for scanner in SCANNERS:
            for _ in range(images_per_domain):
                plan.append((len(plan) + 1, scanner, tumour))
    total = len(plan)
    if progress is not None:
        progress(0, total)

    workers = max(1, min(2, os.cpu_count() or 1))
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = [
                pool.submit(_render_one, seed, i, s, t, image_size, images_dir / f"{i:03d}.tiff")
                for i, s, t in plan
            ]
            results: list[list[Cell]] = []
            for done, future in enumerate(futures, start=1):
                results.append(future.result())
                if progress is not None:
                    progress(done, total)
    except OSError as exc:
        raise StorageError(
            f"Cannot write the demo images into {images_dir}: {exc}.", "Check free space."
        ) from exc

    vote_rng = np.random.default_rng([seed, 104729])
    images, annotations = [], []
    for (image_id, _, tumour), cells in zip(plan, results, strict=True):
        images.append(
            {
                "license": 1,
                "file_name": f"{image_id:03d}.tiff",
                "id": image_id,
                "width": image_size,
                "height": image_size,
                "tumor_type": tumour.name,
            }
        )
        for cell in cells:
            annotations.append(
                {
                    "bbox": [
                        cell.x - BOX_RADIUS,
                        cell.y - BOX_RADIUS,
                        cell.x + BOX_RADIUS,
                        cell.y + BOX_RADIUS,
                    ],
                    "category_id": cell.category,
                    "image_id": image_id,
                    "labels": _votes(vote_rng, cell),
                    "id": len(annotations) + 1,
                }
            )
    document = {
        "info": {
            "description": "mitoviz synthetic demo data set in the MIDOG++ format: rendered images, "
            "NOT real tissue. For trying the dashboard only.",
            "version": "1.0",
            "contributor": "mitoviz (generated by mitoviz.demo)",
            "synthetic": True,
            "seed": seed,
            "images_per_domain": images_per_domain,
            "image_size": image_size,
            "mpp": MPP,
            "scanners": [s.name for s in SCANNERS],
            "tumor_types": [t.name for t in TUMOURS],
        },
        "licenses": [{"url": "https://creativecommons.org/publicdomain/zero/1.0/", "id": 1, "name": "CC0"}],
        "images": images,
        "categories": [dict(c) for c in CATEGORIES],
        "annotations": annotations,
    }
    test = _test_images(seed, plan)
    table = io.StringIO()
    writer = csv.writer(table, delimiter=";", lineterminator="\n")
    writer.writerow(["Slide", "Dataset", "Tumor", "Scanner", "Origin", "Species"])
    for image_id, scanner, tumour in plan:
        split = "test" if image_id in test else "train"
        writer.writerow([image_id, split, tumour.name, scanner.name, "mitoviz synthetic", tumour.species])
    json_path = out_dir / DEMO_JSON
    try:
        json_path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
        (out_dir / DEMO_SCANNERS_CSV).write_text(table.getvalue(), encoding="utf-8")
        readme = _readme(seed, images_per_domain, image_size, [c for r in results for c in r], total)
        (out_dir / DEMO_README).write_text(readme, encoding="utf-8")
    except OSError as exc:
        raise StorageError(
            f"Cannot write the demo files into {out_dir}: {exc}.", "Check free space."
        ) from exc
    return json_path
