"""Cell images for galleries: from a bundle's stored patches, else read from the slide."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image, ImageDraw

from mitoviz.data.patches import PatchReader, PatchSettings
from mitoviz.errors import PatchError
from mitoviz.results import CONTEXT_EXTENT, CONTEXT_PX, PATCH_PX, Run

MISSING_TEXT = "image not available"


def _placeholder(size: int) -> np.ndarray:
    img = Image.new("RGB", (size, size), (236, 236, 240))
    ImageDraw.Draw(img).text((8, size // 2 - 6), MISSING_TEXT, fill=(110, 110, 120))
    return np.asarray(img)


def _mark_centre(pixels: np.ndarray, box: float) -> np.ndarray:
    """Draw the cell's 50 µm-ish box in the middle of a context crop."""
    img = Image.fromarray(pixels)
    c = img.width / 2
    ImageDraw.Draw(img).rectangle([c - box, c - box, c + box, c + box], outline=(0, 220, 90), width=3)
    return np.asarray(img)


def cell_images(run: Run, cells: pd.DataFrame, context: bool = False) -> list[np.ndarray]:
    """One image per row of ``cells`` (run cell table rows): stored patch first, slide second."""
    spec = run.manifest().get("spec", {})
    settings = PatchSettings(int(spec.get("patch_size", 224)), spec.get("mpp"))
    size = CONTEXT_PX if context else PATCH_PX
    out = []
    with PatchReader() as reader:
        for row in cells.itertuples(index=False):
            stored = run.patch_path(int(row.cell), context)
            try:
                if stored.is_file():
                    pixels = np.asarray(Image.open(stored).convert("RGB"))
                elif context:
                    pixels, _ = reader.context(row.image, row.x, row.y, CONTEXT_EXTENT, size)
                else:
                    pixels = reader.read(row.image, row.x, row.y, settings, size)
            except (PatchError, OSError):
                out.append(_placeholder(size))
                continue
            if context and not np.isnan(row.x):
                pixels = _mark_centre(pixels, 25 * size / CONTEXT_EXTENT + 4)
            out.append(_framed(pixels))
    return out


def _framed(pixels: np.ndarray) -> np.ndarray:
    """A thin grey frame, so white padding beyond the slide edge reads as part of the image."""
    out = pixels.copy()
    out[[0, -1], :] = 200
    out[:, [0, -1]] = 200
    return out


def image_grid(images: list[np.ndarray], captions: list[str], columns: int = 6) -> None:
    for start in range(0, len(images), columns):
        cols = st.columns(columns)
        for col, img, cap in zip(cols, images[start : start + columns], captions[start : start + columns], strict=False):
            col.image(img, caption=cap, width="stretch")
