"""Fixtures: labelled cells on PNG slides and a tiny ViT in the zoo (tests/train/inputs.py makes them)."""

from __future__ import annotations

import pandas as pd
import pytest

from .inputs import register_tiny_vit, write_slides


@pytest.fixture(scope="session")
def slide_cells(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """72 cells on 6 PNG slides, half of them positive."""
    return write_slides(tmp_path_factory.mktemp("train-slides"))


@pytest.fixture(scope="session")
def tiny_vit() -> str:
    return register_tiny_vit()
