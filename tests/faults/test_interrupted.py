"""Item 5: a run whose process died is "interrupted", not "running" for ever (in `mitoviz runs`, the Runs page
and the run picker), and so is a job whose worker died (in `mitoviz jobs` and the Jobs page)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from mitoviz.jobs.store import JobStore
from tests.faults.conftest import ROOT, assert_intact, cli, render

OWNER = """
import shutil, sys, time
from pathlib import Path
from mitoviz.results import ResultsStore
results, template = Path(sys.argv[1]), Path(sys.argv[2])
import json
spec = json.loads((template / "manifest.json").read_text())["spec"]
run = ResultsStore(results).create("killed mid-run", spec, "h-killed")
for name in ("cells.parquet", "fits", "metrics", "predictions"):
    source = template / name
    (shutil.copytree if source.is_dir() else shutil.copy)(source, run.root / name)
print(run.run_id, flush=True)
time.sleep(120)
"""


def test_a_run_whose_process_was_killed_is_interrupted_everywhere(home, finished):
    results = home / "results"
    owner = subprocess.Popen([sys.executable, "-c", OWNER, str(results), str(results / finished["run_id"])], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    try:
        run_id = owner.stdout.readline().strip()
        statuses = {r["run_id"]: r["status"] for r in json.loads(cli("runs", "--json").stdout)}
        assert statuses[run_id] == "running"  # its process is alive
    finally:
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(30)
    rows = {r["run_id"]: r for r in json.loads(cli("runs", "--json").stdout)}
    assert rows[run_id]["status"] == "interrupted" and rows[finished["run_id"]]["status"] == "complete"
    assert json.loads((results / run_id / "manifest.json").read_text())["status"] == "running"  # on disk, still
    pages = render(home, ["views/runs.py", "views/curves.py"], run=run_id)
    assert "was interrupted" in pages["views/runs.py"].text
    curves = pages["views/curves.py"]
    assert "This run was interrupted" in curves.text
    picker = curves.at.sidebar.selectbox[0]
    assert picker.value == run_id and "interrupted" in picker.format_func(run_id)
    assert_intact(home, finished)


def test_a_job_whose_worker_died_is_interrupted_in_the_cli_and_on_the_jobs_page(home, finished):
    store = JobStore(home / "jobs")
    job, _ = store.submit({"name": "orphaned"}, "h-orphan", "orphaned")
    store.claim_next("slot0-pid999999")
    store.update(job["id"], heartbeat=time.time() - 3600)
    store.close()
    jobs = {j["id"]: j["state"] for j in json.loads(cli("jobs", "--json").stdout)}
    assert jobs == {job["id"]: "interrupted", finished["job_id"]: "done"}
    page = render(home, ["views/jobs.py"])["views/jobs.py"]
    assert any(label.startswith("orphaned · interrupted") for label in page.expanders)
    assert "Cancel" in page.buttons  # an interrupted job is still pending: it resumes, or the user cancels it
