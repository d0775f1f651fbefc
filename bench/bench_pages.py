"""Time to render each page: the results pages against a large synthetic results store (and the demo store), and
the New benchmark page warm, idle and with a job running, against the home page rendered in the same conditions.

The large store is written by this script in the real results format: 100,000 cells × 6 encoders ×
11 budgets × 5 seeds × 4 training sets (pooled + 3 scanners), i.e. 1,320 fits and 26.4 M per-cell
predictions, plus a 2-D map per encoder. Each page is rendered with Streamlit's AppTest twice: cold
(first visit, the cached loaders fill) and warm (a second visit or a widget change). The baseline of
the ratio is the home page, rendered in the same run.

New benchmark (``--part start``): the demo data set is generated into a fresh home; the page is rendered cold (a
fresh Python process: imports included), then warm (a new session in a warm process, and a rerun of the same
session, as after a click), with no job and while the demo job runs in the real worker; the home page beside it
in each condition is the baseline.

    python bench/bench_pages.py [--part all|results|start] [--cells 100000] [--demo-home ~/.mitoviz]
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mitoviz.results import ResultsStore
from mitoviz.ui import pages

ROOT = Path(__file__).resolve().parents[1]
PAGES = [p.path for p in (pages.HOME, *pages.RESULTS)]
ENCODERS = ["uni", "virchow2", "h-optimus-0", "prov-gigapath", "phikon", "resnet50-imagenet"]
BUDGETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000]
SCANNERS = ["Hamamatsu XR", "Hamamatsu S360", "Aperio ScanScope CS2"]
TUMOURS = ["human breast cancer", "canine lymphoma"]


def write_store(home: Path, n_cells: int, seeds: int = 5) -> str:
    rng = np.random.default_rng(0)
    labels = np.where(rng.random(n_cells) < 0.45, "mitotic figure", "imposter")
    cells = pd.DataFrame({
        "cell_id": [f"big:{i}" for i in range(n_cells)], "dataset": "big", "image": "/nowhere/slide.tiff",
        "x": rng.uniform(0, 5000, n_cells), "y": rng.uniform(0, 5000, n_cells), "label": labels,
        "slide": [f"s{i % 400}" for i in range(n_cells)], "scanner": np.array(SCANNERS)[rng.integers(0, 3, n_cells)],
        "tumor_type": np.array(TUMOURS)[rng.integers(0, 2, n_cells)], "split": "",
        "rater_votes": "", "agreement": rng.choice([1.0, 2 / 3], n_cells),
    })
    store = ResultsStore(home / "results")
    spec = {"datasets": ["big"], "encoders": ENCODERS, "patch_size": 224}
    run = store.create("large synthetic store", spec, "bench")
    run.write_cells(cells)
    truth = labels == "mitotic figure"
    test = np.sort(rng.choice(n_cells, n_cells // 5, replace=False))
    domains = {"scanner": cells["scanner"].to_numpy()[test], "tumor_type": cells["tumor_type"].to_numpy()[test]}
    for e, encoder in enumerate(ENCODERS):
        fits, metrics, preds = [], [], []
        for protocol, train_domains in (("pooled", ["all"]), ("cross:scanner", SCANNERS)):
            for train_domain in train_domains:
                for b, budget in enumerate(BUDGETS):
                    for seed in range(seeds):
                        fit_id = hashlib.sha1(f"{encoder}{protocol}{train_domain}{budget}{seed}".encode()).hexdigest()[:12]
                        skill = 0.5 + 0.4 * (b + 1) / len(BUDGETS) * (1 - 0.1 * e)
                        prob = np.clip(np.where(truth[test], skill, 1 - skill) + rng.normal(0, 0.25, len(test)), 0, 1)
                        fits.append({"fit_id": fit_id, "method": encoder, "kind": "probe", "classifier": "linear-probe",
                                     "fit": len(fits), "protocol": protocol,
                                     "axis": "scanner" if protocol != "pooled" else "all", "train_domain": train_domain,
                                     "budget": f"{budget}/class", "budget_kind": "per_class", "budget_value": budget,
                                     "seed": seed, "n_train": 2 * budget, "n_train_positive": budget,
                                     "budget_capped": False, "n_test": len(test)})
                        preds.append(pd.DataFrame({"fit_id": fit_id, "cell": test.astype(np.int32),
                                                   "prob": prob.astype(np.float32)}))
                        correct = (prob > 0.5) == truth[test]
                        groups = [("all", "all", np.ones(len(test), bool))] + [
                            (axis, v, values == v) for axis, values in domains.items() for v in np.unique(values)]
                        for axis, domain, mask in groups:
                            acc = float(correct[mask].mean())
                            metrics.append({"fit_id": fit_id, "test_axis": axis, "test_domain": domain,
                                            "balanced_accuracy": acc, "auroc": min(1.0, acc + 0.05), "f1": acc,
                                            "accuracy": acc, "kappa": 2 * acc - 1, "ece": 0.05, "brier": 0.2,
                                            "n": int(mask.sum()), "n_pos": int(truth[test][mask].sum()),
                                            "degenerate": False})
        run.append(f"{encoder}__linear-probe", pd.DataFrame(fits), pd.DataFrame(metrics),
                   pd.concat(preds, ignore_index=True))
    maps = pd.concat([pd.DataFrame({"cell": np.arange(n_cells, dtype=np.int32), "encoder": enc, "method": "umap",
                                    "u": rng.normal(0, 1, n_cells).astype(np.float32),
                                    "v": rng.normal(0, 1, n_cells).astype(np.float32)}) for enc in ENCODERS])
    run.write_projections(maps)
    run.update_manifest(status="complete", positive_label="mitotic figure", synthetic=False)
    return run.run_id


def render_times(home: Path, run_id: str) -> dict[str, tuple[float, float]]:
    from streamlit.testing.v1 import AppTest

    os.environ["MITOVIZ_HOME"] = str(home)
    out = {}
    for page in PAGES:
        times = []
        for _ in range(2):
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
            at.switch_page(page)
            at.query_params["run"] = run_id
            t0 = time.perf_counter()
            at.run()
            times.append(time.perf_counter() - t0)
            if at.exception:
                raise RuntimeError(f"{page}: {at.exception[0].value}")
        out[page] = (times[0], times[1])
    return out


def map_times(home: Path, run_id: str, points: int = 50_000) -> tuple[float, float]:
    """Embedding maps drawing ``points`` per map: one map, then two side by side (server time per rerun)."""
    from streamlit.testing.v1 import AppTest

    os.environ["MITOVIZ_HOME"] = str(home)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.switch_page(pages.EMBEDDINGS.path)
    at.query_params["run"] = run_id
    at.run()
    t0 = time.perf_counter()
    next(s for s in at.slider if s.label == "Points drawn per map").set_value(points).run()
    one = time.perf_counter() - t0
    second = next(s for s in at.selectbox if s.label == "Side by side with")
    t0 = time.perf_counter()
    second.set_value(second.options[1]).run()
    return one, time.perf_counter() - t0


def report(title: str, times: dict[str, tuple[float, float]]) -> None:
    base = times[pages.HOME.path][1]
    print(title)
    for page, (cold, warm) in times.items():
        print(f"  {page:22s} cold {cold:6.2f} s   warm {warm:6.2f} s   warm / home {warm / base:5.1f}x")


COLD = """
import logging, sys, time
t0 = time.perf_counter()
from streamlit.testing.v1 import AppTest
logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True
at = AppTest.from_file(sys.argv[1], default_timeout=600)
at.switch_page(sys.argv[2])
at.run()
print(time.perf_counter() - t0)
"""


def _session(page: str):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.switch_page(page)
    return at


def _timed(at) -> float:
    t0 = time.perf_counter()
    at.run()
    if at.exception:
        raise RuntimeError(at.exception[0].value)
    return time.perf_counter() - t0


def warm_times(repeats: int) -> dict[str, tuple[float, float]]:
    """Per page: median of a new session's first render, and of a rerun of one session (a click)."""
    out = {}
    for page in (pages.HOME.path, pages.NEW.path):
        first = [_timed(_session(page)) for _ in range(repeats)]
        at = _session(page)
        _timed(at)
        out[page] = (statistics.median(first), statistics.median(_timed(at) for _ in range(repeats)))
    return out


def start_report(title: str, times: dict[str, tuple[float, float]]) -> None:
    home, new = times[pages.HOME.path], times[pages.NEW.path]
    print(f"  {title:22s} New benchmark {new[0]:5.2f} s (rerun {new[1]:5.2f} s) · home {home[0]:5.2f} s "
          f"(rerun {home[1]:5.2f} s) · New benchmark / home {new[0] / home[0]:4.1f}x")


def start_pages(repeats: int = 5) -> None:
    from mitoviz.config import load_settings
    from mitoviz.demo import generate_demo
    from mitoviz.experiment.spec import PRESETS
    from mitoviz.jobs import job_store, submit

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["MITOVIZ_HOME"] = str(Path(tmp) / "home")
        os.environ.setdefault("MITOVIZ_DEVICE", "cpu")
        settings = load_settings()
        generate_demo(settings.demo_dir)
        cold = {p: float(subprocess.run([sys.executable, "-c", COLD, str(ROOT / "app.py"), p], capture_output=True,
                                        text=True, check=True, env=os.environ).stdout.split()[-1])
                for p in (pages.HOME.path, pages.NEW.path)}
        print(f"New benchmark page, demo data set on disk ({os.cpu_count()} cores, medians of {repeats}):")
        print(f"  {'cold (new process)':22s} New benchmark {cold[pages.NEW.path]:5.2f} s · home "
              f"{cold[pages.HOME.path]:5.2f} s (imports included)")
        start_report("warm, idle", warm_times(repeats))
        job, _ = submit(PRESETS["demo"], settings)
        deadline = time.time() + 300
        while time.time() < deadline:
            store = job_store(settings)
            record = store.get(job["id"])
            store.close()
            if any(k.startswith("embed") and v.get("done") for k, v in record["stages"].items()):
                break
            time.sleep(0.5)
        start_report(f"warm, job {record['state']}", warm_times(repeats))
        store = job_store(settings)
        state = store.get(job["id"])["state"]
        store.cancel(job["id"])
        store.close()
        print(f"  (the demo job was {state} throughout; load average {os.getloadavg()[0]:.1f})")
        for lock in [*settings.jobs_dir.glob("worker-*.lock"), *settings.jobs_dir.glob("worker-*.starting")]:
            if pid := lock.read_text().strip():
                subprocess.run(["kill", pid], check=False)


def main() -> None:
    import streamlit.runtime.scriptrunner_utils.script_run_context  # noqa: F401 - creates the logger silenced below

    # AppTest outside a server warns about a missing ScriptRunContext on every run.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["all", "results", "start"], default="all")
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--demo-home", type=Path, help="a home folder holding a finished demo run")
    args = parser.parse_args()
    if args.part in ("all", "start"):
        start_pages()
    if args.part == "start":
        return
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_id = write_store(Path(tmp), args.cells)
        print(f"wrote the large store in {time.perf_counter() - t0:.0f} s")
        report(f"large store: {args.cells:,} cells × 6 encoders × 11 budgets × 5 seeds × 4 training sets",
               render_times(Path(tmp), run_id))
        points = min(50_000, args.cells)
        one, two = map_times(Path(tmp), run_id, points)
        print(f"  embedding maps at {points:,} points: one map {one:.2f} s, two side by side {two:.2f} s per rerun")
    if args.demo_home:
        demo = ResultsStore(args.demo_home / "results").runs()[0]
        report(f"demo store ({demo.run_id})", render_times(args.demo_home, demo.run_id))


if __name__ == "__main__":
    main()
