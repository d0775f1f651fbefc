"""Item 2: bundles are untrusted input. Each hostile bundle is refused with a clear message and leaves
nothing behind; a good one still imports; a damaged imported run can be moved aside from the app and
the CLI; nothing imported before is harmed."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from mitoviz.errors import DataError
from mitoviz.results import ResultsStore
from mitoviz.results.bundles import BundleLimits
from tests.faults.conftest import TRACEBACK, assert_intact, cli, render


@pytest.fixture
def bundle(home: Path, finished: dict, tmp_path: Path) -> dict[str, bytes]:
    """The finished run exported, as {name inside the zip: bytes}."""
    path = ResultsStore(home / "results").export_bundle(finished["run_id"], tmp_path)
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _zip(files: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _with_cells(files: dict[str, bytes], top: str, **changes: object) -> dict[str, bytes]:
    cells = pd.read_parquet(io.BytesIO(files[f"{top}/cells.parquet"]))
    for column, value in changes.items():
        cells[column] = value
    out = io.BytesIO()
    cells.to_parquet(out, index=False)
    return {**files, f"{top}/cells.parquet": out.getvalue()}


def _refused(store: ResultsStore, data: bytes, match: str, limits: BundleLimits | None = None) -> None:
    from mitoviz.results.bundles import import_bundle

    before = sorted(p.name for p in store.root.iterdir())
    with pytest.raises(DataError, match=match) as info:
        import_bundle(store.root, data, limits)
    assert info.value.fix  # what to do, too
    assert sorted(p.name for p in store.root.iterdir()) == before  # nothing left behind, not even staging


def test_hostile_bundles_are_refused_and_leave_nothing(home, finished, bundle):
    store = ResultsStore(home / "results")
    top = finished["run_id"]
    _refused(store, _zip(_with_cells(bundle, top, image="/some/where/secret.png")), "points at '/some/where/secret.png'")
    _refused(store, _zip(_with_cells(bundle, top, image="../../../etc/hostname")), "outside the bundle")
    _refused(store, _zip({**bundle, f"{top}/manifest.json": b"[1, 2, 3]"}), "a JSON list, not an object")
    _refused(store, _zip({**bundle, f"{top}/manifest.json": b'{"name": "x", "status": "complete"}'}), "'spec' is missing")
    _refused(store, _zip({**bundle, f"{top}/run.py": b"import os"}), "no part of a mitoviz run")
    _refused(store, _zip({**bundle, f"{top}/patches/cells/0.jpg": b"<svg/>"}), "not a readable image")
    bad_table = pd.read_parquet(io.BytesIO(bundle[next(n for n in bundle if "/predictions/" in n)]))
    bad_table["prob"] = bad_table["prob"].astype(str)
    out = io.BytesIO()
    bad_table.to_parquet(out, index=False)
    name = next(n for n in bundle if "/predictions/" in n)
    _refused(store, _zip({**bundle, name: out.getvalue()}), "column 'prob' holds str, not float")
    _refused(store, _zip({**bundle, name: b"PAR1 not really PAR1"}), "cannot be read")
    _refused(store, _zip(bundle), "files, more than the limit", BundleLimits(max_files=3))
    assert [r.run_id for r in store.runs()] == [top]
    assert_intact(home, finished)


def test_a_zip_bomb_is_refused_before_anything_is_unpacked(home, bundle, finished, monkeypatch):
    store = ResultsStore(home / "results")
    top = finished["run_id"]
    bomb = _zip({**bundle, f"{top}/projections.parquet": b"\0" * (40 * 2**20)})  # 40 MB of zeros: ≈ 40 kB packed
    assert len(bomb) < 200_000
    small = _zip(bundle)
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, *a, **k: pytest.fail("a member was opened"))
    _refused(store, bomb, "times its packed size")
    _refused(store, small, "more than the limit of 0 MB", BundleLimits(max_bytes=1000))


def test_a_bundle_that_unpacks_to_more_than_it_declares_is_stopped_while_unpacking(home, bundle, finished):
    store = ResultsStore(home / "results")
    top = finished["run_id"]
    data = bytearray(_zip({**bundle, f"{top}/zz.parquet": b"x" * 5000}))
    at = data.rfind(f"{top}/zz.parquet".encode()) - 46 + 24  # the central directory's "uncompressed size"
    assert int.from_bytes(data[at : at + 4], "little") == 5000
    data[at : at + 4] = (100).to_bytes(4, "little")  # declares 100 bytes, holds 5000
    _refused(store, bytes(data), "damaged|more than it declares")


def test_a_good_bundle_imports_and_never_reads_paths_outside_itself(home, bundle, finished, tmp_path):
    store = ResultsStore(tmp_path / "laptop" / "results")
    run = store.import_bundle(_zip(bundle))
    images = run.cells()["image"]
    assert all(not p or p.startswith(str(run.root.resolve())) for p in images)
    pd.testing.assert_frame_equal(run.metrics(), finished["metrics"])


def test_a_damaged_imported_run_is_moved_aside_from_the_runs_page_and_from_the_cli(home, bundle, finished):
    store = ResultsStore(home / "results")
    one, two = store.import_bundle(_zip(bundle)), store.import_bundle(_zip(bundle))
    for run in (one, two):
        (run.root / "manifest.json").write_text("[]")  # damaged after import
    listing = cli("runs", "--json")
    assert listing.returncode == 0 and TRACEBACK not in listing.stderr
    assert {r["run_id"]: r["status"] for r in json.loads(listing.stdout)} == {
        finished["run_id"]: "complete", one.run_id: "damaged", two.run_id: "damaged"}
    page = render(home, ["views/runs.py"])["views/runs.py"]
    assert "a JSON list, not an object" in page.text
    button = next(b for b in page.at.button if b.label == f"Move {one.run_id} aside")
    button.click().run()
    assert not page.at.exception and not one.root.exists()
    assert list(home.glob(f"quarantine/*/results/{one.run_id}/manifest.json"))
    repaired = cli("check", "--repair")
    assert repaired.returncode == 0 and "healthy now" in repaired.stdout, repaired.stdout
    assert not two.root.exists() and [r.run_id for r in store.runs()] == [finished["run_id"]]
    assert_intact(home, finished)
