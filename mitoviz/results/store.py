"""Runs on disk: one folder per run, append-only parquet tables, a JSON manifest.

```
results/<run_id>/manifest.json      spec, versions, code revision, device, timings, status, owner
                 cells.parquet      the run's CellTable (+ an integer ``cell`` index)
                 fits/*.parquet     one row per fit (method, classifier, protocol, domain, budget, seed)
                 metrics/*.parquet  one row per (fit, test domain) with every metric
                 predictions/*.parquet  one row per (fit, test cell): the positive-class probability
                 projections.parquet    2-D maps of each encoder's embeddings
                 patches/               (bundles only) patch and context images for the galleries
```
Pages read only these tables. A run never overwrites another; parts are added as fits finish,
so an interrupted run resumes without redoing finished fits. A run whose manifest or tables cannot be
read is listed as "damaged" (never a traceback), one whose process died as "interrupted".
"""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mitoviz import __version__
from mitoviz.errors import StorageError
from mitoviz.files import write_atomic, write_json_atomic
from mitoviz.results import bundles, owner
from mitoviz.results.faults import REPAIR_HINT, Damaged, Quarantine, storage_error
from mitoviz.results.schema import manifest_problems

PATCH_PX = 128  # gallery images stored with a run: a cell patch, and its tissue context
CONTEXT_PX = 384
CONTEXT_EXTENT = 768  # level-0 px around the cell that a context image covers
PARQUET_MAGIC = b"PAR1"
DAMAGED_RUN_FIX = f"Move it aside (the button here, or on the Runs page), or run {REPAIR_HINT} Other runs are not affected."
_manifest_lock = threading.RLock()  # the runner and a run's heartbeat thread update the same manifest


def new_run_id(name: str = "") -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:24]
    return f"{stamp}-{slug + '-' if slug else ''}{uuid.uuid4().hex[:6]}"


def environment() -> dict[str, Any]:
    """Package versions, code revision and machine, for the run manifest. A module already loaded gives its own
    version (torch's names its build, e.g. +cu130); others come from package metadata, without importing them."""
    import sys
    from importlib import metadata

    versions = {"mitoviz": __version__, "python": platform.python_version()}
    for name, module, dist in (("torch", "torch", "torch"), ("scikit-learn", "sklearn", "scikit-learn"),
                               ("timm", "timm", "timm"), ("numpy", "numpy", "numpy"), ("pandas", "pandas", "pandas"),
                               ("openslide", "openslide", "openslide-python")):
        try:
            versions[name] = getattr(sys.modules.get(module), "__version__", None) or metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
            text=True, timeout=5, check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        revision = ""
    return {"versions": versions, "code_revision": revision or "unknown", "machine": platform.node()}


def _write_parquet(path: Path, frame: pd.DataFrame) -> None:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    write_atomic(path, buf.getvalue())


_footers_seen: dict[tuple[str, int, int], bool] = {}  # (path, mtime, size) → footer readable: listings re-check only changes


def footer_problem(path: Path) -> str | None:
    """A cheap check, cached per file version: the magic bytes at both ends and a readable footer (schema, row
    groups). Catches truncated, overwritten and garbled tables; damage inside a data page needs a full read."""
    try:
        st = path.stat()
        key = (str(path), st.st_mtime_ns, st.st_size)
        if key not in _footers_seen:
            if len(_footers_seen) > 100_000:
                _footers_seen.clear()
            with open(path, "rb") as fh:
                head = fh.read(4)
                fh.seek(-4, os.SEEK_END)
                ok = head == PARQUET_MAGIC and fh.read(4) == PARQUET_MAGIC
            _footers_seen[key] = ok and pq.read_metadata(path).num_columns > 0
    except (OSError, ValueError, pa.ArrowException):
        return "is not a readable parquet file (truncated, overwritten or garbled)"
    return None if _footers_seen[key] else "is not a readable parquet file (truncated, overwritten or garbled)"


@dataclass
class Run:
    """One stored run."""

    root: Path

    @property
    def run_id(self) -> str:
        return self.root.name

    def damaged(self, what: str) -> Damaged:
        return Damaged(f"Run {self.run_id} is damaged: {what}.", DAMAGED_RUN_FIX)

    def manifest(self) -> dict[str, Any]:
        """The manifest, checked against the schema; a damaged one raises ``Damaged``."""
        path = self.root / "manifest.json"
        try:
            manifest = json.loads(path.read_bytes())
        except FileNotFoundError as exc:
            raise self.damaged("it has no manifest.json") from exc
        except OSError as exc:
            raise storage_error(exc, path, "read") from exc
        except ValueError as exc:
            raise self.damaged(f"manifest.json is not valid JSON ({exc})") from exc
        if problems := manifest_problems(manifest):
            raise self.damaged("manifest.json " + "; ".join(problems))
        return manifest

    def update_manifest(self, **info: Any) -> None:
        """Merge ``info`` into the manifest. Marking the run "running" records this process as its owner
        and starts a heartbeat; any other status stops it."""
        running = info.get("status") == "running"
        if "status" in info and not running:
            owner.stop_heartbeat(self.root)  # first: the run has ended even if the disk is too full to say so
        with _manifest_lock:
            manifest = self.manifest() if (self.root / "manifest.json").exists() else {}
            manifest.update(info)
            if running:
                manifest.update(owner=owner.this_process(), heartbeat=time.time())
            write_json_atomic(self.root / "manifest.json", manifest)
        if running:
            owner.start_heartbeat(self.root, self._beat)

    def _beat(self) -> bool:
        """Refresh the heartbeat while this process owns the running run; False stops the beating."""
        with _manifest_lock:
            manifest = self.manifest()
            mine = (manifest.get("owner") or {}).get("pid") == os.getpid()
            if manifest.get("status") != "running" or not mine:
                return False
            manifest["heartbeat"] = time.time()
            write_json_atomic(self.root / "manifest.json", manifest)
        return True

    @property
    def complete(self) -> bool:
        return self.manifest().get("status") == "complete"

    def state(self, manifest: dict[str, Any] | None = None) -> str:
        """The status to show: the manifest's, except "interrupted" for a running run whose process died."""
        manifest = self.manifest() if manifest is None else manifest
        status = manifest["status"]
        if status == "running" and not owner.owner_alive(manifest):
            return "interrupted"
        return status

    def table_files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*.parquet") if p.is_file())

    def quick_problems(self, manifest: dict[str, Any]) -> list[str]:
        """Damage that shows without reading the tables: unreadable parquet footers, a complete run without cells."""
        problems = []
        if manifest.get("status") == "complete" and not (self.root / "cells.parquet").is_file():
            problems.append("cells.parquet is missing")
        problems += [f"{p.relative_to(self.root)} {problem}" for p in self.table_files() if (problem := footer_problem(p))]
        return problems

    # --- writing -----------------------------------------------------------------------------
    def write_cells(self, cells: pd.DataFrame) -> None:
        _write_parquet(self.root / "cells.parquet", cells.assign(cell=np.arange(len(cells), dtype=np.int32)))

    def append(self, part: str, fits: pd.DataFrame, metrics: pd.DataFrame, predictions: pd.DataFrame) -> None:
        """Add one finished part (e.g. all fits of one encoder): predictions and metrics, then fits.

        Fits are written last: a part counts as done only when its fits file exists. Each write is atomic,
        so a full disk or a kill leaves either the whole file or none of it.
        """
        _write_parquet(self.root / "predictions" / f"{part}.parquet", predictions)
        _write_parquet(self.root / "metrics" / f"{part}.parquet", metrics)
        _write_parquet(self.root / "fits" / f"{part}.parquet", fits)

    def done_parts(self) -> set[str]:
        return {p.stem for p in (self.root / "fits").glob("*.parquet")}

    def write_projections(self, frame: pd.DataFrame) -> None:
        _write_parquet(self.root / "projections.parquet", frame)

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        _write_parquet(self.root / f"{name}.parquet", frame)

    # --- reading -----------------------------------------------------------------------------
    def _read(self, path: Path, **kwargs: Any) -> pd.DataFrame:
        """Read one table; an unreadable file raises ``Damaged`` naming it, a refused read a StorageError."""
        try:
            return pd.read_parquet(path, **kwargs)
        except (PermissionError, FileNotFoundError) as exc:
            raise storage_error(exc, path, "read") from exc
        except (OSError, ValueError, pa.ArrowException) as exc:
            raise self.damaged(f"{path.relative_to(self.root)} cannot be read ({exc})") from exc

    def table(self, name: str) -> pd.DataFrame:
        path = self.root / f"{name}.parquet"
        return self._read(path) if path.exists() else pd.DataFrame()

    def _read_parts(
        self, folder: str, columns: list[str] | None = None, fit_ids: list[str] | None = None
    ) -> pd.DataFrame:
        done = self.done_parts()
        files = sorted(p for p in (self.root / folder).glob("*.parquet") if p.stem in done)
        filters = [("fit_id", "in", list(fit_ids))] if fit_ids is not None else None
        frames = [self._read(p, columns=columns, filters=filters) for p in files]
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame(columns=columns or [])
        return pd.concat(frames, ignore_index=True)

    def cells(self) -> pd.DataFrame:
        path = self.root / "cells.parquet"
        if not path.exists():
            raise self.damaged("it has no cell table (cells.parquet)")
        cells = self._read(path)
        if self.imported:
            cells["image"] = [self.confined_image(v) for v in cells["image"]]
        return cells

    @property
    def imported(self) -> bool:
        try:
            return bool(self.manifest().get("imported_from"))
        except StorageError:
            return False

    def confined_image(self, value: Any) -> str:
        """An imported run's image path, made absolute inside its own folder; anything else becomes ""."""
        text = str(value or "")
        target = (self.root / text).resolve()
        root = self.root.resolve()
        return str(target) if text and not Path(text).is_absolute() and root in target.parents else ""

    def fits(self) -> pd.DataFrame:
        return self._read_parts("fits")

    def metrics(self) -> pd.DataFrame:
        return self._read_parts("metrics")

    def predictions(self, columns: list[str] | None = None, fit_ids: list[str] | None = None) -> pd.DataFrame:
        """Per-cell probabilities, optionally only those of ``fit_ids`` (read with a parquet filter)."""
        return self._read_parts("predictions", columns, fit_ids)

    def projections(self) -> pd.DataFrame:
        frame = self.table("projections")
        return frame if not frame.empty else pd.DataFrame(columns=["cell", "encoder", "method", "u", "v"])

    def patch_dir(self) -> Path:
        return self.root / "patches"

    def patch_path(self, cell: int, context: bool = False) -> Path:
        """Where a bundle keeps the gallery image of a cell (its patch, or its tissue context)."""
        return self.patch_dir() / ("context" if context else "cells") / f"{cell}.jpg"

    def stamp(self) -> float:
        """Changes whenever the run gains a part or its manifest changes (a cache key for pages)."""
        paths = [self.root / "manifest.json", self.root / "fits", self.root / "projections.parquet"]
        return max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)


class ResultsStore:
    """All runs under ``<home>/results``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def create(self, name: str, spec: dict[str, Any], spec_hash: str) -> Run:
        """A new running run, owned by this process; its folder appears with the manifest already in it."""
        run_id = new_run_id(name)
        staging = self.root / f".new-{run_id}"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            staging.mkdir()
            write_json_atomic(staging / "manifest.json", {
                "run_id": run_id, "name": name, "spec": spec, "spec_hash": spec_hash, "status": "running",
                "created": time.strftime("%Y-%m-%d %H:%M:%S"), "owner": owner.this_process(),
                "heartbeat": time.time(), **environment(),
            })
            staging.rename(self.root / run_id)
        except (OSError, StorageError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            why = storage_error(exc, self.root, "write").what
            raise StorageError(f"Cannot create a run folder under {self.root}: {why}",
                               "Check that the mitoviz home folder is writable and the disk is not full.") from exc
        run = Run(self.root / run_id)
        owner.start_heartbeat(run.root, run._beat)
        return run

    def runs(self) -> list[Run]:
        """Every run folder, newest first, damaged ones included ("." folders are imports or runs being made)."""
        if not self.root.is_dir():
            return []
        try:
            entries = sorted(self.root.iterdir(), reverse=True)
        except OSError:
            return []
        markers = ("manifest.json", "cells.parquet", "fits")  # a run folder that lost its manifest still counts
        return [Run(p) for p in entries  # os.path: a folder this process may not enter is listed, not raised
                if os.path.isdir(p) and not p.name.startswith(".")
                and (any(os.path.exists(p / m) for m in markers) or not os.access(p, os.R_OK | os.X_OK))]

    def get(self, run_id: str) -> Run:
        run = Run(self.root / run_id)
        if "/" in run_id or run_id.startswith(".") or not run.root.is_dir():
            known = ", ".join(r.run_id for r in self.runs()[:5]) or "none"
            raise StorageError(f"There is no run {run_id!r}.", f"Recent runs: {known}.")
        return run

    def latest_incomplete(self, spec_hash: str) -> Run | None:
        for run in self.runs():
            try:
                manifest = run.manifest()
            except StorageError:
                continue
            if manifest.get("spec_hash") == spec_hash and manifest.get("status") != "complete":
                return run
        return None

    def entry(self, run: Run) -> dict[str, Any]:
        """One listing row; a run that cannot be read is a row with status "damaged" and the reason."""
        row: dict[str, Any] = {"run_id": run.run_id, "name": "", "status": "damaged", "created": "", "datasets": "",
                               "encoders": "", "synthetic": False, "fits": 0, "planned": 0, "seconds": None,
                               "imported": False, "spec_hash": "", "problem": ""}
        try:
            m = run.manifest()
            problems = run.quick_problems(m)
        except StorageError as exc:
            return {**row, "problem": exc.what}
        except OSError as exc:  # a folder inside it that cannot be entered
            return {**row, "problem": storage_error(exc, run.root, "read").what}
        spec = m["spec"]
        row.update(
            name=m["name"], created=m.get("created", ""), synthetic=bool(m.get("synthetic")),
            datasets=", ".join(str(d) for d in spec.get("datasets") or []),
            encoders=", ".join(str(e) for e in spec.get("encoders") or []),
            fits=int(m.get("n_fits_done", 0)), planned=int(m.get("n_fits_planned", 0)), seconds=m.get("seconds"),
            imported=bool(m.get("imported_from")), spec_hash=m.get("spec_hash", ""),
        )
        if problems:
            return {**row, "problem": f"Run {run.run_id} is damaged: " + "; ".join(problems)}
        state = run.state(m)
        if state == "interrupted":
            row["problem"] = "its process stopped before the run finished; resume it with `run --resume` or Retry"
        return {**row, "status": state}

    def listing(self) -> list[dict[str, Any]]:
        return [self.entry(run) for run in self.runs()]

    def _refuse_if_running(self, run: Run, doing: str) -> None:
        """A run whose process is alive would recreate its folders at its next part: stop its job first."""
        try:
            running = run.state() == "running"
        except (StorageError, OSError):  # damaged: nobody is writing it the way it expects
            return
        if running:
            raise StorageError(f"Run {run.run_id} is still running, so it cannot be {doing}.",
                               "Cancel its job on the Jobs page (or `python -m mitoviz cancel`), then try again.")

    def delete(self, run_id: str) -> None:
        run = self.get(run_id)
        self._refuse_if_running(run, "deleted")
        try:
            shutil.rmtree(run.root)
        except OSError as exc:
            raise storage_error(exc, run.root, "delete") from exc

    def move_aside(self, run_id: str, quarantine: Quarantine | None = None, reason: str = "") -> Path:
        """Move a (damaged) run into the quarantine folder; returns where it went."""
        run = self.get(run_id)
        self._refuse_if_running(run, "moved aside")
        owner.stop_heartbeat(run.root)
        quarantine = quarantine or Quarantine(self.root.parent)
        return quarantine.move(run.root, reason or "moved aside by the user")

    # --- bundles -----------------------------------------------------------------------------
    def export_bundle(self, run_id: str, target: Path) -> Path:
        """One zip file with the run's tables, projections and gallery patches (see ``bundles``)."""
        return bundles.export_bundle(self.get(run_id), target)

    def import_bundle(self, bundle: Path | bytes) -> Run:
        """Unpack a bundle as a new run, after checking it as untrusted input (see ``bundles``)."""
        return Run(bundles.import_bundle(self.root, bundle))

