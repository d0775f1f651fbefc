"""The job system's own cost: submit-to-start latency, progress freshness, and overhead on a small job.

- Latency: submit → the worker marks the job running, with a worker already idle and with a cold start
  (the app spawning the worker process).
- Progress interval: how often the job record's progress changes while a page polls it (every 0.1 s here).
- Overhead: the same small experiment (cold embedding cache) through a warm worker (submit → done) against ``run_experiment``
  in this process (what ``python -m mitoviz run`` does); the ratio is the job system's overhead.

    python bench/bench_jobs.py
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from mitoviz.config import load_settings
from mitoviz.demo import generate_demo
from mitoviz.experiment.run import run_experiment
from mitoviz.experiment.spec import ExperimentSpec
from mitoviz.jobs import job_store, submit


def small_spec(data: Path, seed: int, patch_size: int = 96) -> ExperimentSpec:
    return ExperimentSpec.from_dict({
        "name": f"bench {seed}/{patch_size}", "datasets": [str(data)], "encoders": ["handcrafted", "random-vits16"],
        "classifiers": ["logreg"], "budgets": [2, 8], "seeds": [seed], "protocols": ["pooled"],
        "patch_size": patch_size, "projection": "pca", "on_budget_overflow": "cap",
    })


def watch(settings, job_id: str) -> tuple[dict, list[float]]:
    """Poll like a page does; return the finished record and the times progress changed."""
    changes, last = [], None
    while True:
        store = job_store(settings)
        job = store.get(job_id)
        store.close()
        progress = tuple(sorted((k, v.get("done")) for k, v in job["stages"].items()))
        if progress != last:
            changes.append(time.time())
            last = progress
        if job["state"] not in ("queued", "running"):
            return job, changes
        time.sleep(0.1)


def stop_workers(settings) -> None:
    for lock in [*settings.jobs_dir.glob("worker-*.lock"), *settings.jobs_dir.glob("worker-*.starting")]:
        pid = lock.read_text().strip()
        if pid:
            subprocess.run(["kill", pid], check=False)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = generate_demo(Path(tmp) / "data", images_per_domain=1, image_size=768)
        settings = dataclasses.replace(load_settings({"MITOVIZ_HOME": f"{tmp}/home"}), device="cpu")
        in_process = dataclasses.replace(load_settings({"MITOVIZ_HOME": f"{tmp}/cli-home"}), device="cpu")
        # The measured job embeds from a cold cache both ways; a warm-up job of other patches comes first in
        # both (imports, model code), and in the worker's case starts it.
        run_experiment(small_spec(data, 0, patch_size=64), in_process)
        t0 = time.perf_counter()
        run_experiment(small_spec(data, 0), in_process)
        cli_s = time.perf_counter() - t0

        t0 = time.time()
        job, _ = submit(small_spec(data, 0, patch_size=64), settings)  # spawns the worker: a cold start
        done, _ = watch(settings, job["id"])
        cold_latency = done["started"] - t0

        job, _ = submit(small_spec(data, 0), settings)  # the worker is now idle and warm
        t0 = job["created"]
        done, changes = watch(settings, job["id"])
        warm_latency = done["started"] - t0
        warm_total = done["finished"] - t0
        intervals = [b - a for a, b in itertools.pairwise(changes)]
        stop_workers(settings)
        print(f"submit → start: cold worker {cold_latency:.2f} s, warm worker {warm_latency:.3f} s")
        print(f"progress changes seen by a 0.1 s poll: median every {statistics.median(intervals):.2f} s "
              f"(p90 {sorted(intervals)[int(0.9 * len(intervals))]:.2f} s, {len(intervals)} changes)")
        print(f"small job ({done['spec']['name']}, cold embedding cache): in-process {cli_s:.1f} s; "
              f"submit → done through the warm worker {warm_total:.1f} s (ratio {warm_total / cli_s:.2f})")


if __name__ == "__main__":
    main()
