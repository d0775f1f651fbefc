"""The results store: one folder per run, append-only parquet tables, a JSON manifest.

```
results/<run_id>/manifest.json      spec, versions, code revision, device, timings, status
                 cells.parquet      the run's CellTable (+ an integer ``cell`` index)
                 fits.parquet       one row per fit (encoder, classifier, protocol, domain, budget, seed)
                 metrics/*.parquet  one row per (fit, test domain) with every metric
                 predictions/*.parquet  one row per (fit, test cell): the positive-class probability
                 projections.parquet    2-D maps of each encoder's embeddings
                 patches/               (bundles only) patch and context images for the galleries
```
Pages read only these tables. A run never overwrites another; parts are added as fits finish,
so an interrupted run resumes without redoing finished fits.
"""

from __future__ import annotations

import io
import json
import platform
import shutil
import subprocess
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mitoviz import __version__
from mitoviz.errors import DataError, StorageError
from mitoviz.files import write_atomic, write_json_atomic

BUNDLE_SUFFIX = ".mitoviz.zip"
PATCH_PX = 128  # gallery images stored with a run: a cell patch, and its tissue context
CONTEXT_PX = 384
CONTEXT_EXTENT = 768  # level-0 px around the cell that a context image covers


def new_run_id(name: str = "") -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:24]
    return f"{stamp}-{slug + '-' if slug else ''}{uuid.uuid4().hex[:6]}"


def environment() -> dict[str, Any]:
    """Package versions, code revision and machine, for the run manifest."""
    import sklearn
    import torch

    versions = {"mitoviz": __version__, "python": platform.python_version(), "torch": torch.__version__}
    versions["scikit-learn"] = sklearn.__version__
    for name in ("timm", "numpy", "pandas", "openslide"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:
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


@dataclass
class Run:
    """One stored run."""

    root: Path

    @property
    def run_id(self) -> str:
        return self.root.name

    def manifest(self) -> dict[str, Any]:
        try:
            return json.loads((self.root / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise StorageError(f"Run {self.run_id} has no readable manifest.", "Delete the run folder.") from exc

    def update_manifest(self, **info: Any) -> None:
        manifest = self.manifest() if (self.root / "manifest.json").exists() else {}
        manifest.update(info)
        write_json_atomic(self.root / "manifest.json", manifest)

    @property
    def complete(self) -> bool:
        return self.manifest().get("status") == "complete"

    # --- writing -----------------------------------------------------------------------------
    def write_cells(self, cells: pd.DataFrame) -> None:
        _write_parquet(self.root / "cells.parquet", cells.assign(cell=np.arange(len(cells), dtype=np.int32)))

    def append(self, part: str, fits: pd.DataFrame, metrics: pd.DataFrame, predictions: pd.DataFrame) -> None:
        """Add one finished part (e.g. all fits of one encoder): predictions and metrics, then fits.

        Fits are written last: a part counts as done only when its fits file exists.
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

    def table(self, name: str) -> pd.DataFrame:
        path = self.root / f"{name}.parquet"
        return pd.read_parquet(path) if path.exists() else pd.DataFrame()

    # --- reading -----------------------------------------------------------------------------
    def _read_parts(
        self, folder: str, columns: list[str] | None = None, fit_ids: list[str] | None = None
    ) -> pd.DataFrame:
        done = self.done_parts()
        files = sorted(p for p in (self.root / folder).glob("*.parquet") if p.stem in done)
        filters = [("fit_id", "in", list(fit_ids))] if fit_ids is not None else None
        frames = [pd.read_parquet(p, columns=columns, filters=filters) for p in files]
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame(columns=columns or [])
        return pd.concat(frames, ignore_index=True)

    def cells(self) -> pd.DataFrame:
        path = self.root / "cells.parquet"
        if not path.exists():
            raise StorageError(f"Run {self.run_id} has no cell table.", "The run did not start properly; delete it.")
        return pd.read_parquet(path)

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
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            run = Run(self.root / new_run_id(name))
            run.root.mkdir()
        except OSError as exc:
            raise StorageError(
                f"Cannot create a run folder under {self.root}: {exc.strerror or exc}.",
                "Check that the mitoviz home folder is writable and the disk is not full.",
            ) from exc
        run.update_manifest(
            run_id=run.run_id, name=name, spec=spec, spec_hash=spec_hash, status="running",
            created=time.strftime("%Y-%m-%d %H:%M:%S"), **environment(),
        )
        return run

    def runs(self) -> list[Run]:
        if not self.root.is_dir():
            return []
        return [Run(p) for p in sorted(self.root.iterdir(), reverse=True) if (p / "manifest.json").is_file()]

    def get(self, run_id: str) -> Run:
        run = Run(self.root / run_id)
        if not (run.root / "manifest.json").is_file():
            known = ", ".join(r.run_id for r in self.runs()[:5]) or "none"
            raise StorageError(f"There is no run {run_id!r}.", f"Recent runs: {known}.")
        return run

    def latest_incomplete(self, spec_hash: str) -> Run | None:
        for run in self.runs():
            manifest = run.manifest()
            if manifest.get("spec_hash") == spec_hash and manifest.get("status") != "complete":
                return run
        return None

    def listing(self) -> list[dict[str, Any]]:
        rows = []
        for run in self.runs():
            try:
                m = run.manifest()
            except StorageError:
                continue
            spec = m.get("spec", {})
            rows.append(
                {
                    "run_id": run.run_id,
                    "name": m.get("name", ""),
                    "status": m.get("status", ""),
                    "created": m.get("created", ""),
                    "datasets": ", ".join(spec.get("datasets", [])),
                    "encoders": ", ".join(spec.get("encoders", [])),
                    "synthetic": bool(m.get("synthetic")),
                    "fits": int(m.get("n_fits_done", 0)),
                    "seconds": m.get("seconds"),
                    "imported": bool(m.get("imported_from")),
                }
            )
        return rows

    def delete(self, run_id: str) -> None:
        shutil.rmtree(self.get(run_id).root)

    # --- bundles -----------------------------------------------------------------------------
    def export_bundle(self, run_id: str, target: Path) -> Path:
        """One zip file with the run's tables, projections and gallery patches."""
        run = self.get(run_id)
        target = Path(target)
        if target.is_dir():
            target = target / f"{run.run_id}{BUNDLE_SUFFIX}"
        tmp = target.with_name(f".{target.name}.part")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(run.root.rglob("*")):
                if path.is_file():
                    zf.write(path, f"{run.run_id}/{path.relative_to(run.root)}")
        tmp.replace(target)
        return target

    def import_bundle(self, bundle: Path | bytes) -> Run:
        """Unpack a bundle as a new run (a run id already present gets a fresh suffix)."""
        try:
            zf = zipfile.ZipFile(io.BytesIO(bundle) if isinstance(bundle, bytes) else bundle)
        except (zipfile.BadZipFile, OSError) as exc:
            raise DataError("This file is not a mitoviz results bundle (not a zip file).", "Export it again.") from exc
        with zf:
            names = zf.namelist()
            tops = {n.split("/", 1)[0] for n in names}
            if len(tops) != 1 or f"{next(iter(tops))}/manifest.json" not in names:
                raise DataError("The bundle has no run manifest.", "Export the bundle again from mitoviz.")
            top = next(iter(tops))
            for name in names:
                if name.startswith("/") or ".." in Path(name).parts:
                    raise DataError(f"The bundle contains an unsafe path {name!r}.", "Do not import it.")
            self.root.mkdir(parents=True, exist_ok=True)
            run_id = top if not (self.root / top).exists() else f"{top}-import-{uuid.uuid4().hex[:4]}"
            staging = self.root / f".import-{uuid.uuid4().hex}"
            try:
                zf.extractall(staging)
                (staging / top).rename(self.root / run_id)
            except OSError as exc:
                raise StorageError(f"Cannot unpack the bundle: {exc}.", "Check free disk space.") from exc
            finally:
                shutil.rmtree(staging, ignore_errors=True)
        run = Run(self.root / run_id)
        run.update_manifest(run_id=run_id, imported_from=top, imported=time.strftime("%Y-%m-%d %H:%M:%S"))
        return run
