"""``python -m mitoviz check [--repair]``: verify a home folder, and move what is damaged aside.

It looks at everything mitoviz keeps: the job store (SQLite integrity, rows that are not JSON, every
value decoded as JSON and nothing else), the embedding cache (each written shard through the embed
store's own ``shard_problem``: checksum, and contents a float32 matrix of the right shape), the
projection cache (``allow_pickle=False``), and every run (manifest against the schema, every parquet
table read in full). The check itself only reads, through
read-only connections. With ``repair``, each damaged thing is moved into ``<home>/quarantine/<timestamp>/``
(never deleted): the next run recomputes a moved shard, a moved job store starts empty.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mitoviz.config import Settings
from mitoviz.embed.store import EmbeddingStore
from mitoviz.errors import MitovizError, StorageError
from mitoviz.jobs.jsondisk import BadRow, scan, scan_values
from mitoviz.jobs.store import job_problem, move_store_aside, quarantine_rows
from mitoviz.results import ResultsStore
from mitoviz.results.faults import Quarantine
from mitoviz.results.schema import table_problems

STAGING_STALE_S = 3600.0  # an import or a run creation left half-done this long ago was cut short


@dataclass
class Finding:
    """One damaged thing: what is wrong, and (when it can be) how to move it aside."""

    area: str
    what: str
    repair: Callable[[Quarantine], None] | None = None


@dataclass
class Report:
    home: Path
    summary: dict[str, str] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.findings


def _move(path: Path, reason: str) -> Callable[[Quarantine], None]:
    def fix(q: Quarantine) -> None:
        q.move(path, reason)

    return fix


def _move_store(root: Path, reason: str) -> Callable[[Quarantine], None]:
    def fix(q: Quarantine) -> None:
        move_store_aside(root, reason, q)

    return fix


# --- job store -------------------------------------------------------------------------------------------------
def _record_shape(key: object, value: object) -> str | None:
    return job_problem(value) if isinstance(key, str) and key.startswith("job:") else None


def check_jobs(settings: Settings, report: Report) -> None:
    root, area = settings.jobs_dir, "job store"
    db = root / "cache.db"
    if not db.exists():
        report.summary[area] = "none yet"
        return
    try:
        with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=10)) as con:
            verdict = [r[0] for r in con.execute("PRAGMA quick_check").fetchall()]
            if verdict != ["ok"]:
                why = f"SQLite integrity check failed: {'; '.join(verdict[:3])}"
                report.findings.append(Finding(area, f"{db}: {why}", _move_store(root, why)))
                return
            bad, unknown = scan(con, root)
            more, n_values = scan_values(con, root, {b.rowid for b in bad}, _record_shape)
    except sqlite3.OperationalError as exc:  # locked, unreadable, permissions: moving it would not help
        report.findings.append(Finding(area, f"{db} cannot be read ({exc}); check its permissions"))
        return
    except sqlite3.DatabaseError as exc:
        why = f"not a readable SQLite database ({exc})"
        report.findings.append(Finding(area, f"{db}: {why}", _move_store(root, why)))
        return
    rows = bad + more
    if rows or unknown:
        reasons = "; ".join(sorted({r.why for r in rows}))
        what = (f"{len(rows)} record(s) refused ({reasons})" if rows else "") + (
            f"{'; ' if rows else ''}unknown settings {unknown}" if unknown else "")

        def fix(q: Quarantine, rows: list[BadRow] = rows, unknown: list[str] = unknown) -> None:
            quarantine_rows(db, rows, unknown, q)

        report.findings.append(Finding(area, what, fix))
    report.summary[area] = f"{n_values} record(s) read, all JSON" if not rows else f"{n_values} record(s) read"


# --- embeddings ------------------------------------------------------------------------------------------------
def check_embeddings(settings: Settings, report: Report) -> None:
    store, area = EmbeddingStore(settings.embeddings_dir), "embeddings"
    sets = shards = incomplete = 0
    for folder in sorted(p for p in store.root.glob("*/*") if p.is_dir()):
        entry = store.find(folder.name)
        if entry is None and not any(folder.iterdir()):
            incomplete += 1  # made just before a write failed (a full disk): the next run fills it
            continue
        if entry is None:
            why = "its manifest.json is missing or unreadable"
            report.findings.append(Finding(area, f"{folder.relative_to(settings.home)}: {why}", _move(folder, why)))
            continue
        sets += 1
        for shard in range(entry.n_shards):
            path = entry.shard_path(shard)
            meta = path.with_suffix(".json")  # the shard's record (checksum, unreadable cells)
            if not path.exists() and not meta.exists():
                incomplete += 1
                continue
            shards += 1
            if problem := entry.shard_problem(shard):
                why = f"{problem}; moved so the next run recomputes it"

                def fix(q: Quarantine, files: tuple[Path, ...] = (path, meta), why: str = why) -> None:
                    for f in files:
                        if f.exists():
                            q.move(f, why)

                name = entry.manifest().get("encoder", entry.key[:12])
                report.findings.append(Finding(area, f"shard {shard} of {entry.key[:12]} ({name}): {problem}", fix))
    report.summary[area] = f"{sets} set(s), {shards} shard(s)" + (f", {incomplete} not computed yet" if incomplete else "")


def check_projections(settings: Settings, report: Report) -> None:
    n = 0
    for path in sorted(settings.projections_dir.glob("*.npy")):
        n += 1
        try:
            coords = np.load(path, allow_pickle=False)
            ok = coords.dtype.kind == "f" and coords.ndim == 2 and coords.shape[1] == 2
        except (OSError, ValueError, EOFError):  # EOFError: an empty file
            ok = False
        if not ok:
            why = "not a plain n×2 float array (recomputed when needed)"
            report.findings.append(Finding("projections", f"{path.name}: {why}", _move(path, why)))
    report.summary["projections"] = f"{n} map(s)"


# --- results ---------------------------------------------------------------------------------------------------
def check_results(settings: Settings, report: Report) -> None:
    store, area = ResultsStore(settings.results_dir), "results"
    states: dict[str, int] = {}
    for run in store.runs():
        try:
            manifest = run.manifest()
            problems = run.quick_problems(manifest)
            problems += [f"{p.relative_to(run.root)}: {'; '.join(found)}" for p in run.table_files()
                         if not any(str(p.relative_to(run.root)) in seen for seen in problems)
                         and (found := table_problems(p, p.relative_to(run.root)))]
        except StorageError as exc:
            problems, manifest = [exc.what], None
        if problems:
            why = "; ".join(problems)
            report.findings.append(Finding(area, f"run {run.run_id}: {why}", _move(run.root, why)))
            states["damaged"] = states.get("damaged", 0) + 1
            continue
        state = run.state(manifest)
        states[state] = states.get(state, 0) + 1
    if store.root.is_dir():
        for left in sorted([*store.root.glob(".import-*"), *store.root.glob(".new-*")]):
            if time.time() - left.stat().st_mtime > STAGING_STALE_S:
                why = "left over from an import or a run creation that was cut short"
                report.findings.append(Finding(area, f"{left.name}: {why}", _move(left, why)))
    report.summary[area] = f"{sum(states.values())} run(s)" + (
        " (" + ", ".join(f"{n} {s}" for s, n in sorted(states.items())) + ")" if states else "")


CHECKS = (check_jobs, check_embeddings, check_projections, check_results)


def check_home(settings: Settings) -> Report:
    """Look at everything under the home folder; change nothing."""
    report = Report(settings.home)
    for check in CHECKS:
        check(settings, report)
    return report


def repair(report: Report) -> tuple[Quarantine, list[str]]:
    """Move every damaged thing the report found aside; returns the quarantine and one line per finding."""
    q = Quarantine(report.home)
    lines = []
    for finding in report.findings:
        if finding.repair is None:
            lines.append(f"not repaired ({finding.area}): {finding.what}")
            continue
        try:
            finding.repair(q)
            lines.append(f"moved aside ({finding.area}): {finding.what}")
        except (OSError, sqlite3.Error, MitovizError) as exc:
            lines.append(f"could not move aside ({finding.area}): {finding.what}: {exc}")
    return q, lines
