"""Fixtures of the fault matrix: one finished home made once, copied into each test's own home.

The template home holds one complete run (a real run of the runner on the small synthetic set), its
embedding shards and projection maps, and a finished job record that points at the run, so every
fault can be checked for "nothing finished before it was lost".
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from mitoviz.config import load_settings
from mitoviz.experiment.run import run_experiment
from mitoviz.experiment.spec import ExperimentSpec
from mitoviz.jobs.store import JobStore
from mitoviz.results import ResultsStore

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["views/home.py", "views/new_benchmark.py", "views/jobs.py", "views/curves.py", "views/domains.py",
         "views/embeddings.py", "views/failures.py", "views/runs.py"]
TRACEBACK = "Traceback (most recent call last)"


def spec_dict(small_demo: Path, name: str = "faults", **changes: object) -> dict:
    base = {"name": name, "datasets": [str(small_demo)], "encoders": ["handcrafted"], "classifiers": ["logreg"],
            "budgets": [2], "seeds": [0], "protocols": ["pooled"], "patch_size": 64, "projection": "pca",
            "on_budget_overflow": "cap"}
    return {**base, **changes}


@pytest.fixture(scope="session")
def template_home(tmp_path_factory: pytest.TempPathFactory, small_demo: Path) -> Path:
    home = tmp_path_factory.mktemp("faults-template")
    settings = load_settings({"MITOVIZ_HOME": str(home), "MITOVIZ_DEVICE": "cpu", "MITOVIZ_SHARD_SIZE": "32"})
    spec = ExperimentSpec.from_dict(spec_dict(small_demo))
    run = run_experiment(spec, settings)
    store = JobStore(settings.jobs_dir)
    job, _ = store.submit(spec.to_dict(), spec.spec_hash(), spec.name)
    store.claim_next("template-worker")
    store.update(job["id"], run_id=run.run_id)
    store.finish(job["id"], "done")
    store.close()
    return home


@pytest.fixture
def home(template_home: Path, mitoviz_home: Path) -> Path:
    """This test's home folder, holding a copy of the finished template."""
    shutil.copytree(template_home, mitoviz_home, dirs_exist_ok=True)
    return mitoviz_home


@pytest.fixture
def finished(home: Path) -> dict:
    """What was finished before the fault: the run id, its metrics, and the done job's id."""
    run = ResultsStore(home / "results").runs()[0]
    store = JobStore(home / "jobs")
    jobs = store.list()
    store.close()
    return {"run_id": run.run_id, "metrics": run.metrics(), "job_id": jobs[0]["id"]}


def assert_intact(home: Path, finished: dict) -> None:
    """The run finished before the fault still reads, with the same numbers."""
    run = ResultsStore(home / "results").get(finished["run_id"])
    assert run.state() == "complete"
    pd.testing.assert_frame_equal(run.metrics(), finished["metrics"])


@dataclass
class Page:
    """What one page showed: its text (errors, warnings, infos, successes, markdown, captions), button and
    expander labels, and the AppTest it was drawn in (live: it shows the last page drawn)."""

    text: str
    buttons: list[str]
    expanders: list[str]
    at: AppTest


def render(home: Path, pages: list[str] = PAGES, **params: str) -> dict[str, Page]:
    """Each page of the app in one AppTest session, as a user switching pages; asserts none raised."""
    os.environ["MITOVIZ_HOME"] = str(home)  # the autouse fixture's monkeypatch restores it afterwards
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    out = {}
    for page in pages:
        at.switch_page(page)
        for key, value in params.items():
            at.query_params[key] = value
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        out[page] = Page(texts(at), [b.label for b in at.button], [e.label for e in at.expander], at)
    return out


def texts(at: AppTest) -> str:
    parts = [*at.error, *at.warning, *at.info, *at.success, *at.markdown, *at.caption]
    return "\n".join(str(p.value) for p in parts)


def cli(*args: str, env: dict | None = None, timeout: float = 120, **kwargs: object) -> subprocess.CompletedProcess:
    """``python -m mitoviz ARGS`` in a real process."""
    return subprocess.run([sys.executable, "-m", "mitoviz", *args], cwd=ROOT, env=env or dict(os.environ),
                          capture_output=True, text=True, timeout=timeout, **kwargs)
