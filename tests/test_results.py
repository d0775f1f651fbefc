import io
import json
import os
import time
import zipfile

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from mitoviz.errors import DataError, StorageError
from mitoviz.results import ResultsStore, owner
from mitoviz.results.faults import Damaged


def _jpeg(shade: int = 120) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (shade, shade, shade)).save(buf, format="JPEG")
    return buf.getvalue()


def _frames(part: str):
    fits = pd.DataFrame({"fit_id": [f"{part}-1", f"{part}-2"], "method": part, "kind": "probe", "classifier": "logreg",
                         "protocol": "pooled", "train_domain": "all", "budget": "2/class", "budget_kind": "per_class",
                         "budget_value": 2.0, "seed": [0, 1]})
    metrics = pd.DataFrame({"fit_id": fits["fit_id"], "test_axis": "all", "test_domain": "all", "auroc": [0.7, 0.8]})
    preds = pd.DataFrame({"fit_id": [f"{part}-1"] * 3, "cell": np.arange(3, dtype=np.int32), "prob": np.float32(0.5)})
    return fits, metrics, preds


def test_runs_are_append_only_and_never_overwrite_each_other(tmp_path):
    store = ResultsStore(tmp_path)
    a = store.create("Demo run", {"datasets": ["d"], "encoders": ["e"]}, "h1")
    b = store.create("Demo run", {"datasets": ["d"], "encoders": ["e"]}, "h1")
    assert a.run_id != b.run_id
    a.write_cells(pd.DataFrame({"cell_id": ["x", "y", "z"], "label": ["m", "i", "m"]}))
    a.append("enc1__logreg", *_frames("enc1"))
    a.append("enc2__logreg", *_frames("enc2"))
    assert a.done_parts() == {"enc1__logreg", "enc2__logreg"}
    assert len(a.fits()) == 4 and len(a.metrics()) == 4 and len(a.predictions()) == 6
    assert list(a.cells()["cell"]) == [0, 1, 2]
    assert b.fits().empty
    assert store.latest_incomplete("h1").run_id in {a.run_id, b.run_id}
    a.update_manifest(status="complete")
    assert store.latest_incomplete("h1").run_id == b.run_id
    assert {r["run_id"] for r in store.listing()} == {a.run_id, b.run_id}
    m = a.manifest()
    assert m["versions"]["torch"] and m["code_revision"] and m["spec"]["datasets"] == ["d"]
    with pytest.raises(StorageError, match="still running") as refused:  # its process (this one) is alive
        store.delete(b.run_id)
    assert "Cancel its job" in refused.value.fix
    with pytest.raises(StorageError, match="still running"):
        store.move_aside(b.run_id)
    b.update_manifest(status="cancelled")
    store.delete(b.run_id)
    assert [r.run_id for r in store.runs()] == [a.run_id]
    with pytest.raises(StorageError, match="no run"):
        store.get(b.run_id)


def test_a_part_without_its_fits_file_does_not_count(tmp_path):
    run = ResultsStore(tmp_path).create("x", {}, "h")
    fits, metrics, preds = _frames("p")
    run.append("p", fits, metrics, preds)
    (run.root / "fits" / "p.parquet").unlink()  # as if killed between the writes
    assert run.done_parts() == set() and run.metrics().empty and run.predictions().empty


def test_bundle_round_trip(tmp_path):
    here, there = ResultsStore(tmp_path / "server"), ResultsStore(tmp_path / "laptop")
    run = here.create("bundle me", {"datasets": ["d"]}, "h")
    run.write_cells(pd.DataFrame({"cell_id": ["x"], "label": ["m"], "image": ["/data/slides/secret-case.tiff"]}))
    run.append("p", *_frames("p"))
    (run.patch_dir() / "cells").mkdir(parents=True)
    (run.patch_dir() / "cells" / "0.jpg").write_bytes(_jpeg())
    run.update_manifest(status="complete")
    bundle = here.export_bundle(run.run_id, tmp_path)
    with zipfile.ZipFile(bundle) as zf:
        assert b"/data/slides" not in zf.read(f"{run.run_id}/cells.parquet")  # no path of this machine travels
        assert "owner" not in json.loads(zf.read(f"{run.run_id}/manifest.json"))
    imported = there.import_bundle(bundle)
    assert imported.run_id == run.run_id
    pd.testing.assert_frame_equal(imported.metrics(), run.metrics())
    assert (imported.patch_dir() / "cells" / "0.jpg").read_bytes() == _jpeg()
    assert imported.cells()["image"].tolist() == [str((imported.patch_dir() / "cells" / "0.jpg").resolve())]
    assert imported.manifest()["imported_from"] == run.run_id and imported.state() == "complete"
    again = there.import_bundle(bundle.read_bytes())
    assert again.run_id != imported.run_id and len(there.runs()) == 2


def test_bad_bundles_are_refused_and_leave_nothing(tmp_path):
    store = ResultsStore(tmp_path / "r")
    with pytest.raises(DataError, match="not a zip"):
        store.import_bundle(b"hello")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("run/manifest.json", "{}")
        zf.writestr("run/../../escape.txt", "x")
    with pytest.raises(DataError, match="unsafe path"):
        store.import_bundle(evil)
    assert not store.root.exists() or list(store.root.iterdir()) == []  # no staging folder left behind
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("run/readme.txt", "x")
    with pytest.raises(DataError, match="no run manifest"):
        store.import_bundle(empty)
    assert not (tmp_path / "escape.txt").exists()
    assert store.runs() == []


def test_unwritable_results_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="Cannot create a run folder"):
        ResultsStore(blocker / "results").create("x", {}, "h")


def test_a_run_appears_whole_and_knows_its_owner(tmp_path):
    store = ResultsStore(tmp_path / "results")
    run = store.create("owned", {}, "h")
    assert [p.name for p in (tmp_path / "results").iterdir()] == [run.run_id]  # no half-made folder beside it
    manifest = run.manifest()
    assert manifest["owner"]["pid"] == os.getpid() and manifest["owner"]["host"] and manifest["heartbeat"]
    assert run.state() == "running" and store.listing()[0]["status"] == "running"
    run.update_manifest(status="complete")
    assert run.state() == "complete"


def test_a_running_run_whose_heartbeat_stopped_is_interrupted(tmp_path):
    run = ResultsStore(tmp_path / "results").create("stalled", {}, "h")
    owner.stop_heartbeat(run.root)  # as if this process could no longer write
    manifest = run.manifest()
    manifest["heartbeat"] = time.time() - 3600  # e.g. its process could not write for an hour (full disk)
    (run.root / "manifest.json").write_text(json.dumps(manifest))
    assert run.state() == "interrupted"
    row = ResultsStore(tmp_path / "results").listing()[0]
    assert row["status"] == "interrupted" and "resume" in row["problem"]


@pytest.mark.parametrize("manifest", ["[1, 2]", "{not json", '{"name": "x", "status": "complete"}',
                                      '{"name": 3, "status": "complete", "spec": {}}',
                                      '{"name": "x", "status": "exploded", "spec": {}}'])
def test_a_damaged_manifest_is_a_listed_damaged_run_not_a_traceback(tmp_path, manifest):
    store = ResultsStore(tmp_path / "results")
    good = store.create("good", {"datasets": ["d"]}, "h")
    bad = store.create("bad", {}, "h")
    (bad.root / "manifest.json").write_text(manifest)
    rows = {r["run_id"]: r for r in store.listing()}
    assert rows[good.run_id]["status"] == "running"
    assert rows[bad.run_id]["status"] == "damaged" and "manifest.json" in rows[bad.run_id]["problem"]
    with pytest.raises(Damaged, match="Move it aside"):
        bad.manifest()
    store.move_aside(bad.run_id)
    assert [r.run_id for r in store.runs()] == [good.run_id]
    assert list((tmp_path / "quarantine").glob(f"*/results/{bad.run_id}/manifest.json"))


def test_a_corrupt_table_of_a_complete_run_is_reported_as_damage(tmp_path):
    store = ResultsStore(tmp_path / "results")
    run = store.create("x", {}, "h")
    run.write_cells(pd.DataFrame({"cell_id": ["x", "y", "z"], "label": ["m", "i", "m"], "image": ""}))
    run.append("p", *_frames("p"))
    run.update_manifest(status="complete")
    metrics = run.root / "metrics" / "p.parquet"
    metrics.write_bytes(metrics.read_bytes()[:40])  # truncated, as by a crash of a non-atomic writer
    row = store.listing()[0]
    assert row["status"] == "damaged" and "metrics/p.parquet" in row["problem"]
    with pytest.raises(Damaged, match=r"metrics/p\.parquet cannot be read"):
        run.metrics()
    assert len(run.fits()) == 2  # what is intact still reads
