"""A real Aperio slide (CMU-1-Small-Region, CC0) read through the PatchReader, at level 0 and at a chosen µm/px."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openslide
from PIL import Image

from mitoviz.data.patches import PatchReader, PatchSettings
from mitoviz.data.sources import load_dataset

from .formats import write_cell_csv


def test_real_svs_reads_at_level_0_exactly_as_openslide(real_slide: Path) -> None:
    slide = openslide.OpenSlide(str(real_slide))
    assert slide.dimensions == (2220, 2967)
    assert float(slide.properties[openslide.PROPERTY_NAME_MPP_X]) == 0.499
    with PatchReader() as reader:
        patch = reader.read(real_slide, 1000, 1500, PatchSettings(224))
        source = reader.source(real_slide)
    assert source.mpp == 0.499
    direct = np.asarray(slide.read_region((1000 - 112, 1500 - 112), 0, (224, 224)).convert("RGB"))
    assert patch.shape == (224, 224, 3) and np.array_equal(patch, direct)
    assert patch.std() > 10  # tissue, not background


def test_real_svs_at_a_chosen_resolution_and_past_the_edge(real_slide: Path) -> None:
    slide = openslide.OpenSlide(str(real_slide))
    with PatchReader() as reader:
        coarse = reader.read(real_slide, 1000, 1500, PatchSettings(112, mpp=0.998))  # 224 level-0 px → 112
        edge = reader.read(real_slide, 2, 2, PatchSettings(64))
    expected = np.asarray(slide.read_region((888, 1388), 0, (224, 224)).convert("RGB").resize((112, 112),
                                                                                              Image.Resampling.BILINEAR))
    assert coarse.shape == (112, 112, 3)
    assert np.abs(coarse.astype(int) - expected.astype(int)).mean() < 2
    assert (edge[:20, :20] == 255).all() and edge[40:, 40:].std() > 0  # padded white outside the slide


def test_cell_table_on_the_real_slide_loads_and_reads(real_slide: Path, tmp_path: Path) -> None:
    rows = [(500, 700, 1, real_slide.name, "cmu", "train", "human breast cancer"),
            (1800, 2500, 0, real_slide.name, "cmu", "test", "human breast cancer"),
            (-20, 10, 0, real_slide.name, "cmu", "test", "human breast cancer"),  # just past the edge: kept
            (2230, 10, 0, real_slide.name, "cmu", "test", "human breast cancer"),  # 10 px past the 2220 px width
            (2400, 10, 0, real_slide.name, "cmu", "test", "human breast cancer")]  # 180 px past: skipped
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / real_slide.name).symlink_to(real_slide)
    dataset = load_dataset(write_cell_csv(tmp_path / "cells.csv", rows))
    assert len(dataset.cells) == 4 and dataset.n_adjusted == 2 and dataset.missing_images == []
    assert list(dataset.skipped.values()) == [["line 6"]]
    with PatchReader() as reader:
        pixels, ok = reader.read_cells(dataset.cells, PatchSettings(96))
    assert ok.all() and pixels.shape == (4, 96, 96, 3)
