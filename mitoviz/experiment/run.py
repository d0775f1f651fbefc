"""The one function that runs an experiment; the CLI and the job worker both call it.

load and plan (all checks, before compute) → per encoder: embed (cached) and sweep every fit → trained
methods → maps and robustness. Each finished part is appended to the run as it lands, so pages show
results while the run goes on and ``resume`` skips what is done.
"""

from __future__ import annotations

import hashlib
import time

import pandas as pd

from mitoviz.config import Settings, resolve_device
from mitoviz.data.cells import EXTERNAL
from mitoviz.errors import Cancelled, DataError
from mitoviz.experiment.estimate import estimate_seconds
from mitoviz.experiment.plan import Plan, prepare
from mitoviz.experiment.spec import ExperimentSpec
from mitoviz.experiment.stages import (
    STATS_STAGE,
    Embedding,
    announce,
    fits_done,
    maps_stage,
    probe_stage,
    trained_stage,
)
from mitoviz.progress import Reporter
from mitoviz.report.precompute import precompute
from mitoviz.results import ResultsStore, Run


def _open_run(plan: Plan, settings: Settings, reporter: Reporter, resume: bool, run_id: str | None) -> Run:
    spec = plan.spec
    store = ResultsStore(settings.results_dir)
    run = store.get(run_id) if run_id else store.latest_incomplete(spec.spec_hash()) if resume else None
    digest = cells_digest(plan.cells)
    if run is None:
        run = store.create(spec.name, spec.to_dict(), spec.spec_hash())
        run.write_cells(plan.cells)
        run.update_manifest(cells_digest=digest)
    elif run.manifest().get("cells_digest", digest) != digest:
        raise DataError(
            f"The data changed since run {run.run_id} started (cells, images, positions or labels), so its finished "
            "parts would no longer line up with new ones.",
            "Start a new run of this experiment (without --resume; on the Jobs page, submit it again).",
        )
    else:
        reporter.log(f"Resuming run {run.run_id}: {len(run.done_parts())} parts already done")
    reporter.on_run(run.run_id)
    run.update_manifest(
        status="running", synthetic=plan.synthetic, positive_label=plan.positive, warnings=plan.warnings,
        size=plan.size(), n_fits_planned=_planned(plan), axes=plan.axes,
        datasets=[{"name": d.name, "cells": len(d.cells), "synthetic": d.synthetic, "external": d.name in
                   spec.test_datasets, "missing_images": d.missing_images[:50],
                   "unannotated_images": len(d.unannotated_images), "notes": d.notes, **d.report()}
                  for d in plan.datasets],
    )
    return run


def cells_digest(cells: pd.DataFrame) -> str:
    """What a run's stored cell table must still be for a resume: ids, images, positions, labels, roles."""
    columns = ["cell_id", "image", "x", "y", "label", EXTERNAL]
    return hashlib.sha256(pd.util.hash_pandas_object(cells[columns], index=False).to_numpy().tobytes()).hexdigest()[:16]


def cheapest_first(plan: Plan, settings: Settings) -> list[tuple[str, str]]:
    """("probe", encoder) and ("trained", method id) steps, the cheapest first by the estimate, so the first
    results land within seconds and pages fill while the rest runs."""
    parts = estimate_seconds(plan, settings).parts
    steps = [("probe", e, parts.get(f"embed {e}", 0.0)) for e in plan.spec.encoders]
    steps += [("trained", m.method_id, parts.get(f"train {m.method_id}", 0.0)) for m in plan.spec.trained]
    return [(kind, name) for kind, name, _ in sorted(steps, key=lambda step: step[2])]


def _planned(plan: Plan) -> int:
    size = plan.size()
    return size["probe_fits"] + size["trained_fits"]


def run_experiment(
    spec: ExperimentSpec, settings: Settings, reporter: Reporter | None = None, resume: bool = False,
    run_id: str | None = None,
) -> Run:
    """Run ``spec`` and return the stored run. ``resume`` continues the latest unfinished run of it."""
    reporter = reporter or Reporter()
    started = time.monotonic()
    # probes and maps run in this process; with a Dask cluster a GPU named for its workers may not be here
    device = resolve_device("auto" if settings.dask_address and settings.device != "cpu" else settings.device)
    reporter.update("load and plan", 0, 1)
    plan = prepare(spec, settings, reporter)
    for line in plan.warnings:
        reporter.log(f"Note: {line}")
    run = _open_run(plan, settings, reporter, resume, run_id)
    run.update_manifest(device=device)
    reporter.update("load and plan", 1, 1)
    steps = cheapest_first(plan, settings)
    announce(plan, reporter, steps)
    timings: dict[str, float] = {}

    def landed() -> None:
        run.update_manifest(n_fits_done=fits_done(plan, run), timings=timings)

    try:
        embeddings: dict[str, Embedding] = {}
        for kind, name in steps:
            t0 = time.monotonic()
            if kind == "probe":
                embeddings.update(probe_stage(plan, run, name, settings, device, reporter))
            else:
                method = next(m for m in spec.trained if m.method_id == name)
                reporter.log(f"Training {name} ({method.kind}) once per fit ({len(plan.fits)} fits)")
                tuned = trained_stage(plan, run, method, settings, device, reporter, landed)
                embeddings.update({name: tuned} if tuned is not None else {})
            timings[name] = time.monotonic() - t0
            reporter.log(f"{name}: done in {timings[name]:.1f} s")
            landed()
        t0 = time.monotonic()
        reporter.log("Embedding maps and the Robustness Index")
        maps_stage(plan, run, embeddings, settings, reporter)
        timings["maps and robustness"] = time.monotonic() - t0
        t0 = time.monotonic()
        precompute(run)  # the pages' intervals and paired comparisons, so large runs open at once
        reporter.update(STATS_STAGE, 1, 1, "run")
        timings["statistics"] = time.monotonic() - t0
        reporter.log(f"Intervals and paired comparisons in {timings['statistics']:.1f} s")
    except BaseException as exc:
        run.update_manifest(status="cancelled" if isinstance(exc, Cancelled) else "failed", error=str(exc),
                            timings=timings)
        raise
    seconds, n_fits = round(time.monotonic() - started, 1), len(run.fits())
    run.update_manifest(status="complete", seconds=seconds, timings=timings, n_fits_done=n_fits,
                        finished=time.strftime("%Y-%m-%d %H:%M:%S"))
    reporter.log(f"Run {run.run_id} complete in {seconds} s: {n_fits} fits")
    return run
