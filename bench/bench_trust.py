"""What the trust statistics cost: the curves and domain pages' render time on a large synthetic store,
with and without the tables ``report.precompute.precompute`` stores at the end of a run, and the precompute itself.

The store is bench_pages.py's (100,000 cells × 6 encoders × 11 budgets × 5 seeds × 4 training sets). Baselines
measured in the same run: the home page's warm render (pages) and reading the default facet's predictions
(the bootstrap of that facet against the read it needs).

    python bench/bench_trust.py [--cells 100000] [--demo-home ~/.mitoviz]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

import bench_pages
from bench_pages import render_times, write_store

from mitoviz.report import trust
from mitoviz.report.precompute import precompute
from mitoviz.results import ResultsStore

PAGES = ["views/home.py", "views/curves.py", "views/domains.py"]


def facet_times(home: Path, run_id: str) -> tuple[float, float, float]:
    """Seconds to read the default facet's predictions, then to bootstrap it for balanced accuracy, AUROC."""
    run = ResultsStore(home / "results").get(run_id)
    fits = trust.labelled(run.fits())
    info = trust.CellInfo.of(run.cells(), "mitotic figure")
    t0 = time.perf_counter()
    predictions = run.predictions(fit_ids=fits.loc[fits["protocol"] == "pooled", "fit_id"].tolist())
    read = time.perf_counter() - t0
    out = [read]
    for metric in ("balanced_accuracy", "auroc"):
        t0 = time.perf_counter()
        trust.facet_trust(fits, predictions, info, [metric], "pooled", "all")
        out.append(time.perf_counter() - t0)
    return out[0], out[1], out[2]


def report(title: str, times: dict[str, tuple[float, float]]) -> None:
    base = times["views/home.py"][1]
    print(title)
    for page, (cold, warm) in times.items():
        print(f"  {page:18s} cold {cold:6.2f} s   warm {warm:6.2f} s   warm / home {warm / base:5.1f}x")


def main() -> None:
    import streamlit.runtime.scriptrunner_utils.script_run_context  # noqa: F401 - makes the logger silenced

    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--demo-home", type=Path, help="a home folder holding a finished demo run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        run_id = write_store(home, args.cells)
        read, ba, auroc = facet_times(home, run_id)
        print(
            f"default facet: read predictions {read:.2f} s; bootstrap balanced accuracy {ba:.2f} s "
            f"({ba / read:.1f}x the read), AUROC {auroc:.2f} s ({auroc / read:.1f}x)"
        )
        bench_pages.PAGES = PAGES  # render_times renders these: the home page (baseline) and the two pages
        report("large store, nothing stored (intervals computed when shown)", render_times(home, run_id))
        stored = Path(tmp) / "stored"
        shutil.copytree(home, stored)
        t0 = time.perf_counter()
        precompute(ResultsStore(stored / "results").get(run_id))
        print(f"precompute at the end of the run: {time.perf_counter() - t0:.0f} s")
        report("large store, tables stored by precompute", render_times(stored, run_id))
        if args.demo_home:
            demo = ResultsStore(args.demo_home / "results").runs()[0]
            report(f"demo store ({demo.run_id})", render_times(args.demo_home, demo.run_id))


if __name__ == "__main__":
    main()
