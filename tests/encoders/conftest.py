"""Encoder tests never see a real Hugging Face cache or token."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_hf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    for name in ("HF_HOME", "HF_TOKEN", "TRANSFORMERS_OFFLINE", "MITOVIZ_ALLOW_DOWNLOAD"):
        monkeypatch.delenv(name, raising=False)
    return cache
