"""Results bundles: a run in one zip file, exported where the data is and imported anywhere else.

An imported bundle is untrusted input. Before anything is unpacked, its names are checked against the
files a run may hold, and its declared sizes against limits (total size, file count, compression ratio:
a zip bomb is refused without being opened). While unpacking, the bytes actually written are counted
against the same limits. After unpacking (into a staging folder), the manifest and every table are
checked against the schema, the gallery images are checked to be small JPEGs, and every image path of
the cell table must lie inside the run's own folder. Only then does the run appear; a refused or
failed import leaves nothing behind.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import stat
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import pandas as pd
from PIL import Image

from mitoviz.errors import DataError
from mitoviz.files import write_json_atomic
from mitoviz.results.faults import storage_error
from mitoviz.results.schema import manifest_problems, table_problems

if TYPE_CHECKING:
    from mitoviz.results.store import Run

BUNDLE_SUFFIX = ".mitoviz.zip"
ALLOWED = re.compile(
    r"manifest\.json|[\w.+@=-]+\.parquet|(fits|metrics|predictions)/[\w.+@=-]+\.parquet|patches/(cells|context)/\d+\.jpg"
)
MAX_MANIFEST_BYTES = 16 * 2**20
MAX_IMAGE_PX = 4096
RATIO_FLOOR_BYTES = 2**20  # members smaller than this may compress as much as they like
CHUNK = 2**20


def _env_number(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


@dataclass(frozen=True)
class BundleLimits:
    """How much an imported bundle may unpack to (override with MITOVIZ_BUNDLE_MAX_MB / _MAX_FILES / _MAX_RATIO)."""

    max_bytes: int = 4 * 2**30
    max_files: int = 50_000
    max_ratio: float = 100.0

    @classmethod
    def from_env(cls) -> BundleLimits:
        return cls(int(_env_number("MITOVIZ_BUNDLE_MAX_MB", cls.max_bytes / 2**20) * 2**20),
                   int(_env_number("MITOVIZ_BUNDLE_MAX_FILES", cls.max_files)),
                   _env_number("MITOVIZ_BUNDLE_MAX_RATIO", cls.max_ratio))


def _refuse(what: str) -> DataError:
    return DataError(f"Refused this bundle: {what}.", "Do not import it; export the run again with this mitoviz.")


# --- export --------------------------------------------------------------------------------------------------
def bundle_cells(run: Run) -> pd.DataFrame:
    """The cell table as a bundle carries it: ``image`` is the cell's gallery image inside the bundle."""
    cells = run.cells()
    return cells.assign(image=[f"patches/cells/{int(c)}.jpg" for c in cells["cell"]])


def export_bundle(run: Run, target: Path) -> Path:
    """One zip file with the run's manifest, tables and gallery images. The cell table carries no image paths of
    this machine (galleries read the bundled images); the manifest keeps the spec and notes as they were."""
    target = Path(target)
    if target.is_dir():
        target = target / f"{run.run_id}{BUNDLE_SUFFIX}"
    tmp = target.with_name(f".{target.name}.part")
    cells = io.BytesIO()
    bundle_cells(run).to_parquet(cells, index=False)
    manifest = {k: v for k, v in run.manifest().items() if k not in ("owner", "heartbeat")}
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(f"{run.run_id}/manifest.json", json.dumps(manifest, indent=1, sort_keys=True, default=str))
            zf.writestr(f"{run.run_id}/cells.parquet", cells.getvalue())
            for path in sorted(run.root.rglob("*")):
                rel = path.relative_to(run.root).as_posix()
                if path.is_file() and rel not in ("manifest.json", "cells.parquet") and ALLOWED.fullmatch(rel):
                    zf.write(path, f"{run.run_id}/{rel}")
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise storage_error(exc, target, "write the bundle") from exc
    return target


# --- import --------------------------------------------------------------------------------------------------
def _members(zf: zipfile.ZipFile, limits: BundleLimits) -> tuple[str, list[zipfile.ZipInfo]]:
    """The run folder name and its files, after every check that needs no unpacking."""
    infos = zf.infolist()
    if len(infos) > limits.max_files:
        raise _refuse(f"it holds {len(infos):,} files, more than the limit of {limits.max_files:,}")
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        raise _refuse("it holds the same file name twice")
    for name in names:
        if name.startswith("/") or "\\" in name or "\0" in name or ".." in PurePosixPath(name).parts or ":" in name:
            raise _refuse(f"it contains an unsafe path {name!r}")
    tops = {n.split("/", 1)[0] for n in names}
    top = next(iter(tops)) if len(tops) == 1 else ""
    if not top or top.startswith(".") or f"{top}/manifest.json" not in names:
        raise DataError("The bundle has no run manifest (one folder with manifest.json).",
                        "Export the bundle again from mitoviz.")
    files = [i for i in infos if not i.is_dir()]
    for info in files:
        rel = info.filename[len(top) + 1 :]
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _refuse(f"{rel!r} is a symbolic link")
        if info.flag_bits & 0x1:
            raise _refuse(f"{rel!r} is encrypted")
        if not ALLOWED.fullmatch(rel):
            raise _refuse(f"it contains {rel!r}, which is no part of a mitoviz run")
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise _refuse(f"{rel!r} unpacks {info.file_size / max(info.compress_size, 1):,.0f} times its packed size "
                          f"(limit {limits.max_ratio:g}; a zip bomb?)")
    total = sum(i.file_size for i in files)
    if total > limits.max_bytes:
        raise _refuse(f"it unpacks to {total / 1e6:,.1f} MB, more than the limit of {limits.max_bytes / 1e6:,.0f} MB "
                      "(MITOVIZ_BUNDLE_MAX_MB raises it)")
    return top, files


def _unpack(zf: zipfile.ZipFile, top: str, files: list[zipfile.ZipInfo], dest: Path, limits: BundleLimits) -> None:
    """Write each member under ``dest``, counting the bytes really written against what was declared."""
    written = 0
    for info in files:
        target = dest / info.filename[len(top) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        size = 0
        with zf.open(info) as src, open(target, "xb") as out:
            while chunk := src.read(CHUNK):
                size += len(chunk)
                written += len(chunk)
                if size > info.file_size or written > limits.max_bytes:
                    raise _refuse(f"{info.filename!r} unpacks to more than it declares")
                out.write(chunk)


def _check_images(root: Path) -> None:
    for path in sorted(root.glob("patches/*/*.jpg")):
        try:
            with Image.open(path) as img:
                fmt, size = img.format, img.size
        except (OSError, Image.DecompressionBombError) as exc:
            raise _refuse(f"{path.relative_to(root)} is not a readable image ({exc})") from exc
        if fmt != "JPEG" or max(size) > MAX_IMAGE_PX:
            raise _refuse(f"{path.relative_to(root)} is a {fmt} of {size[0]}×{size[1]} px, not a gallery JPEG")


def _check_cells(root: Path) -> None:
    """Every image path of the cell table must be relative and stay inside the run folder."""
    images = pd.read_parquet(root / "cells.parquet", columns=["image"])["image"]
    inside = root.resolve()
    for value in images:
        text = "" if value is None else str(value)
        target = (root / text).resolve()
        if text and (PurePosixPath(text).is_absolute() or inside not in target.parents):
            raise _refuse(f"its cell table points at {text!r}, outside the bundle")


def check_unpacked(root: Path) -> dict[str, Any]:
    """Schema checks of an unpacked run folder; returns its manifest."""
    path = root / "manifest.json"
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        raise _refuse("its manifest.json is larger than any manifest mitoviz writes")
    try:
        manifest = json.loads(path.read_bytes())
    except ValueError as exc:
        raise _refuse(f"manifest.json is not valid JSON ({exc})") from exc
    if problems := manifest_problems(manifest):
        raise _refuse("manifest.json: " + "; ".join(problems))
    if not (root / "cells.parquet").is_file():
        raise _refuse("it has no cell table (cells.parquet)")
    for table in sorted(root.rglob("*.parquet")):
        rel = table.relative_to(root)
        if problems := table_problems(table, rel):
            raise _refuse(f"table {rel}: " + "; ".join(problems))
    _check_cells(root)
    _check_images(root)
    return manifest


def import_bundle(results: Path, bundle: Path | bytes, limits: BundleLimits | None = None) -> Path:
    """Unpack a bundle as a new run folder under ``results`` (a run id already present gets a fresh suffix)."""
    limits = limits or BundleLimits.from_env()
    try:
        zf = zipfile.ZipFile(io.BytesIO(bundle) if isinstance(bundle, bytes) else bundle)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DataError("This file is not a mitoviz results bundle (not a zip file).", "Export it again.") from exc
    staging = results / f".import-{uuid.uuid4().hex}"
    try:
        with zf:
            top, files = _members(zf, limits)
            try:
                results.mkdir(parents=True, exist_ok=True)
                staging.mkdir()
                _unpack(zf, top, files, staging, limits)
            except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
                raise _refuse(f"it is damaged ({exc})") from exc
            except OSError as exc:
                raise storage_error(exc, results, "unpack the bundle into") from exc
        manifest = check_unpacked(staging)
        run_id = top if not (results / top).exists() else f"{top}-import-{uuid.uuid4().hex[:4]}"
        manifest = {k: v for k, v in manifest.items() if k not in ("owner", "heartbeat")}  # nobody runs it here
        write_json_atomic(staging / "manifest.json", {
            **manifest, "run_id": run_id, "imported_from": top,
            "imported": time.strftime("%Y-%m-%d %H:%M:%S"),
        })
        staging.rename(results / run_id)
    except OSError as exc:
        raise storage_error(exc, results, "import the bundle into") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return results / run_id
