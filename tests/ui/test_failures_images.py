"""Gallery images for pathologists: padding drawn as padding, a scale bar from the image's own resolution."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mitoviz.data.patches import PatchReader, PatchSettings
from mitoviz.ui.gallery import (
    BUNDLE_NOTE,
    HATCH_BASE,
    HATCH_STRIPE,
    NO_MPP_NOTE,
    bar_length,
    context_reason,
    drawn,
    hatch,
    scale_bar,
)

TISSUE = (200, 120, 160)


@pytest.fixture
def png(tmp_path: Path) -> Path:
    path = tmp_path / "ready.png"
    Image.new("RGB", (60, 40), TISSUE).save(path)
    return path


def test_window_marks_exactly_the_padded_pixels(png: Path) -> None:
    settings = PatchSettings(32)
    with PatchReader() as reader:
        for x, y in [(5.0, 10.0), (55.0, 36.0), (30.0, 20.0)]:
            pixels = reader.read(png, x, y, settings)
            window = reader.window(png, x, y, settings)
            white = (pixels == 255).all(-1)
            np.testing.assert_array_equal(window.outside(32), white)
            assert (x, y) == (30.0, 20.0) or white.any()
        ready = reader.read(png, float("nan"), float("nan"), settings, 30)  # the whole 60 × 40 image, squared
        window = reader.window(png, float("nan"), float("nan"))
        assert (window.left, window.top, window.extent) == (0, 0, 60)
        outside = window.outside(30)
        assert outside[20:].all() and not outside[:20].any()  # the bottom third: below the 40 px image
        assert (ready[21:] == 255).all() and (ready[:19] == TISSUE).all()  # row 20 blends in the resize
        assert window.mpp is None and window.um_per_px(30) is None


def test_window_on_a_slide_knows_its_resolution(small_demo: Path) -> None:
    image = next((small_demo.parent / "images").glob("*.tiff"))
    with PatchReader() as reader:
        patch = reader.window(image, 10.0, 300.0, PatchSettings(64))
        assert patch.mpp == pytest.approx(0.25) and patch.extent == 64
        assert patch.um_per_px(256) == pytest.approx(0.25 * 64 / 256)
        assert patch.outside(64)[:, :22].all() and not patch.outside(64)[:, 23:].any()
        context = reader.window(image, 10.0, 300.0, context=768)
        assert context.extent == 512  # a context never reaches past the whole image's size
        at_mpp = reader.window(image, 200.0, 200.0, PatchSettings(64, mpp=0.5))
        assert at_mpp.extent == 128 and at_mpp.um_per_px(64) == pytest.approx(0.5)


def test_padding_is_hatched_grey_never_white() -> None:
    pixels = np.full((40, 40, 3), 255, dtype=np.uint8)
    mask = np.zeros((40, 40), dtype=bool)
    mask[:, :10] = True
    out = hatch(pixels, mask)
    assert set(np.unique(out[mask])) == {HATCH_BASE, HATCH_STRIPE}
    assert (out[~mask] == 255).all() and hatch(pixels, ~np.ones_like(mask)) is pixels


def test_scale_bar_length_and_drawing() -> None:
    assert bar_length(0.0625, 256) == 2  # a 16 µm patch on 256 px: 2 µm is the longest round bar under 30 %
    assert bar_length(1.5, 512) == 200 and bar_length(0.001, 100) is None and bar_length(50.0, 10_000) is None
    pixels = np.full((256, 256, 3), 180, dtype=np.uint8)
    out = scale_bar(pixels, 0.0625)
    changed = (out != pixels).any(-1)
    rows, cols = np.nonzero(changed)
    assert rows.min() > 256 * 0.7 and cols.max() < 256 * 0.5  # a box at the bottom left only
    bar = (out == 0).all(-1)
    assert 25 <= bar.sum(1).max() <= 40  # 2 µm = 32 px long
    assert scale_bar(pixels, None) is pixels


def test_drawn_images_say_what_they_lack(png: Path) -> None:
    with PatchReader() as reader:
        window = reader.window(png, 5.0, 10.0, PatchSettings(32))
        image = drawn(reader.read(png, 5.0, 10.0, PatchSettings(32)), window, 32)
    assert image.padded and image.um_per_px is None and image.note == NO_MPP_NOTE
    assert len(image.notes) == 2 and not (image.pixels[1:-1, 1:-1] == 255).all(-1).any()
    stored = drawn(np.zeros((8, 8, 3), dtype=np.uint8), None, 8)
    assert stored.note == BUNDLE_NOTE and not stored.padded


def test_context_reason_for_ready_patches() -> None:
    import pandas as pd

    assert "ready patches" in context_reason(pd.DataFrame({"x": [np.nan, np.nan]}))
    assert context_reason(pd.DataFrame({"x": [np.nan, 3.0]})) == ""
    assert json.dumps(context_reason(pd.DataFrame({"y": [1]})))  # no position column at all: a reason too
