"""Shared fixtures: every test gets its own mitoviz home folder."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

import pytest

from mitoviz.config import Settings, load_settings


@pytest.fixture(autouse=True)
def mitoviz_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point MITOVIZ_HOME at a fresh folder so no test touches ~/.mitoviz."""
    home = tmp_path / "mitoviz-home"
    home.mkdir()
    monkeypatch.setenv("MITOVIZ_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("MITOVIZ_DATA_ROOTS", "MITOVIZ_WEIGHTS", "MITOVIZ_DASK_ADDRESS", "MITOVIZ_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MITOVIZ_DEVICE", os.environ.get("MITOVIZ_TEST_DEVICE", "cpu"))
    return home


@pytest.fixture
def settings(mitoviz_home: Path) -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic MIDOG-format set (6 images, 3 scanners × 2 tumour types), made once per session."""
    from mitoviz.demo import generate_demo

    return generate_demo(tmp_path_factory.mktemp("small-demo"), seed=1, images_per_domain=1, image_size=512)


@pytest.fixture
def small_cells(small_demo: Path):
    from mitoviz.data.sources import load_dataset

    return load_dataset(str(small_demo)).cells


def kill_workers(home: Path) -> None:
    """Workers are detached from whatever started them, on purpose; tests stop them explicitly."""
    for lock in [*(home / "jobs").glob("worker-*.lock"), *(home / "jobs").glob("worker-*.starting")]:
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
            pid = int(lock.read_text().strip() or 0)
            if pid:
                os.kill(pid, signal.SIGKILL)
