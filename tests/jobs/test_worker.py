"""The job system with real processes: a real worker, real SIGKILLs, real concurrent submitters."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mitoviz.embed.store import EmbeddingStore
from mitoviz.experiment.spec import ExperimentSpec
from mitoviz.jobs import job_store, submit
from mitoviz.results import ResultsStore
from tests.conftest import until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(mitoviz_home, monkeypatch):
    monkeypatch.setenv("MITOVIZ_STALE_AFTER", "4")
    monkeypatch.setenv("MITOVIZ_SHARD_SIZE", "16")
    return {**os.environ}


def _spec(small_demo, name="job", **changes) -> ExperimentSpec:
    base = {"name": name, "datasets": [str(small_demo)], "encoders": ["handcrafted"], "classifiers": ["logreg"],
            "budgets": [2, 5], "seeds": [0], "protocols": ["pooled"], "patch_size": 64, "projection": "pca",
            "on_budget_overflow": "cap"}
    return ExperimentSpec.from_dict({**base, **changes})


def _worker(env, *args, idle_exit: float = 4) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mitoviz", "worker", "--idle-exit", str(idle_exit), *args], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _job(settings, job_id):
    store = job_store(settings)
    try:
        return store.get(job_id)
    finally:
        store.close()


def _stage(job, prefix):
    return next((v for k, v in job["stages"].items() if k.startswith(prefix)), None)


def test_worker_runs_jobs_in_order_and_a_failure_harms_nothing(small_demo, settings, env, tmp_path):
    good, _ = submit(_spec(small_demo, "first"), settings, start_worker=False)
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [')
    bad, _ = submit(_spec(small_demo, "broken", datasets=[str(broken)]), settings, start_worker=False)
    after, _ = submit(_spec(small_demo, "after", seeds=[1]), settings, start_worker=False)
    worker = _worker(env)
    try:
        until(lambda: _job(settings, after["id"])["state"] in ("done", "failed"), 180)
    finally:
        worker.wait(60)
    first, failed, last = (_job(settings, j["id"]) for j in (good, bad, after))
    assert first["state"] == "done" and last["state"] == "done"
    assert first["started"] <= failed["started"] <= last["started"]
    assert failed["state"] == "failed" and "not valid JSON" in failed["error"]["what"] and failed["error"]["fix"]
    runs = ResultsStore(settings.results_dir)
    assert runs.get(first["run_id"]).complete and runs.get(last["run_id"]).complete
    assert {r.run_id for r in runs.runs()} == {first["run_id"], last["run_id"]}
    stage = _stage(first, "embed handcrafted")
    assert stage["done"] == stage["total"] == 80 and first["log"]


def test_sigkill_during_embedding_resumes_without_recomputing_finished_shards(small_demo, settings, env):
    spec = _spec(small_demo, "killed", encoders=["random-resnet50"])
    job, _ = submit(spec, settings, start_worker=False)
    worker = _worker(env)
    until(lambda: (_stage(_job(settings, job["id"]), "embed") or {}).get("done", 0) >= 32, 180, 0.05)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    entry = next(e for e, _ in EmbeddingStore(settings.embeddings_dir).entries())
    finished = [s for s in range(entry.n_shards) if entry.shard_ok(s)]
    assert 2 <= len(finished) < entry.n_shards
    written = {s: entry.shard_path(s).stat().st_mtime_ns for s in finished}
    assert _job(settings, job["id"])["state"] == "running"  # nobody noticed yet
    worker = _worker(env, idle_exit=30)  # outlives the 4 s until the dead worker's heartbeat counts as stale
    try:
        done = until(lambda: _job(settings, job["id"])["state"] == "done" and _job(settings, job["id"]), 240)
    finally:
        worker.wait(60)
    assert done["attempts"] == 2 and any("Interrupted" in line for line in done["log"])
    assert {s: entry.shard_path(s).stat().st_mtime_ns for s in finished} == written  # not recomputed
    assert entry.complete()
    resumed = ResultsStore(settings.results_dir).get(done["run_id"]).metrics()
    fresh_settings = settings.__class__(**{**settings.__dict__, "home": settings.home / "fresh"})
    from mitoviz.experiment.run import run_experiment

    fresh = run_experiment(spec, fresh_settings).metrics()
    key = ["fit_id", "test_axis", "test_domain"]
    pd.testing.assert_frame_equal(resumed.sort_values(key).reset_index(drop=True),
                                  fresh.sort_values(key).reset_index(drop=True), atol=1e-6)


def test_cancel_during_embedding_and_during_training(small_demo, settings, env):
    slow_embed, _ = submit(_spec(small_demo, "cancel-embed", encoders=["random-resnet50", "random-vits16"],
                                 patch_size=128), settings, start_worker=False)
    slow_train, _ = submit(_spec(small_demo, "cancel-train", encoders=[], seeds=[2],
                                 e2e={"arch": "resnet18", "input_size": 32, "extent": 64, "epochs": 50,
                                      "samples_per_epoch": 256, "pretrained": "none"}),
                           settings, start_worker=False)
    worker = _worker(env)
    try:
        until(lambda: (_stage(_job(settings, slow_embed["id"]), "embed") or {}).get("done", 0) >= 16, 180, 0.05)
        store = job_store(settings)
        store.cancel(slow_embed["id"])
        asked = time.time()
        until(lambda: _job(settings, slow_embed["id"])["state"] != "running", 30, 0.05)
        assert _job(settings, slow_embed["id"])["state"] == "cancelled" and time.time() - asked < 10
        until(lambda: _stage(_job(settings, slow_train["id"]), "train"), 180, 0.1)
        store.cancel(slow_train["id"])
        asked = time.time()
        until(lambda: _job(settings, slow_train["id"])["state"] != "running", 30, 0.05)
        assert _job(settings, slow_train["id"])["state"] == "cancelled" and time.time() - asked < 10
        store.close()
    finally:
        worker.wait(60)
    entry = next(e for e, _ in EmbeddingStore(settings.embeddings_dir).entries())
    assert entry.n_shards - len(entry.missing_shards()) > 0  # finished shards stay in the cache
    statuses = {r["name"]: r["status"] for r in ResultsStore(settings.results_dir).listing()}
    assert statuses == {"cancel-embed": "cancelled", "cancel-train": "cancelled"}


def test_concurrent_cli_submits_give_one_job(small_demo, settings, env, tmp_path):
    spec_file = tmp_path / "spec.toml"
    spec_file.write_text(f'name = "twice"\ndatasets = ["{small_demo}"]\nencoders = ["handcrafted"]\n'
                         'classifiers = ["logreg"]\nbudgets = [2]\nseeds = [0]\n')
    procs = [subprocess.Popen([sys.executable, "-m", "mitoviz", "submit", str(spec_file), "--no-worker"], cwd=ROOT,
                              env=env, stdout=subprocess.PIPE, text=True) for _ in range(3)]
    ids = {p.communicate(timeout=120)[0].strip() for p in procs}
    assert len(ids) == 1
    listing = subprocess.run([sys.executable, "-m", "mitoviz", "jobs", "--json"], cwd=ROOT, env=env,
                             capture_output=True, text=True, check=True)
    jobs = json.loads(listing.stdout)
    assert [j["id"] for j in jobs] == list(ids) and jobs[0]["state"] == "queued"


def test_unwritable_results_folder_fails_the_job_clearly(small_demo, settings, env):
    settings.home.joinpath("results").write_text("a file where the results folder should be")
    job, _ = submit(_spec(small_demo, "nowhere"), settings, start_worker=False)
    worker = _worker(env)
    try:
        failed = until(lambda: _job(settings, job["id"])["state"] == "failed" and _job(settings, job["id"]), 120)
    finally:
        worker.wait(60)
    assert "Cannot create a run folder" in failed["error"]["what"] and "writable" in failed["error"]["fix"]
    assert ResultsStore(settings.results_dir).listing() == []


def test_submit_starts_a_detached_worker_that_tests_and_apps_can_find(small_demo, settings, env):
    from tests.conftest import kill_workers

    job, _ = submit(_spec(small_demo, "spawned"), settings)
    try:
        pid = int((settings.jobs_dir / "worker-0.starting").read_text())  # known before the child takes its lock
        done = until(lambda: (j := _job(settings, job["id"]))["state"] in ("done", "failed") and j, 120)
        assert done["state"] == "done", done.get("error")
        assert int((settings.jobs_dir / "worker-0.lock").read_text()) == pid
    finally:
        kill_workers(settings.home)
