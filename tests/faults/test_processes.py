"""Items 6 and 7: clean exits on broken pipes; no orphan workers (a worker whose home disappears or whose
job store is replaced exits) and no zombies (the spawner reaps the worker it started)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from mitoviz.config import load_settings
from mitoviz.jobs import move_store_aside
from mitoviz.jobs.store import JobStore
from mitoviz.jobs.worker import ensure_workers
from tests.conftest import kill_workers
from tests.faults.conftest import ROOT, TRACEBACK


def test_a_reader_that_closed_the_pipe_ends_the_cli_quietly():
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: every write meets EPIPE
    proc = subprocess.run([sys.executable, "-m", "mitoviz", "encoders"], cwd=ROOT, stdout=write,
                          stderr=subprocess.PIPE, text=True, timeout=120)
    os.close(write)
    assert proc.returncode == 141 and proc.stderr == "", proc.stderr
    shell = subprocess.run(f"set -o pipefail; {sys.executable} -m mitoviz encoders --json | head -1", shell=True,
                           cwd=ROOT, capture_output=True, text=True, timeout=120, executable="/bin/bash")
    assert shell.stdout.strip() == "[" and "BrokenPipeError" not in shell.stderr and TRACEBACK not in shell.stderr


def _state(pid: int) -> str | None:
    """The process's state letter (Z: a zombie), or None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _locked_by(jobs: Path) -> str:
    try:
        return (jobs / "worker-0.lock").read_text().strip()
    except OSError:
        return ""


def _beating(home: Path, pid: int) -> bool:
    store = JobStore(home / "jobs")
    try:
        return any(w.get("pid") == pid for w in store.workers())
    finally:
        store.close()


def _wait_gone(pid: int, timeout: float = 30.0) -> str | None:
    deadline = time.time() + timeout
    while time.time() < deadline and _state(pid) not in (None, "Z"):
        time.sleep(0.1)
    time.sleep(0.5)  # a reaper thread gets its moment
    return _state(pid)


def test_a_worker_whose_home_disappears_exits_and_its_spawner_leaves_no_zombie(home, monkeypatch):
    monkeypatch.setenv("MITOVIZ_STALE_AFTER", "2")  # heartbeats every 0.5 s
    settings = load_settings()
    assert ensure_workers(settings) == [0]  # the app's own spawn path
    pid = int((settings.jobs_dir / "worker-0.starting").read_text())
    try:
        assert _state(pid) not in (None, "Z")
        assert int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]) == os.getpid()  # our child
        deadline = time.time() + 60
        while _locked_by(settings.jobs_dir) != str(pid):
            assert time.time() < deadline, "the worker never took its lock"
            time.sleep(0.2)
        time.sleep(1)
        shutil.rmtree(home)  # the home folder disappears under the worker
        assert _wait_gone(pid) is None  # it exited, and this process reaped it: no <defunct> child
    finally:
        if _state(pid) not in (None, "Z"):
            os.kill(pid, 9)


def test_a_worker_whose_job_store_is_replaced_exits(home):
    worker = subprocess.Popen([sys.executable, "-m", "mitoviz", "worker", "--idle-exit", "-1"], cwd=ROOT,
                              env={**os.environ, "MITOVIZ_STALE_AFTER": "2"}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while not _beating(home, worker.pid):  # it has opened the store (a store replaced before that is its own)
            assert time.time() < deadline and worker.poll() is None, "the worker never started"
            time.sleep(0.2)
        move_store_aside(home / "jobs", "replaced by the test")
        worker.wait(30)
        assert worker.returncode == 0 and "gone or was replaced" in worker.stderr.read()
    finally:
        kill_workers(home)
        if worker.poll() is None:
            worker.kill()
