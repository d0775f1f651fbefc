"""Small real inputs for the trainer: PNG 'slides' with labelled cells, one tiled pyramidal TIFF, and a
tiny timm ViT for the encoder zoo (random weights, 32 px, two blocks). Used by the fixtures and by
the separate processes the resume test starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
from PIL import Image

TINY_VIT = "test-tiny-vit"
SLIDE_PX = 192


def _paint(image: np.ndarray, x: int, y: int, positive: bool, rng: np.random.Generator) -> None:
    """A mitotic-looking dark purple blob for positives, a pale pink one for negatives."""
    r = int(rng.integers(4, 7))
    yy, xx = np.ogrid[-y : image.shape[0] - y, -x : image.shape[1] - x]
    disc = xx * xx + yy * yy <= r * r
    image[disc] = (70, 30, 110) if positive else (215, 150, 200)


def write_slides(folder: Path, n_slides: int = 6, per_slide: int = 12, seed: int = 0) -> pd.DataFrame:
    """PNG slides of H&E-like noise; a CellTable-like frame (cell_id, image, x, y, slide, label)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in range(n_slides):
        image = np.stack(
            [
                rng.integers(200, 240, (SLIDE_PX, SLIDE_PX)),
                rng.integers(140, 190, (SLIDE_PX, SLIDE_PX)),
                rng.integers(190, 230, (SLIDE_PX, SLIDE_PX)),
            ],
            axis=-1,
        ).astype(np.uint8)
        path = folder / f"slide{s}.png"
        for i in range(per_slide):
            x, y = (int(v) for v in rng.integers(20, SLIDE_PX - 20, 2))
            label = "mitotic figure" if (i + s) % 2 == 0 else "imposter"
            _paint(image, x, y, label == "mitotic figure", rng)
            rows.append(
                {
                    "cell_id": f"s{s}-{i}",
                    "image": str(path),
                    "x": float(x),
                    "y": float(y),
                    "slide": f"slide{s}",
                    "label": label,
                }
            )
        Image.fromarray(image).save(path)
    return pd.DataFrame(rows)


def write_pyramid(path: Path, cells: pd.DataFrame) -> pd.DataFrame:
    """One tiled, pyramidal TIFF (OpenSlide reads it) holding the first slide of ``cells``."""
    first = cells[cells["slide"] == cells["slide"].iloc[0]].copy()
    pixels = np.asarray(Image.open(first["image"].iloc[0]).convert("RGB"))
    with tifffile.TiffWriter(path) as tif:  # levels as successive pages: the layout OpenSlide reads
        tif.write(pixels, tile=(64, 64), photometric="rgb")
        tif.write(np.ascontiguousarray(pixels[::2, ::2]), tile=(64, 64), photometric="rgb", subfiletype=1)
    first["image"] = str(path)
    return first.reset_index(drop=True)


def positives(cells: pd.DataFrame) -> np.ndarray:
    return (cells["label"] == "mitotic figure").to_numpy().astype(np.int64)


def register_tiny_vit() -> str:
    """A 2-block, 32-wide timm ViT at 32 px with 8 px patches, registered under TINY_VIT."""
    from mitoviz.encoders import EncoderSpec, register

    register(
        EncoderSpec(
            name=TINY_VIT,
            title="Tiny test ViT",
            family="random baseline",
            library="timm",
            arch="vit_tiny_patch16_224",
            kwargs={
                "num_classes": 0,
                "img_size": 32,
                "patch_size": 8,
                "depth": 2,
                "embed_dim": 32,
                "num_heads": 2,
            },
            input_size=32,
            dim=32,
            params_m=0.03,
            pooling="cls",
            prefix_tokens=1,
            needs_weights=False,
            seed=0,
            licence="none (no weights)",
        ),
        overwrite=True,
    )
    return TINY_VIT
